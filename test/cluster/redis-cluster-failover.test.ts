/**
 * A Redis Cluster losing a primary under traffic, then a shard losing its data, with three
 * gateway processes on it (a private cluster: private-redis-cluster.ts; the shared one keeps
 * serving the other suites). While the replica takes over, renewals of the buckets on the lost
 * shard fail, so no node judges another until its own lease has been steady again for
 * NODE_DEAD_AFTER_MS; players who leave during the outage are logged out once the shard is back
 * (their ends are retried); a shard found empty is re-asserted by every node. Checked: no live
 * player is ever logged out, every player who left is logged out exactly once, and messages
 * cross nodes again, to players of every bucket.
 */
import t from 'tap';
import { eventually } from '../helpers/build.ts';
import { startCluster, type ClusterNode } from '../helpers/cluster.ts';
import { PrivateRedisCluster } from '../helpers/private-redis-cluster.ts';
import { redisServerInstalled } from '../helpers/redis-server.ts';
import { connectPostgres, playerSessionRows, testPostgres } from '../helpers/services.ts';
import { TestClient } from '../helpers/ws-client.ts';

const PLAYERS_PER_NODE = 10;
/**
 * The failover outlasts NODE_DEAD_AFTER_MS (a primary is declared failed after
 * cluster-node-timeout, then its replica is elected): every lease is older than the dead-after
 * delay when the store answers again, the case where a node could judge the others on them.
 */
const DEAD_AFTER_MS = 4000;
const CLUSTER_NODE_TIMEOUT_MS = 4000;

t.test('a primary killed under traffic, then a shard emptied: no false logout, no lost logout', { timeout: 180_000 }, async (t) => {
  if (!redisServerInstalled(t)) return;
  if (!(await testPostgres(t))) return;
  const redisCluster = await PrivateRedisCluster.start(t, CLUSTER_NODE_TIMEOUT_MS);
  const cluster = await startCluster(
    t,
    ['fo-a', 'fo-b', 'fo-c'],
    { NODE_DEAD_AFTER_MS: String(DEAD_AFTER_MS), LOG_LEVEL: 'info', HEARTBEAT_TIMEOUT_MS: '30000' },
    { clusterNodes: redisCluster.nodes },
  );
  if (!cluster) return;
  const db = await connectPostgres(t);
  const players = new Map<string, { client: TestClient; node: ClusterNode }>();
  for (const [n, node] of cluster.nodes.entries()) {
    for (let i = 0; i < PLAYERS_PER_NODE; i++) {
      const userId = `fo-${n}-${i}`;
      const { client } = await TestClient.open(cluster.wsUrl(node, userId));
      client.startPing(200);
      players.set(userId, { client, node });
    }
  }
  t.teardown(() => Promise.all([...players.values()].map(({ client }) => client.terminate())));
  const total = players.size;
  const listed = async (node: ClusterNode) => (await cluster.admin(node, 'GET', '/api/online/players?limit=1')).body?.total;
  await eventually(async () => (await listed(cluster.nodes[0]!)) === total, 15_000);
  // Every bucket of the layout has players (8 buckets, 30 players): so does every shard.
  const buckets = new Set([...players.keys()].map((userId) => cluster.keys.bucketOf(userId)));
  t.ok(buckets.size >= 6, `players in ${buckets.size} of ${cluster.keys.buckets.count} buckets`);

  // Direct messages from every player to one on the next node, each acked: the whole route works.
  const messageEveryone = async (round: string) => {
    const ids = [...players.keys()];
    const acks = await Promise.all(
      ids.map(async (userId, i) => {
        const to = ids[(i + PLAYERS_PER_NODE) % ids.length]!;
        const { client } = players.get(userId)!;
        const id = `${round}-${i}`;
        client.send({ type: 'message', to, content: round, id });
        return client.next('ack', 10_000, (f) => f.id === id);
      }),
    );
    return acks.filter((ack) => ack.type === 'ack' && ack.status === 'delivered').length;
  };
  t.equal(await messageEveryone('before'), total, 'every message delivered before the failover');

  // Traffic keeps flowing while the primary dies: pings (every 200 ms) and messages.
  let sending = true;
  const traffic = (async () => {
    let n = 0;
    const ids = [...players.keys()];
    while (sending) {
      const from = players.get(ids[n % ids.length]!)!;
      if (!from.client.closedWith) from.client.send({ type: 'message', to: ids[(n + 7) % ids.length]!, content: 'during', id: `during-${n}` });
      n++;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })();

  const [victim] = await redisCluster.primaries();
  const killedAt = Date.now();
  redisCluster.kill(victim!);
  // Three players leave during the outage: their logouts must not be lost.
  const leavers = ['fo-0-1', 'fo-1-2', 'fo-2-3'];
  await Promise.all(leavers.map((userId) => players.get(userId)!.client.close()));
  // Meanwhile readiness names the lost primary (until the replica has its slots).
  const during = await eventually(async () => {
    const res = await fetch(`${cluster.nodes[0]!.baseUrl}/health/ready`);
    const body = (await res.json()) as { checks: { onlineStore: string }; redisCluster?: { state: string; shards: { primary: string; up: boolean }[] } };
    return res.status === 503 && body.redisCluster?.shards.some((shard) => !shard.up) ? body : undefined;
  }, 10_000).catch(() => undefined);
  t.ok(during, `/health/ready: 503 with the primary on ${victim} down while it fails over: ${JSON.stringify(during?.redisCluster)}`);
  t.equal(during?.checks.onlineStore, 'unreachable');
  await eventually(async () => (await redisCluster.primaries()).length === 3, 30_000, 100).catch(async (error: Error) => {
    throw new Error(`${error.message}; the cluster: ${await redisCluster.describe()}`);
  });
  await redisCluster.waitUntilOk();
  t.comment(`replica promoted ${Date.now() - killedAt} ms after kill -9 of the primary on ${victim}`);
  // Long enough for any reaper to have judged a node dead: the lease lapse plus dead-after, twice.
  await new Promise((resolve) => setTimeout(resolve, 3 * DEAD_AFTER_MS));
  sending = false;
  await traffic;

  const stayers = [...players.keys()].filter((userId) => !leavers.includes(userId));
  const closed = stayers.filter((userId) => players.get(userId)!.client.closedWith);
  t.same(
    closed.map((userId) => `${userId} ${JSON.stringify(players.get(userId)!.client.closedWith)}`),
    [],
    'no connection of a live player was closed',
  );
  if (closed.length > 0) {
    // What the nodes saw, for whoever reads the failure.
    for (const node of cluster.nodes) {
      const lines = node.logs.filter((l) => Number(l.level) >= 30 && /lease|reap|fenced|judged|cluster round/.test(String(l.msg)));
      t.comment(`${node.nodeId}:\n${lines.map((l) => JSON.stringify(l)).join('\n')}`);
    }
  }
  for (const node of cluster.nodes) await eventually(async () => (await listed(node)) === stayers.length, 20_000);
  await eventually(async () => (await fetch(`${cluster.nodes[0]!.baseUrl}/health/ready`)).status === 200, 20_000);
  t.pass('ready again once the replica serves the slots');
  t.pass(`every node lists the ${stayers.length} live players`);
  const loggedOut = async () => (await playerSessionRows(db, cluster.schema, 'fo-')).filter((row) => row.disconnected_at !== null);
  await eventually(async () => (await loggedOut()).length === leavers.length, 20_000);
  t.same((await loggedOut()).map((row) => row.user_id).sort(), [...leavers].sort(), 'the leavers logged out, once each, and nobody else');
  for (const userId of leavers) players.delete(userId);
  t.equal(await messageEveryone('after-failover'), players.size, 'every message delivered after the failover, to players of every bucket');

  // A shard loses its data (its primary and, replicating it, its replica): every node finds its
  // lease gone there at its next renewal and re-asserts its players.
  const [emptied] = await redisCluster.primaries();
  const admin = await redisCluster.client(t);
  const node = admin.nodes('master').find((n) => n.options.port === emptied);
  t.ok(node, 'the primary to empty is known to the client');
  await node!.flushall();
  await new Promise((resolve) => setTimeout(resolve, 3 * DEAD_AFTER_MS));
  for (const n of cluster.nodes) await eventually(async () => (await listed(n)) === players.size, 20_000);
  t.pass(`every node lists the ${players.size} live players again`);
  t.same([...players.values()].filter(({ client }) => client.closedWith).length, 0, 'no connection closed');
  t.equal((await loggedOut()).length, leavers.length, 'nobody else logged out');
  t.equal(await messageEveryone('after-flush'), players.size, 'every message delivered after the shard came back empty');
  const last = ['fo-0-4', 'fo-2-5'];
  await Promise.all(last.map((userId) => players.get(userId)!.client.close()));
  await eventually(async () => (await loggedOut()).length === leavers.length + last.length, 20_000);
  t.pass('players leaving after that are logged out');
});
