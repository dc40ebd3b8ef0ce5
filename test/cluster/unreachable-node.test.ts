/**
 * A direct message to a user whose node does not listen on the bus right now: the online store
 * still says the user is online there (the node is not reaped yet), but PUBLISH on the node's
 * channel reaches nobody. The sender gets NOT_AVAILABLE with its message id, never a
 * "delivered" ack for a message that went nowhere. Two causes: the node's subscriber is
 * reconnecting (its Redis link is cut), and the node was killed (kill -9) and is not reaped yet.
 */
import t from 'tap';
import { Redis } from 'ioredis';
import { eventually } from '../helpers/build.ts';
import { startCluster } from '../helpers/cluster.ts';
import { TcpProxy } from '../helpers/tcp-proxy.ts';
import { TestClient, type Frame } from '../helpers/ws-client.ts';

/** The answer to a direct message: its ack or its error, whichever comes. */
async function outcomeOf(client: TestClient, id: string): Promise<Frame> {
  return Promise.race([client.next('ack', 8000, (f) => f.id === id), client.next('error', 8000, (f) => f.ref === id)]);
}

t.test('a message to a user whose node is not subscribed gets NOT_AVAILABLE, not "delivered"', { timeout: 120_000 }, async (t) => {
  // Long enough that nobody is reaped during the test: the store keeps saying "online there".
  const cluster = await startCluster(t, ['un-a'], { NODE_DEAD_AFTER_MS: '120000' });
  if (!cluster) return;
  const redisUrl = cluster.env.REDIS_URL!;
  const proxy = await TcpProxy.start(redisUrl);
  t.teardown(() => proxy.close());
  const [a] = cluster.nodes as [(typeof cluster.nodes)[0]];
  const b = await cluster.addNode('un-b', { REDIS_URL: proxy.rewrite(redisUrl) });
  const c = await cluster.addNode('un-c');
  const redis = new Redis(redisUrl);
  t.teardown(() => redis.quit());
  const listeners = async (nodeId: string) => Number(((await redis.pubsub('NUMSUB', `${cluster.prefix}gateway:${nodeId}`)) as [string, number])[1]);

  const [alice, bob, carol] = (await Promise.all(
    [
      [a, 'alice'],
      [b, 'bob'],
      [c, 'carol'],
    ].map(async ([node, u]) => (await TestClient.open(cluster.wsUrl(node as typeof a, u as string))).client),
  )) as [TestClient, TestClient, TestClient];
  [alice, bob, carol].forEach((client) => client.startPing(200));
  // Every ack the senders ever got (the frames consumed by the assertions included).
  const acked: string[] = [];
  for (const client of [alice, bob]) client.sdk.on('frame', (f) => void (f.type === 'ack' && acked.push(String((f as Frame).id))));
  t.teardown(() => Promise.all([alice, bob, carol].map((client) => client.terminate())));
  alice.send({ type: 'message', to: 'bob', content: 'hi', id: 'm0' });
  t.same(await outcomeOf(alice, 'm0'), { type: 'ack', id: 'm0', status: 'delivered' }, 'the cluster works');
  await bob.next('message');

  await t.test("the owner's subscriber is reconnecting (its Redis link is cut)", async (t) => {
    proxy.cut();
    await eventually(async () => (await listeners('un-b')) === 0);
    alice.send({ type: 'message', to: 'bob', content: 'into the void?', id: 'm1' });
    t.match(await outcomeOf(alice, 'm1'), { type: 'error', code: 'NOT_AVAILABLE', ref: 'm1' });
    const push = await cluster.admin(a, 'POST', '/api/users/bob/messages', { content: 'server push' });
    t.equal(push.status, 503, 'the admin push is refused the same way');
    t.match((await cluster.admin(a, 'GET', '/api/online/players/bob')).body, { status: 'online', nodeId: 'un-b' }, 'bob is still online on B');

    proxy.restore();
    await eventually(async () => (await listeners('un-b')) === 1, 15_000);
    // B's subscriber is back; its command connection (which publishes B's delivery receipts)
    // reconnects on its own schedule: until then a message to bob is delivered but acked
    // `unconfirmed`. Wait until B publishes again: a message from bob to alice is delivered.
    let probe = 0;
    await eventually(async () => {
      const id = `probe${probe++}`;
      bob.send({ type: 'message', to: 'alice', content: 'are we back?', id });
      return (await outcomeOf(bob, id)).status === 'delivered';
    }, 15_000);
    alice.send({ type: 'message', to: 'bob', content: 'back', id: 'm2' });
    t.same(await outcomeOf(alice, 'm2'), { type: 'ack', id: 'm2', status: 'delivered' });
    t.match(await bob.next('message'), { content: 'back' });
    await bob.ping();
    t.same(
      bob.frames.filter((f) => f.type === 'message'),
      [],
      'the refused messages never arrived',
    );
  });

  await t.test('the owner was killed and is not reaped yet', async (t) => {
    c.child.kill('SIGKILL');
    await c.exited;
    // The kernel closed the dead process's sockets: Redis has dropped its subscription.
    await eventually(async () => (await listeners('un-c')) === 0);
    t.match((await cluster.admin(a, 'GET', '/api/online/players/carol')).body, { status: 'online', nodeId: 'un-c' }, 'not reaped: still online on C');
    alice.send({ type: 'message', to: 'carol', content: 'are you there?', id: 'm3' });
    t.match(await outcomeOf(alice, 'm3'), { type: 'error', code: 'NOT_AVAILABLE', ref: 'm3' });
    bob.send({ type: 'message', to: 'carol', content: 'from b', id: 'm4' });
    t.match(await outcomeOf(bob, 'm4'), { type: 'error', code: 'NOT_AVAILABLE', ref: 'm4' }, 'from any node');
    // The sender's connection is fine and other messages flow.
    alice.send({ type: 'message', to: 'bob', content: 'still fine', id: 'm5' });
    t.same(await outcomeOf(alice, 'm5'), { type: 'ack', id: 'm5', status: 'delivered' });
    t.same(
      acked.filter((id) => id.startsWith('m')),
      ['m0', 'm2', 'm5'],
      'the refused messages were never acked',
    );
  });
});
