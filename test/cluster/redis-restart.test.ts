/**
 * Redis stops (SHUTDOWN NOSAVE) in the middle of traffic and comes back empty: the nodes keep
 * serving their local sessions meanwhile, re-assert their players' presence afterwards, and the
 * logouts of players who left during the outage land in PostgreSQL. No process crashes.
 */
import t from 'tap';
import { eventually } from '../helpers/build.ts';
import { startCluster } from '../helpers/cluster.ts';
import { RedisServer, redisServerInstalled } from '../helpers/redis-server.ts';
import { TestClient } from '../helpers/ws-client.ts';

t.test('Redis restarted empty mid-traffic', async (t) => {
  if (!redisServerInstalled(t)) return;
  const redis = await RedisServer.start();
  t.teardown(() => redis.stop());
  const cluster = await startCluster(t, ['rr-a', 'rr-b'], { REDIS_URL: redis.url, REDIS_KEY_PREFIX: '' });
  if (!cluster) return;
  const [a, b] = cluster.nodes as [(typeof cluster.nodes)[0], (typeof cluster.nodes)[0]];
  const stayers = await Promise.all(Array.from({ length: 12 }, async (_, i) => (await TestClient.open(cluster.wsUrl(i % 2 ? b : a, `stay-${i}`))).client));
  const leavers = await Promise.all(Array.from({ length: 4 }, async (_, i) => (await TestClient.open(cluster.wsUrl(i % 2 ? b : a, `leave-${i}`))).client));
  [...stayers, ...leavers].forEach((c) => c.startPing(200));
  t.equal((await cluster.admin(a, 'GET', '/api/online/players?limit=1')).body.total, 16);

  await redis.stop();
  // Local sessions keep working while Redis is down.
  await Promise.all(stayers.map((c) => c.ping()));
  t.equal((await fetch(`${a.baseUrl}/health/ready`)).status, 503, 'not ready without Redis');
  const crossNode = stayers[0]!;
  crossNode.send({ type: 'message', to: 'stay-1', content: 'during outage', id: 'o1' });
  const outcome = await Promise.race([crossNode.next('error', 8000), crossNode.next('ack', 8000)]);
  t.match(outcome, { type: 'error', code: 'NOT_AVAILABLE', ref: 'o1' }, 'cross-node message gets a coded error, not a silent drop');
  const leftAt = Date.now();
  await Promise.all(leavers.map((c) => c.close()));
  await new Promise((resolve) => setTimeout(resolve, 500));

  await redis.restart(); // empty
  const online = await eventually(async () => {
    const r = await cluster.admin(b, 'GET', '/api/online/players?limit=100');
    return r.status === 200 && r.body.total === 12 ? r.body : undefined;
  }, 15_000);
  t.same(online.players.map((p: { userId: string }) => p.userId).sort(), stayers.map((_, i) => `stay-${i}`).sort(), 'presence of every live player restored');
  for (let i = 0; i < 4; i++) {
    const player = await eventually(async () => {
      const r = await cluster.admin(a, 'GET', `/api/online/players/leave-${i}`);
      return r.body?.lastSpiritGainTime ? r.body : undefined;
    }, 15_000);
    t.ok(player.lastSpiritGainTime >= leftAt - 50 && player.lastSpiritGainTime < leftAt + 2000, `leave-${i} stamped with the time it left`);
  }
  // Everything works again, across nodes.
  crossNode.send({ type: 'message', to: 'stay-1', content: 'after', id: 'o2' });
  t.same(await crossNode.next('ack', 5000, (f) => f.id === 'o2'), { type: 'ack', id: 'o2', status: 'delivered' });
  t.equal(a.child.exitCode, null, 'node a alive');
  t.equal(b.child.exitCode, null, 'node b alive');
  await Promise.all(stayers.map((c) => c.close()));
});

t.test('a logout grace Redis lost outlives the node that held it', async (t) => {
  if (!redisServerInstalled(t)) return;
  const redis = await RedisServer.start();
  t.teardown(() => redis.stop());
  // A's own check of the grace would come NODE_DEAD_AFTER_MS after it (12 s): A is dead by then.
  const cluster = await startCluster(t, ['rg-a', 'rg-b'], { REDIS_URL: redis.url, REDIS_KEY_PREFIX: '', LOGOUT_GRACE_MS: '2000', NODE_DEAD_AFTER_MS: '10000' });
  if (!cluster) return;
  const [a, b] = cluster.nodes as [(typeof cluster.nodes)[0], (typeof cluster.nodes)[0]];
  const { client } = await TestClient.open(cluster.wsUrl(a, 'blip'));
  const leftAt = Date.now();
  await client.close();
  await eventually(async () => a.logs.find((l) => l.msg === 'logout deferred: reconnecting' && l.userId === 'blip'), 5000);

  await redis.stop();
  await redis.restart(); // empty: the pending grace is gone
  const reasserted = await eventually(async () => a.logs.find((l) => l.msg === 'presence re-asserted in the online store' && l.gracesRestored === 1), 8000);
  t.ok(reasserted, 'A gave the store back the grace it waits on');
  a.child.kill('SIGKILL');
  await a.exited;

  const player = await eventually(async () => {
    const r = await cluster.admin(b, 'GET', '/api/online/players/blip');
    return r.body?.lastSpiritGainTime ? r.body : undefined;
  }, 10_000);
  t.ok(player.lastSpiritGainTime >= leftAt - 50 && player.lastSpiritGainTime < leftAt + 1000, 'stamped with the time it left');
  t.match(player, { status: 'offline' });
  const lines = b.logs.filter((l) => l.msg === 'user logged out' && l.userId === 'blip');
  t.match(lines, [{ reason: 'closed', nodeId: 'rg-b' }], 'logged out once, by the node that expired the grace');
});
