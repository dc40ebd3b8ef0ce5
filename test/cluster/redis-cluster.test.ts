/**
 * The gateway on a real Redis Cluster (3 primaries, 3 replicas: scripts/redis-cluster.sh), with
 * the presence, rooms, offline queues and bus sharded by bucket (REDIS_BUCKETS) and node and room
 * channels over sharded pub/sub: the cross-node scenarios of three-nodes.test.ts, rooms across
 * nodes, crash reaping, and a failover of a primary under traffic.
 */
import t from 'tap';
import { TEST_ADMIN_TOKEN } from '../helpers/build.ts';
import { GATEWAY_CLUSTER_BUCKETS, startCluster, type ClusterNode } from '../helpers/cluster.ts';
import { crashScenario } from './crash-scenario.ts';
import { crossNodeScenarios, multiDeviceScenario } from './cross-node-scenarios.ts';
import { roomScenarios } from './room-scenarios.ts';

t.test('cross-node scenarios on a Redis Cluster', (t) => crossNodeScenarios(t, 'redis-cluster'));

t.test('multi policy across nodes on a Redis Cluster', (t) => multiDeviceScenario(t, 'redis-cluster'));

t.test('rooms, pushes and devices across three nodes on a Redis Cluster', (t) => roomScenarios(t, 'redis-cluster'));

// Fewer players than on one Redis (crash.test.ts): enough for batches of 500 across the buckets.
t.test('crash cleanup after kill -9 on a Redis Cluster', { timeout: 240_000 }, (t) => crashScenario(t, 'redis-cluster', { players: 700, reconnecting: 100 }));

t.test('/health/ready and /metrics report the Redis Cluster per shard', async (t) => {
  const cluster = await startCluster(t, ['health-a'], {}, 'redis-cluster');
  if (!cluster) return;
  const [node] = cluster.nodes as [ClusterNode];
  const ready = await fetch(`${node.baseUrl}/health/ready`);
  t.equal(ready.status, 200);
  const body = (await ready.json()) as {
    checks: { onlineStore: string };
    redisCluster: { state: string; slotsOk: number; shards: { primary: string; up: boolean; buckets: number }[] };
  };
  t.equal(body.checks.onlineStore, 'ok');
  t.equal(body.redisCluster.state, 'ok');
  t.equal(body.redisCluster.slotsOk, 16384);
  t.equal(body.redisCluster.shards.length, 3, 'three primaries');
  t.ok(
    body.redisCluster.shards.every((shard) => shard.up && shard.buckets >= 2),
    `every primary up, each with a share of the ${GATEWAY_CLUSTER_BUCKETS} buckets: ${JSON.stringify(body.redisCluster.shards)}`,
  );
  t.equal(
    body.redisCluster.shards.reduce((sum, shard) => sum + shard.buckets, 0),
    GATEWAY_CLUSTER_BUCKETS,
  );
  const metrics = await (await fetch(`${node.baseUrl}/metrics`, { headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` } })).text();
  t.equal(metrics.match(/^gatehouse_redis_cluster_primary_up\{primary="[^"]+"\} 1$/gm)?.length, 3, 'one up sample per primary');
  const buckets = [...metrics.matchAll(/^gatehouse_redis_cluster_primary_buckets\{primary="[^"]+"\} (\d+)$/gm)].map((m) => Number(m[1]));
  t.equal(
    buckets.reduce((sum, n) => sum + n, 0),
    GATEWAY_CLUSTER_BUCKETS,
  );
  t.match(metrics, /^gatehouse_redis_cluster_slots_ok 16384$/m);
});
