import t from 'tap';
import { SendQueue, type OutboundSocket, type SendQueueOptions } from '../../src/connection/send-queue.ts';

/**
 * A socket whose writes the test releases (flush) or that writes inside send() (syncAck: the
 * kernel took it at once). Success is reported with `null`, exactly as ws (through Node's write
 * callback) does. A send without a callback stays in the buffer until flushed, like any other.
 */
class FakeSocket implements OutboundSocket {
  /** Bytes buffered by someone else (ws-level pings, close frames). */
  external = 0;
  inSocket = 0;
  sent: string[] = [];
  pending: { bytes: number; cb: ((err?: Error | null) => void) | undefined }[] = [];
  syncAck = false;
  depth = 0;
  reentrantSends = 0;
  onSend?: (data: string) => void;
  /** Sends made without a callback. */
  untracked = 0;

  get bufferedAmount(): number {
    return this.external + this.inSocket;
  }

  send(data: string, cb?: (err?: Error | null) => void): void {
    if (this.depth > 0) this.reentrantSends++;
    this.depth++;
    this.sent.push(data);
    this.untracked += cb ? 0 : 1;
    this.onSend?.(data);
    if (this.syncAck) cb?.(null);
    else {
      const bytes = Buffer.byteLength(data);
      this.inSocket += bytes;
      this.pending.push({ bytes, cb });
    }
    this.depth--;
  }

  /** Writes out `n` buffered sends (all by default), in order, running their callbacks. */
  flush(n = Infinity, err?: Error): void {
    while (n-- > 0) {
      const p = this.pending.shift();
      if (!p) return;
      this.inSocket -= p.bytes;
      p.cb?.(err ?? null);
    }
  }
}

function setup(options: Partial<SendQueueOptions> = {}) {
  const socket = new FakeSocket();
  const clock = { now: 1000 };
  const drops: number[] = [];
  let slow = 0;
  const queue = new SendQueue(
    socket,
    { maxMessages: 4, maxBytes: 1000, slowConsumerDrops: 0, now: () => clock.now, ...options },
    {
      onQueueDrop: (n) => void drops.push(n),
      onSlowConsumer: () => void slow++,
    },
  );
  return { socket, clock, drops, queue, slowCount: () => slow };
}

t.test('an empty socket gets the message without a callback; its buffer tells when it is out', async (t) => {
  const { socket, queue, clock } = setup();
  t.equal(queue.oldestPendingSince(), undefined);
  socket.syncAck = true; // the kernel takes it at once: nothing pending
  t.equal(queue.push('a'), true);
  t.same(socket.sent, ['a']);
  t.equal(socket.untracked, 1, 'no callback');
  t.equal(queue.oldestPendingSince(), undefined);

  socket.syncAck = false; // this one stays in the socket's buffer
  t.equal(queue.push('b'), true);
  t.equal(socket.untracked, 2);
  t.equal(queue.depth + queue.bytes + queue.inFlight, 0, 'nothing queued or tracked');
  clock.now = 5000;
  t.equal(queue.oldestPendingSince(), 1000, 'pending since its push');
  socket.flush();
  t.equal(queue.oldestPendingSince(), undefined, 'the empty buffer says it is written out');

  t.equal(queue.push('c'), true);
  t.equal(queue.push('d'), true, 'the socket holds c: d is tracked');
  t.equal(socket.untracked, 3);
  t.equal(queue.inFlight, 1);
  socket.flush();
  t.equal(queue.inFlight, 0);
  t.equal(queue.oldestPendingSince(), undefined);
});

t.test('queues behind a busy socket and drains in order on callbacks', async (t) => {
  const { socket, queue } = setup({ writeThroughBelow: 10 });
  queue.push('x'.repeat(20)); // untracked; buffered 20 >= watermark from now on
  queue.push('b'); // handed over with a callback: a queue needs one coming to drain
  queue.push('c');
  queue.push('d');
  t.same(socket.sent, ['x'.repeat(20), 'b']);
  t.equal(queue.depth, 2);
  t.equal(queue.bytes, 2);
  socket.flush(2);
  t.same(socket.sent, ['x'.repeat(20), 'b', 'c', 'd'], 'drained once the socket caught up');
  t.equal(queue.depth, 0);
  t.equal(queue.bytes, 0);
  t.equal(queue.inFlight, 2);
});

t.test('drops on the message-count bound', async (t) => {
  const { socket, queue, drops } = setup({ maxMessages: 3, writeThroughBelow: 1 });
  const results = ['m1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7'].map((m) => queue.push(m));
  t.same(results, [true, true, true, true, true, false, false], 'two in the socket, three queued, then drops');
  t.equal(queue.depth, 3);
  t.equal(queue.dropped, 2);
  t.equal(queue.consecutiveDrops, 2);
  t.same(drops, [1, 2]);
  socket.flush(2);
  t.same(socket.sent, ['m1', 'm2', 'm3']);
  t.equal(queue.push('m8'), true, 'room again');
  t.equal(queue.consecutiveDrops, 0, 'an accepted message resets the run');
  t.equal(queue.dropped, 2);
  socket.flush();
  socket.flush();
  socket.flush();
  t.same(socket.sent, ['m1', 'm2', 'm3', 'm4', 'm5', 'm8']);
});

t.test('drops on the byte bound, counting the socket buffer', async (t) => {
  const { socket, queue } = setup({ maxBytes: 100, maxMessages: 100 });
  socket.external = 60; // e.g. a ws-level ping we did not send
  t.equal(queue.push('a'.repeat(41)), false, '60 + 41 > 100');
  t.equal(queue.push('a'.repeat(40)), true, '60 + 40 = 100 fits');
  t.equal(queue.push('b'), false, 'socket now holds 100');
  socket.flush();
  t.equal(queue.push('é'.repeat(21)), false, '42 bytes in 21 chars: measured exactly');
  t.equal(queue.push('é'.repeat(20)), true, '40 bytes');
  t.equal(queue.dropped, 3);
});

t.test('queued bytes count toward the bound', async (t) => {
  const { socket, queue } = setup({ maxBytes: 100, maxMessages: 100, writeThroughBelow: 1 });
  queue.push('a'.repeat(9)); // in the socket, untracked
  queue.push('b'); // in the socket, tracked
  queue.push('é'.repeat(25)); // queued, 50 bytes
  t.equal(queue.bytes, 50);
  t.equal(queue.push('c'.repeat(41)), false, '10 + 50 + 41 > 100');
  t.equal(queue.push('c'.repeat(40)), true, '= 100');
  t.equal(queue.bytes, 90);
  socket.flush(2);
  t.equal(queue.bytes, 40, 'bytes leave the count when handed to the socket');
  t.equal(socket.bufferedAmount, 50);
});

t.test('consecutive drops: onQueueDrop every time, onSlowConsumer exactly once', async (t) => {
  const { queue, drops, slowCount } = setup({ maxMessages: 1, writeThroughBelow: 1, slowConsumerDrops: 3 });
  queue.push('in-socket');
  queue.push('in-flight');
  queue.push('queued');
  for (let i = 0; i < 5; i++) queue.push('x');
  t.same(drops, [1, 2, 3, 4, 5]);
  t.equal(slowCount(), 1, 'fired at the third drop in a row, once');
  const again = setup({ maxMessages: 1, writeThroughBelow: 1, slowConsumerDrops: 3 });
  again.queue.push('a');
  again.queue.push('b');
  again.queue.push('c');
  again.queue.push('x');
  again.queue.push('x');
  t.equal(again.slowCount(), 0, 'two in a row is not enough');
  again.socket.flush(2);
  again.queue.push('ok');
  again.queue.push('x');
  again.queue.push('x');
  t.equal(again.slowCount(), 0, 'an accepted message restarted the count');
  again.queue.push('x');
  t.equal(again.slowCount(), 1);
  const never = setup({ maxMessages: 1, writeThroughBelow: 1, slowConsumerDrops: 0 });
  for (let i = 0; i < 100; i++) never.queue.push('x');
  t.equal(never.slowCount(), 0, 'SLOW_CONSUMER_DROPS=0 never fires');
  t.equal(never.queue.dropped, 97, 'two in the socket, one queued');
});

t.test('oldestPendingSince follows the oldest unflushed message', async (t) => {
  const { socket, queue, clock } = setup({ writeThroughBelow: 1 });
  clock.now = 1000;
  queue.push('a'); // in the socket, untracked
  clock.now = 2000;
  queue.push('b'); // in flight
  clock.now = 2500;
  queue.push('c'); // queued
  clock.now = 3000;
  t.equal(queue.oldestPendingSince(), 1000);
  socket.flush(1); // a written out, b still in the buffer
  t.equal(queue.oldestPendingSince(), 1000, 'the buffer has not been empty since a (PROTOCOL.md: "not drained")');
  socket.flush(1); // b's callback: a is out too; c handed over
  t.equal(queue.oldestPendingSince(), 2500);
  socket.flush();
  t.equal(queue.oldestPendingSince(), undefined);

  // A callback of a later send says the untracked one before it is out, whatever else is buffered.
  queue.push('d');
  clock.now = 4000;
  queue.push('e');
  socket.external = 5; // someone else's bytes (a ws ping): the buffer does not empty
  t.equal(queue.oldestPendingSince(), 3000, 'd');
  socket.flush();
  t.equal(queue.oldestPendingSince(), undefined, "e's callback: d and e are out");
});

t.test('order is preserved under random interleavings, no re-entrant send, no stall', async (t) => {
  let seed = 99;
  const rand = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 4294967296;
  for (let round = 0; round < 20; round++) {
    const { socket, queue } = setup({ maxMessages: 8, maxBytes: 400, writeThroughBelow: 64 });
    const accepted: string[] = [];
    let stalls = 0;
    for (let i = 0; i < 2000; i++) {
      const op = rand();
      if (op < 0.6) {
        const msg = `${i}:` + (rand() < 0.3 ? 'é' : 'a').repeat(Math.floor(rand() * 40));
        if (queue.push(msg)) accepted.push(msg);
      } else if (op < 0.85) socket.flush(Math.floor(rand() * 4));
      else if (op < 0.95) socket.syncAck = !socket.syncAck;
      else socket.external = rand() < 0.5 ? 0 : Math.floor(rand() * 200);
      if (queue.depth > 0 && queue.inFlight === 0) stalls++;
    }
    socket.external = 0;
    socket.flush();
    t.same(socket.sent, accepted, `round ${round}: sent in push order`);
    t.equal(socket.reentrantSends, 0);
    t.equal(stalls, 0, 'queued messages always have a callback coming');
    t.equal(queue.depth + queue.bytes + queue.inFlight, 0, 'fully drained');
  }
});

t.test('a socket that calls back inside send() drains a long queue without recursion', async (t) => {
  const n = 50_000;
  const { socket, queue } = setup({ maxMessages: n, maxBytes: 1 << 30, writeThroughBelow: 1 });
  for (let i = 0; i <= n; i++) queue.push(String(i));
  t.equal(queue.depth, n - 1, 'one untracked and one tracked in the socket');
  socket.syncAck = true;
  socket.flush(2);
  t.equal(socket.sent.length, n + 1);
  t.equal(socket.sent[n], String(n));
  t.ok(
    socket.sent.every((s, i) => s === String(i)),
    'in order',
  );
  t.equal(socket.reentrantSends, 0);
  t.equal(queue.depth + queue.inFlight + queue.bytes, 0);
});

t.test('a push from inside send() is queued and sent right after', async (t) => {
  for (const syncAck of [false, true]) {
    const { socket, queue } = setup();
    socket.syncAck = syncAck;
    let once = true;
    socket.onSend = () => {
      if (once) {
        once = false;
        queue.push('inner');
      }
    };
    queue.push('outer');
    t.same(socket.sent, ['outer', 'inner'], `syncAck=${syncAck}`);
    t.equal(socket.reentrantSends, 0);
  }
});

t.test('the arrays are compacted while the pipeline never empties', async (t) => {
  const { socket, queue } = setup({ maxMessages: 10, writeThroughBelow: 1 });
  queue.push('first');
  for (let i = 0; i < 20_000; i++) {
    queue.push(`m${i}`);
    socket.flush(1);
  }
  const internal = queue as unknown as { bulk: { slots: number }; flight: number[] };
  t.ok(internal.bulk.slots < 2100, `queued slots stay bounded (${internal.bulk.slots})`);
  t.ok(internal.flight.length < 2100, `in-flight slots stay bounded (${internal.flight.length})`);
  socket.flush();
  t.equal(socket.sent.length, 20_001);
  t.equal(socket.sent[20_000], 'm19999');
});

t.test('a send error discards the queue; later pushes are refused without counting drops', async (t) => {
  const { socket, queue, drops } = setup({ writeThroughBelow: 1 });
  queue.push('a');
  queue.push('b');
  queue.push('c');
  socket.flush(2, new Error('socket closed'));
  t.equal(queue.failed, true);
  t.equal(queue.depth, 0);
  t.equal(queue.bytes, 0);
  t.equal(queue.push('d'), false);
  t.equal(queue.dropped, 0);
  t.same(drops, []);
  t.same(socket.sent, ['a', 'b']);
  t.equal(queue.oldestPendingSince(), undefined);

  const throwing = setup();
  throwing.socket.send = () => {
    throw new Error('WebSocket is not open');
  };
  t.doesNotThrow(() => throwing.queue.push('x'));
  t.equal(throwing.queue.failed, true);
  t.equal(throwing.queue.inFlight, 0);
});

t.test('clear() drops what is queued, keeps in-flight tracking and counters', async (t) => {
  const { socket, queue } = setup({ maxMessages: 1, writeThroughBelow: 1 });
  queue.push('a');
  queue.push('b');
  queue.push('c');
  queue.push('dropped');
  queue.clear();
  t.equal(queue.depth, 0);
  t.equal(queue.bytes, 0);
  t.equal(queue.inFlight, 1);
  t.equal(queue.dropped, 1);
  socket.flush();
  t.same(socket.sent, ['a', 'b']);
  t.equal(queue.push('d'), true, 'still usable');
  t.same(socket.sent, ['a', 'b', 'd']);
});
