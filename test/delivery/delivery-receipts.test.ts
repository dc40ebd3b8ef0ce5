/**
 * PendingReceipts on its own: a receipt answers a waiting delivery; a node that stalled (its
 * timer fired late) reads the receipts that came meanwhile before declaring anything
 * unconfirmed, but a node that lags all the time does not postpone its timeouts forever.
 */
import t from 'tap';
import { connect, createServer, type AddressInfo } from 'node:net';
import { PendingReceipts } from '../../src/delivery/delivery-receipts.ts';

const TIMEOUT_MS = 60;

/** Blocks the event loop, as a stalled node is. */
function stall(ms: number): void {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    // busy
  }
}

t.test('receipts before and after wait(), unknown refs ignored, unique refs', async (t) => {
  const receipts = new PendingReceipts({ timeoutMs: 5000 });
  const early = receipts.open('s1')!;
  const late = receipts.open('s1')!;
  t.not(early.ref, late.ref);
  receipts.settle([
    [early.ref, 2, 1],
    ['someone-else.1', 5, 5],
  ]);
  t.same(await early.wait(1), { accepted: 2, dropped: 1, unanswered: 0 }, 'the receipt came before the publish answered');
  const waiting = late.wait(2);
  receipts.settle([[late.ref, 1, 0]]);
  receipts.settle([[late.ref, 0, -7]]);
  t.same(await waiting, { accepted: 1, dropped: 0, unanswered: 0 }, 'two nodes answered; a negative count is ignored');
  t.equal(receipts.size, 0);
});

t.test('a stall of the node: receipts that arrived meanwhile are read first', async (t) => {
  const receipts = new PendingReceipts({ timeoutMs: TIMEOUT_MS });
  const listen = async (onData: (data: Buffer) => void) => {
    const server = createServer((socket) => socket.on('data', onData));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    t.teardown(() => server.close());
    const socket = connect((server.address() as AddressInfo).port, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    t.teardown(() => socket.destroy());
    return socket;
  };
  // Receipts travel over a socket, as they do from Redis: read in an I/O phase.
  const wire = await listen((data) => receipts.settle(JSON.parse(String(data))));
  const pending = receipts.open()!;
  const result = pending.wait(1);
  // The node stalls while handling other I/O (a burst of frames, say): the receipt that arrives
  // during the stall is read in the next I/O phase, which comes after the next timers phase.
  const busy = await listen(() => {
    wire.write(JSON.stringify([[pending.ref, 1, 0]]));
    stall(TIMEOUT_MS * 4);
  });
  busy.write('go');
  t.same(await result, { accepted: 1, dropped: 0, unanswered: 0 }, 'delivered, not unconfirmed');
  t.equal(receipts.timedOut, 0);
});

t.test('a node that never answers: unconfirmed after the timeout, even on a lagging node', async (t) => {
  const receipts = new PendingReceipts({ timeoutMs: TIMEOUT_MS });
  const pending = receipts.open()!;
  const started = Date.now();
  // Lag on every turn: each timer fires late.
  const lag = setInterval(() => stall(TIMEOUT_MS), 5);
  t.teardown(() => clearInterval(lag));
  t.same(await pending.wait(1), { accepted: 0, dropped: 0, unanswered: 1 });
  clearInterval(lag);
  t.ok(Date.now() - started < TIMEOUT_MS * 10, `ended in ${Date.now() - started} ms: one stall credited, not every lag`);
  t.equal(receipts.timedOut, 1);
});
