/**
 * Cross-node scenarios every online store backend must pass with real gateway processes
 * (three-nodes.test.ts on Redis, redis-cluster.test.ts on a Redis Cluster): direct messages
 * both ways and only to the owning node, replace across nodes, REST logout of a player on
 * another node, broadcast without loops, cluster-wide listing, multi-device delivery.
 */
import type { Test } from 'tap';
import { Cluster, Redis } from 'ioredis';
import { CloseCode } from '../../src/protocol/close-codes.ts';
import { eventually, TEST_ADMIN_TOKEN } from '../helpers/build.ts';
import { startCluster, type ClusterNode, type ClusterStore, type TestCluster } from '../helpers/cluster.ts';
import { clusterNodes } from '../helpers/services.ts';
import { TestClient } from '../helpers/ws-client.ts';

/** The node's `gatehouse_bus_messages_total{direction="in"}` (envelopes its bus handed to it). */
async function busMessagesIn(node: ClusterNode): Promise<number> {
  const res = await fetch(`${node.baseUrl}/metrics`, { headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` } });
  const text = await res.text();
  if (!text.includes('# TYPE gatehouse_bus_messages_total counter')) throw new Error(`no bus counter in ${node.nodeId}'s /metrics`);
  // No sample while the count is 0.
  return Number(/^gatehouse_bus_messages_total\{direction="in"\} (\d+)$/m.exec(text)?.[1] ?? 0);
}

/**
 * Calls `seen` for every envelope on a node channel of the cluster's nodes: a pattern
 * subscription on Redis; on a Redis Cluster (sharded channels, invisible to patterns) one
 * SSUBSCRIBE per node channel, each on its own shard.
 */
async function spyOnNodeChannels(t: Test, cluster: TestCluster, seen: (channel: string, text: string) => void): Promise<void> {
  if (cluster.env.REDIS_CLUSTER_NODES) {
    const spy = new Cluster(clusterNodes(cluster.env.REDIS_CLUSTER_NODES), { shardedSubscribers: true });
    t.teardown(() => spy.quit());
    spy.on('smessage', seen);
    for (const node of cluster.nodes) await spy.ssubscribe(`${cluster.prefix}gateway:${node.nodeId}`);
    return;
  }
  const spy = new Redis(cluster.env.REDIS_URL!);
  t.teardown(() => spy.quit());
  spy.on('pmessage', (_pattern: string, channel: string, text: string) => seen(channel, text));
  await spy.psubscribe(`${cluster.prefix}gateway:*`);
}

export async function crossNodeScenarios(t: Test, store: ClusterStore): Promise<void> {
  const cluster = await startCluster(t, ['node-a', 'node-b', 'node-c'], {}, store);
  if (!cluster) return;
  const [a, b, c] = cluster.nodes as [(typeof cluster.nodes)[0], (typeof cluster.nodes)[0], (typeof cluster.nodes)[0]];

  await t.test('direct messages cross nodes both ways', async (t) => {
    const { client: alice } = await TestClient.open(cluster.wsUrl(a, 'alice'));
    const { client: carol } = await TestClient.open(cluster.wsUrl(c, 'carol'));
    alice.send({ type: 'message', to: 'carol', content: { hello: 'from a' }, id: 'm1' });
    t.match(await carol.next('message'), { from: 'alice', content: { hello: 'from a' } });
    t.same(await alice.next('ack'), { type: 'ack', id: 'm1', status: 'delivered' });
    carol.send({ type: 'message', to: 'alice', content: 'back from c', id: 'm2' });
    t.match(await alice.next('message'), { from: 'carol', content: 'back from c' });
    t.same(await carol.next('ack'), { type: 'ack', id: 'm2', status: 'delivered' });
    alice.send({ type: 'message', to: 'nobody-anywhere', content: 1, id: 'm3' });
    t.match(await alice.next('error'), { type: 'error', code: 'UNKNOWN_USER', ref: 'm3' }, 'offline and never logged in: nothing queued');
    await Promise.all([alice.close(), carol.close()]);
  });

  await t.test('a direct message goes to the owning node only, never to a bystander node', async (t) => {
    // A separate client sees every node-to-node message of this cluster, on whichever channel.
    const seen: string[] = [];
    await spyOnNodeChannels(t, cluster, (channel, text) => {
      const { m } = JSON.parse(text) as { m: { kind: string; userId?: string } };
      if (m.kind === 'deliver' && m.userId?.startsWith('route-')) seen.push(`${channel.slice(cluster.prefix.length)} ${m.userId}`);
    });
    const [sender, owner, bystander] = (await Promise.all(
      [
        [a, 'route-a'],
        [b, 'route-b'],
        [c, 'route-c'],
      ].map(async ([node, u]) => (await TestClient.open(cluster.wsUrl(node as ClusterNode, u as string))).client),
    )) as [TestClient, TestClient, TestClient];
    // Closed even when an assertion throws: the later subtests count the sessions of the cluster.
    t.teardown(() => Promise.all([sender, owner, bystander].map((client) => client.close())));
    const inBefore = { b: await busMessagesIn(b), c: await busMessagesIn(c) };

    sender.send({ type: 'message', to: 'route-b', content: 'for b only', id: 'r1' });
    t.match(await owner.next('message'), { from: 'route-a', content: 'for b only' });
    t.same(await sender.next('ack'), { type: 'ack', id: 'r1', status: 'delivered' });
    // A barrier: the next message leaves node A on the same Redis connection, so once it is seen
    // on C's channel, anything A published before it has been seen too.
    sender.send({ type: 'message', to: 'route-c', content: 'barrier', id: 'r2' });
    t.match(await bystander.next('message'), { content: 'barrier' });
    await eventually(() => seen.includes('gateway:node-c route-c'));
    t.same(seen, ['gateway:node-b route-b', 'gateway:node-c route-c'], "one publish on the owner's channel, nothing on C's for route-b");
    t.equal((await busMessagesIn(c)) - inBefore.c, 1, 'node C received only the barrier over the bus');
    t.equal((await busMessagesIn(b)) - inBefore.b, 1, 'node B received the message once');
    t.equal(bystander.frames.filter((f) => f.type === 'message').length, 0, 'nothing else reached route-c');
  });

  await t.test('replace across nodes: the older session closes with 4001, no logout', async (t) => {
    const { client: first } = await TestClient.open(cluster.wsUrl(a, 'roamer'));
    first.startPing(200);
    const { client: second, connected } = await TestClient.open(cluster.wsUrl(b, 'roamer'));
    second.startPing(200);
    t.equal((await first.closed).code, CloseCode.REPLACED);
    t.equal(connected.nodeId, 'node-b');
    const player = await eventually(async () => {
      const r = await cluster.admin(c, 'GET', '/api/online/players/roamer');
      return r.body?.sessions === 1 ? r.body : undefined;
    });
    t.equal(player.status, 'online');
    t.equal(player.nodeId, 'node-b');
    t.equal(a.logs.filter((l) => l.msg === 'user logged out' && l.userId === 'roamer').length, 0, 'no logout on node-a');
    await second.close();
    await eventually(async () => (await cluster.admin(c, 'GET', '/api/online/players/roamer')).body?.status === 'offline');
    // The store says offline before node B's log line has crossed its stdout pipe to this process.
    const logoutLines = () => [a, b, c].flatMap((n) => n.logs.filter((l) => l.msg === 'user logged out' && l.userId === 'roamer'));
    await eventually(() => logoutLines().length > 0);
    t.equal(logoutLines().length, 1, 'one logout in the whole cluster');
  });

  await t.test('REST logout on node A of a player on node C', async (t) => {
    const { client } = await TestClient.open(cluster.wsUrl(c, 'kicked-player'));
    client.startPing(200);
    const res = await cluster.admin(a, 'POST', '/api/online/logout', { userId: 'kicked-player' });
    t.equal(res.status, 200);
    t.same(res.body, { loggedOut: true });
    t.equal((await client.closed).code, CloseCode.LOGGED_OUT, 'closed 4002 on node C');
    const again = await cluster.admin(b, 'POST', '/api/online/logout', { userId: 'kicked-player' });
    t.same(again.body, { loggedOut: false }, 'idempotent from any node');
    const player = (await cluster.admin(b, 'GET', '/api/online/players/kicked-player')).body;
    t.equal(player.status, 'offline');
    t.ok(player.lastSpiritGainTime ?? player.logoutTime, 'stamped');
  });

  await t.test('a broadcast reaches every session of the cluster exactly once (no loops)', async (t) => {
    const sessions = await Promise.all(
      ['b1', 'b2', 'b3', 'b4', 'b5', 'b6'].map(async (u, i) => (await TestClient.open(cluster.wsUrl(cluster.nodes[i % 3]!, u))).client),
    );
    const res = await cluster.admin(b, 'POST', '/api/broadcast', { content: { event: 'season-start' } });
    t.equal(res.status, 200);
    t.equal(res.body.localSessions, 2, 'node-b delivered to its own two sessions');
    for (const s of sessions) t.match(await s.next('broadcast'), { type: 'broadcast', content: { event: 'season-start' } });
    await Promise.all(sessions.map((s) => s.ping())); // barrier
    await new Promise((resolve) => setTimeout(resolve, 200));
    t.ok(
      sessions.every((s) => s.frames.every((f) => f.type !== 'broadcast')),
      'no session got it twice',
    );
    await Promise.all(sessions.map((s) => s.close()));
  });

  await t.test('every node lists every online player', async (t) => {
    const clients = await Promise.all(['p1', 'p2', 'p3'].map(async (u, i) => (await TestClient.open(cluster.wsUrl(cluster.nodes[i]!, u))).client));
    for (const node of cluster.nodes) {
      const page = (await cluster.admin(node, 'GET', '/api/online/players?limit=100')).body;
      t.same(page.players.map((p: { userId: string }) => p.userId).sort(), ['p1', 'p2', 'p3'], `from ${node.nodeId}`);
      t.equal(page.total, 3);
    }
    const onB = (await cluster.admin(a, 'GET', '/api/online/players?nodeId=node-b')).body;
    t.same(
      onB.players.map((p: { userId: string }) => p.userId),
      ['p2'],
    );
    await Promise.all(clients.map((c) => c.close()));
  });
}

export async function multiDeviceScenario(t: Test, store: ClusterStore): Promise<void> {
  const cluster = await startCluster(t, ['multi-a', 'multi-b'], { SESSION_POLICY: 'multi' }, store);
  if (!cluster) return;
  const [a, b] = cluster.nodes as [(typeof cluster.nodes)[0], (typeof cluster.nodes)[0]];
  const { client: phone } = await TestClient.open(cluster.wsUrl(a, 'dev'));
  const { client: laptop } = await TestClient.open(cluster.wsUrl(b, 'dev'));
  const { client: friend } = await TestClient.open(cluster.wsUrl(a, 'friend'));
  [phone, laptop, friend].forEach((c) => c.startPing(200));
  t.equal((await cluster.admin(a, 'GET', '/api/online/players/dev')).body.sessions, 2, 'two sessions cluster-wide');
  friend.send({ type: 'message', to: 'dev', content: 'to both', id: 'x' });
  t.match(await phone.next('message'), { content: 'to both' });
  t.match(await laptop.next('message'), { content: 'to both' });
  await friend.next('ack');
  await friend.ping(); // a barrier: anything duplicated would have arrived by now
  await phone.ping();
  await laptop.ping();
  t.equal(phone.frames.filter((f) => f.type === 'message').length, 0, 'exactly once on the phone');
  t.equal(laptop.frames.filter((f) => f.type === 'message').length, 0, 'exactly once on the laptop');
  await phone.close();
  await eventually(async () => (await cluster.admin(b, 'GET', '/api/online/players/dev')).body.sessions === 1);
  t.equal((await cluster.admin(b, 'GET', '/api/online/players/dev')).body.status, 'online');
  await laptop.close();
  await eventually(async () => (await cluster.admin(a, 'GET', '/api/online/players/dev')).body.status === 'offline');
  // The node's log line comes through its stdout pipe, a moment after the store says offline.
  await eventually(async () => [a, b].some((n) => n.logs.some((l) => l.msg === 'user logged out' && l.userId === 'dev')) || undefined);
  const logouts = [a, b].flatMap((n) => n.logs.filter((l) => l.msg === 'user logged out' && l.userId === 'dev'));
  t.equal(logouts.length, 1, 'one logout, on the node of the last session');
  t.equal(logouts[0]!.nodeId, 'multi-b');
  await friend.close();
}
