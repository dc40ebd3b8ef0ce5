/**
 * Router.deliver on memory stores and a memory bus hub: a remote delivery counts only when the
 * owning node received it (the bus reports its receivers); a node that is not listening (crashed,
 * not reaped yet, re-subscribing) makes it 'unavailable', never 'delivered'.
 */
import t from 'tap';
import type { BusEnvelope } from '../../src/cluster/bus.ts';
import { MemoryBus, MemoryBusHub } from '../../src/stores/memory/memory-bus.ts';
import { LookupOwnerPublisher } from '../../src/cluster/owner-publisher.ts';
import { ConnectionManager } from '../../src/connection/connection-manager.ts';
import { Router } from '../../src/delivery/router.ts';
import { MemoryPresenceStore } from '../../src/stores/memory/memory-presence-store.ts';
import { makeSession, ManualClock } from '../helpers/core.ts';

async function setup(multiSession: boolean) {
  const clock = new ManualClock();
  const store = new MemoryPresenceStore();
  const hub = new MemoryBusHub();
  const busA = new MemoryBus(hub);
  await busA.subscribe('A', () => {});
  // Node C listens; node B is in the store but not on the bus (it crashed and is not reaped yet).
  const atC: BusEnvelope[] = [];
  const busC = new MemoryBus(hub);
  await busC.subscribe('C', (envelope) => void atC.push(envelope));
  const connections = new ConnectionManager();
  const router = new Router({ nodeId: 'A', connections, owners: new LookupOwnerPublisher(store, busA), multiSession });
  let n = 0;
  const login = (userId: string, nodeId: string) =>
    store.login({ userId, username: userId, nodeId, candidateLogicalSessionId: `ls-${userId}`, connectionId: `c${++n}`, now: clock.now() });
  const local = async (userId: string) => {
    const { session, socket } = makeSession(userId, clock);
    connections.add(session);
    await login(userId, 'A');
    return socket;
  };
  const settle = () => new Promise((resolve) => setImmediate(resolve));
  return { router, login, local, atC, settle, busC };
}

t.test('a user only on a node that is not listening: unavailable, counted as unheard', async (t) => {
  const { router, login, settle, atC } = await setup(false);
  await login('bob', 'B');
  t.equal(await router.deliver('bob', '{"type":"message"}'), 'unavailable');
  t.equal(router.unheard, 1);
  t.equal(router.deliveredRemote, 0);
  await settle();
  t.same(atC, [], 'nothing went to a bystander node');
});

t.test('a user on a listening node: delivered to that node only', async (t) => {
  const { router, login, settle, atC } = await setup(false);
  await login('carol', 'C');
  t.equal(await router.deliver('carol', 'frame-1'), 'delivered');
  await settle();
  t.same(
    atC.map((e) => e.message),
    [{ kind: 'deliver', userId: 'carol', frame: 'frame-1' }],
  );
  t.equal(router.deliveredRemote, 1);
  t.equal(router.unheard, 0);
});

t.test('the owning node closed its bus (shutting down): unavailable', async (t) => {
  const { router, login, busC } = await setup(false);
  await login('carol', 'C');
  await busC.close();
  t.equal(await router.deliver('carol', 'frame'), 'unavailable');
});

t.test('multi: delivered when at least one owning node received it', async (t) => {
  const { router, login, local, settle, atC } = await setup(true);
  await login('dave', 'B');
  await login('dave', 'C');
  t.equal(await router.deliver('dave', 'to-dave'), 'delivered', 'C got it, B did not');
  t.equal(router.deliveredRemote, 1);
  t.equal(router.unheard, 1);
  await settle();
  t.same(
    atC.map((e) => e.message),
    [{ kind: 'deliver', userId: 'dave', frame: 'to-dave' }],
  );

  // A local session received it: delivered, whatever the unreachable node.
  const socket = await local('erin');
  await login('erin', 'B');
  t.equal(await router.deliver('erin', 'to-erin'), 'delivered');
  await settle();
  t.ok(socket.sent.includes('to-erin'), 'the local session got it');
  t.equal(router.unheard, 2);
});

t.test('nobody online: offline (the caller queues it)', async (t) => {
  const { router } = await setup(false);
  t.equal(await router.deliver('nobody', 'frame'), 'offline');
  t.equal(router.unheard, 0);
});
