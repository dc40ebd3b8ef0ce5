/**
 * Router.deliver on memory stores and a memory bus hub: the result says what became of the
 * frame. Local sessions count at once (a full send queue refuses); another node counts only once
 * it answered with a receipt (batched per origin node and event-loop turn); a node that received
 * it but never answers makes it 'unconfirmed' after the receipt timeout; a node that is not
 * listening (crashed, not reaped yet, re-subscribing) makes it 'unavailable', never 'delivered'.
 */
import t from 'tap';
import type { BusEnvelope } from '../../src/cluster/bus.ts';
import { MemoryBus, MemoryBusHub } from '../../src/stores/memory/memory-bus.ts';
import { LookupOwnerPublisher } from '../../src/cluster/owner-publisher.ts';
import { ConnectionManager } from '../../src/connection/connection-manager.ts';
import type { Session } from '../../src/connection/session.ts';
import { PendingReceipts, ReceiptBatcher } from '../../src/delivery/delivery-receipts.ts';
import { Router } from '../../src/delivery/router.ts';
import { MemoryPresenceStore } from '../../src/stores/memory/memory-presence-store.ts';
import { makeSession, ManualClock } from '../helpers/core.ts';

const RECEIPT_TIMEOUT_MS = 150;

async function setup(multiSession: boolean) {
  const clock = new ManualClock();
  const store = new MemoryPresenceStore();
  const hub = new MemoryBusHub();
  // Sessions whose send queue is full: `send` refuses them, as a full SendQueue does.
  const full = new Set<Session>();
  const send = (session: Session, frame: string) => !full.has(session) && session.send(frame);
  const receipts = new PendingReceipts({ timeoutMs: RECEIPT_TIMEOUT_MS, maxPerOwner: 3 });
  const busA = new MemoryBus(hub);
  await busA.subscribe('A', (envelope) => {
    if (envelope.message.kind === 'receipts') receipts.settle(envelope.message.receipts);
  });
  const connections = new ConnectionManager();
  const router = new Router({ nodeId: 'A', connections, owners: new LookupOwnerPublisher(store, busA), multiSession, send, receipts });

  // Node C listens but never answers (frozen, or an older version); node B is in the store but
  // not on the bus (it crashed and is not reaped yet).
  const atC: BusEnvelope[] = [];
  const busC = new MemoryBus(hub);
  await busC.subscribe('C', (envelope) => void atC.push(envelope));

  // Node D is a real peer: its router delivers to its sessions and answers with receipts.
  const connectionsD = new ConnectionManager();
  const busD = new MemoryBus(hub);
  const routerD = new Router({ nodeId: 'D', connections: connectionsD, owners: new LookupOwnerPublisher(store, busD), multiSession, send });
  const batcherD = new ReceiptBatcher(busD);
  await busD.subscribe('D', ({ origin, message }) => {
    if (message.kind !== 'deliver') return;
    const { accepted, dropped } = routerD.deliverLocal(message.userId, message.frame);
    if (message.ref !== undefined) batcherD.add(origin, message.ref, accepted, dropped);
  });

  let n = 0;
  const login = (userId: string, nodeId: string) =>
    store.login({ userId, username: userId, nodeId, candidateLogicalSessionId: `ls-${userId}`, connectionId: `c${++n}`, now: clock.now() });
  const on = async (manager: ConnectionManager, nodeId: string, userId: string) => {
    const { session, socket } = makeSession(userId, clock);
    manager.add(session);
    await login(userId, nodeId);
    return { session, socket };
  };
  const local = (userId: string) => on(connections, 'A', userId);
  const atD = (userId: string) => on(connectionsD, 'D', userId);
  const settle = () => new Promise((resolve) => setImmediate(resolve));
  return { router, receipts, login, local, atD, full, atC, settle, busC, busD, batcherD };
}

t.test('local sessions: delivered when a send queue took it, dropped when every queue was full', async (t) => {
  const { router, local, full } = await setup(false);
  const { session, socket } = await local('ann');
  t.same(await router.deliver('ann', 'one'), { status: 'delivered', sessions: 1, dropped: 0 });
  t.ok(socket.sent.includes('one'));
  full.add(session);
  t.same(await router.deliver('ann', 'two'), { status: 'dropped', sessions: 0, dropped: 1 }, 'a full queue: dropped, never delivered');
  t.notOk(socket.sent.includes('two'));
});

t.test('a message to oneself with no other session is dropped, not delivered (and not offline)', async (t) => {
  for (const multi of [false, true]) {
    const { router, local } = await setup(multi);
    const { session } = await local('solo');
    t.same(
      await router.deliver('solo', 'note to self', { exceptSessionId: session.id }),
      { status: 'dropped', sessions: 0, dropped: 0 },
      multi ? 'multi' : 'replace',
    );
  }
});

t.test('a user only on a node that is not listening: unavailable, counted as unheard', async (t) => {
  const { router, login, settle, atC, receipts } = await setup(false);
  await login('bob', 'B');
  t.equal((await router.deliver('bob', '{"type":"message"}')).status, 'unavailable');
  t.equal(router.unheard, 1);
  t.equal(router.deliveredRemote, 0);
  t.equal(receipts.size, 0, 'no receipt left waiting');
  await settle();
  t.same(atC, [], 'nothing went to a bystander node');
});

t.test('a user on a node that received it but never answers: unconfirmed after the receipt timeout', async (t) => {
  const { router, login, settle, atC, receipts } = await setup(false);
  await login('carol', 'C');
  const started = Date.now();
  t.same(await router.deliver('carol', 'frame-1'), { status: 'unconfirmed', sessions: 0, dropped: 0 });
  t.ok(Date.now() - started >= RECEIPT_TIMEOUT_MS - 20, 'waited for the receipt timeout');
  await settle();
  t.match(
    atC.map((e) => e.message),
    [{ kind: 'deliver', userId: 'carol', frame: 'frame-1', ref: String }],
    'the deliver message carries a ref to answer',
  );
  t.equal(router.deliveredRemote, 1);
  t.equal(receipts.timedOut, 1);
  t.equal(receipts.size, 0);
});

t.test('a user on a node that answers: delivered on its receipt, dropped when its queues were full', async (t) => {
  const { router, atD, full, receipts } = await setup(false);
  const { session, socket } = await atD('dora');
  t.same(await router.deliver('dora', 'hi dora'), { status: 'delivered', sessions: 1, dropped: 0 });
  t.ok(socket.sent.includes('hi dora'));
  full.add(session);
  t.same(await router.deliver('dora', 'lost'), { status: 'dropped', sessions: 0, dropped: 1 }, 'the remote queue was full: the receipt says so');
  t.equal(receipts.timedOut, 0, 'answered before the timeout');
});

t.test('an owning node that answers it has no session of the user left: offline (the caller queues it)', async (t) => {
  const { router, login, receipts } = await setup(false);
  await login('zed', 'D'); // the store still says D, but zed's session there is gone
  t.same(await router.deliver('zed', 'too late'), { status: 'offline', sessions: 0, dropped: 0 });
  t.equal(receipts.timedOut, 0, 'D answered');
});

t.test('receipts are batched: one bus message per origin node per event-loop turn', async (t) => {
  const { router, atD, busD, batcherD } = await setup(false);
  await atD('dan');
  const before = busD.published;
  const results = await Promise.all(Array.from({ length: 50 }, (_, i) => router.deliver('dan', `m${i}`)));
  t.ok(
    results.every((r) => r.status === 'delivered'),
    'all 50 delivered',
  );
  t.ok(busD.published - before <= 3, `50 receipts in ${busD.published - before} bus message(s)`);
  t.equal(batcherD.sent, busD.published - before);
});

t.test('the sender may wait for few receipts at once: over its cap, unconfirmed at once', async (t) => {
  const { router, login, receipts } = await setup(false);
  await login('carol', 'C'); // never answers: the 3 first stay pending until the timeout
  const started = Date.now();
  const waiting = Array.from({ length: 3 }, () => router.deliver('carol', 'x', { owner: 'flooder' }));
  t.same(await router.deliver('carol', 'over', { owner: 'flooder' }), { status: 'unconfirmed', sessions: 0, dropped: 0 });
  t.ok(Date.now() - started < RECEIPT_TIMEOUT_MS, 'over the cap: answered without waiting');
  t.equal(receipts.overCap, 1);
  t.equal(receipts.size, 3, 'the map did not grow past the cap');
  t.equal((await router.deliver('carol', 'another sender', { owner: 'someone-else' })).status, 'unconfirmed', 'other senders are not affected');
  await Promise.all(waiting);
  t.equal(receipts.size, 0);
});

t.test('the owning node closed its bus (shutting down): unavailable', async (t) => {
  const { router, login, busC } = await setup(false);
  await login('carol', 'C');
  await busC.close();
  t.equal((await router.deliver('carol', 'frame')).status, 'unavailable');
});

t.test('multi: sessions here and elsewhere are combined, delivered if any took it', async (t) => {
  const { router, login, local, atD, full, settle, atC } = await setup(true);
  // Node B is not listening, node D answers.
  await login('dave', 'B');
  await atD('dave');
  t.same(await router.deliver('dave', 'to-dave'), { status: 'delivered', sessions: 1, dropped: 0 }, 'D took it, B did not get it');
  t.equal(router.unheard, 1);

  // Here (full) + D (took it): delivered, one session dropped it.
  const erinHere = await local('erin');
  await atD('erin');
  full.add(erinHere.session);
  t.same(await router.deliver('erin', 'to-erin'), { status: 'delivered', sessions: 1, dropped: 1 });

  // Here (took it) + C (silent): delivered, no need to trust C.
  await local('finn');
  await login('finn', 'C');
  t.same(await router.deliver('finn', 'to-finn'), { status: 'delivered', sessions: 1, dropped: 0 });
  await settle();
  t.ok(atC.some((e) => e.message.kind === 'deliver' && e.message.userId === 'finn'));

  // Here (full) + C (silent): unconfirmed, not dropped (C may have delivered it).
  const gus = await local('gus');
  await login('gus', 'C');
  full.add(gus.session);
  t.same(await router.deliver('gus', 'to-gus'), { status: 'unconfirmed', sessions: 0, dropped: 1 });
});

t.test('echoes ask for no receipt', async (t) => {
  const { router, login, settle, atC, receipts } = await setup(false);
  await login('carol', 'C');
  t.equal((await router.deliver('carol', 'echo', { receipts: false })).status, 'unconfirmed', 'reached the node, nobody asked it to confirm');
  await settle();
  t.same(
    atC.map((e) => e.message),
    [{ kind: 'deliver', userId: 'carol', frame: 'echo' }],
    'no ref',
  );
  t.equal(receipts.size, 0);
});

t.test('nobody online: offline (the caller queues it)', async (t) => {
  const { router } = await setup(false);
  t.equal((await router.deliver('nobody', 'frame')).status, 'offline');
  t.equal(router.unheard, 0);
});
