/**
 * Every node loses Redis for longer than NODE_DEAD_AFTER_MS while Redis keeps its data (a
 * network partition between the nodes and Redis; a restart with persistence is the same for the
 * nodes). Each node reaches Redis through its own TCP proxy, so the nodes can come back one
 * after the other, as their reconnect backoffs make them do: the first one back must not reap
 * the other before it had a chance to renew its lease. Nobody is logged out, every connection
 * stays open, and the cluster works as before.
 */
import t from 'tap';
import { eventually } from '../helpers/build.ts';
import { startCluster, type ClusterNode } from '../helpers/cluster.ts';
import { TcpProxy } from '../helpers/tcp-proxy.ts';
import { TestClient } from '../helpers/ws-client.ts';

const LEASE_MS = 200;
const DEAD_AFTER_MS = 4000;
const OUTAGE_MS = 4500;
/** B's partition heals this long after A's (B's client is still in its reconnect backoff). */
const STAGGER_MS = 1500;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

t.test('a Redis outage longer than NODE_DEAD_AFTER_MS, data kept: the first node back reaps nobody', { timeout: 120_000 }, async (t) => {
  const cluster = await startCluster(t, [], { NODE_LEASE_INTERVAL_MS: String(LEASE_MS), NODE_DEAD_AFTER_MS: String(DEAD_AFTER_MS) });
  if (!cluster) return;
  const redisUrl = cluster.env.REDIS_URL!;
  const proxyA = await TcpProxy.start(redisUrl);
  const proxyB = await TcpProxy.start(redisUrl);
  t.teardown(() => Promise.all([proxyA.close(), proxyB.close()]));
  const a = await cluster.addNode('part-a', { REDIS_URL: proxyA.rewrite(redisUrl) });
  const b = await cluster.addNode('part-b', { REDIS_URL: proxyB.rewrite(redisUrl) });

  const users: Array<[ClusterNode, string]> = [
    [a, 'alice'],
    [a, 'amy'],
    [b, 'bob'],
    [b, 'bea'],
  ];
  const clients = await Promise.all(users.map(async ([node, u]) => (await TestClient.open(cluster.wsUrl(node, u))).client));
  const closes: string[] = [];
  clients.forEach((c, i) => {
    c.startPing(LEASE_MS);
    void c.closed.then((closed) => closes.push(`${users[i]![1]}:${closed.code}`));
  });
  t.teardown(() => Promise.all(clients.map((c) => c.terminate())));
  const onlineFrom = async (node: ClusterNode) => {
    const r = await cluster.admin(node, 'GET', '/api/online/players?limit=100');
    return r.status === 200 ? (r.body.players as Array<{ userId: string; status: string }>).map((p) => p.userId).sort() : undefined;
  };
  t.same(await eventually(() => onlineFrom(a)), ['alice', 'amy', 'bea', 'bob']);
  // Both nodes have held their leases for longer than deadAfter: the reaper is armed.
  await sleep(DEAD_AFTER_MS + LEASE_MS);

  proxyA.cut();
  proxyB.cut();
  await sleep(OUTAGE_MS); // the outage itself
  // Local sessions were served all along.
  await Promise.all(clients.map((c) => c.ping()));
  proxyA.restore();
  await sleep(STAGGER_MS);
  proxyB.restore();

  // Both nodes are back on Redis (their bus re-subscribed)...
  await eventually(() => [a, b].every((n) => n.logs.some((l) => l.msg === 'bus resubscribed after reconnect')), 15_000);
  // ...and A has had well over deadAfter of steady renewals since, to reap B if it were dead.
  await sleep(DEAD_AFTER_MS + 1000);

  const logouts = [a, b].flatMap((n) => n.logs.filter((l) => l.msg === 'user logged out'));
  t.same(
    logouts.map((l) => `${l.userId}:${l.reason}`),
    [],
    'no logout (no node_lost) anywhere',
  );
  t.same(
    [a, b].flatMap((n) => n.logs.filter((l) => l.msg === 'reaped dead node')),
    [],
    'nobody reaped',
  );
  t.ok(
    a.logs.some((l) => typeof l.msg === 'string' && l.msg.startsWith('own lease lapsed')),
    'A held back after its own lapse',
  );
  t.same(closes, [], 'no connection was closed');
  for (const node of [a, b]) t.same(await onlineFrom(node), ['alice', 'amy', 'bea', 'bob'], `every player online, seen from ${node.nodeId}`);
  const bob = (await cluster.admin(a, 'GET', '/api/online/players/bob')).body;
  t.match(bob, { status: 'online', nodeId: 'part-b', sessions: 1 });

  // The cluster works as before, both ways.
  await Promise.all(clients.map((c) => c.ping()));
  const [alice, , bobClient] = clients as [TestClient, TestClient, TestClient, TestClient];
  alice.send({ type: 'message', to: 'bob', content: 'still here?', id: 'p1' });
  t.match(await bobClient.next('message'), { from: 'alice', content: 'still here?' });
  t.same(await alice.next('ack', 5000, (f) => f.id === 'p1'), { type: 'ack', id: 'p1', status: 'delivered' });
  bobClient.send({ type: 'message', to: 'alice', content: 'yes', id: 'p2' });
  t.match(await alice.next('message'), { from: 'bob', content: 'yes' });
  t.same(await bobClient.next('ack', 5000, (f) => f.id === 'p2'), { type: 'ack', id: 'p2', status: 'delivered' });
  t.equal(a.child.exitCode, null, 'node a alive');
  t.equal(b.child.exitCode, null, 'node b alive');
});
