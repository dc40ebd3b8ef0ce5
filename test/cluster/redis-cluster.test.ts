/**
 * The gateway on a real Redis Cluster (3 primaries, 3 replicas: scripts/redis-cluster.sh), with
 * the presence, rooms, offline queues and bus sharded by bucket (REDIS_BUCKETS) and node and room
 * channels over sharded pub/sub: the cross-node scenarios of three-nodes.test.ts, rooms across
 * nodes, crash reaping, and a failover of a primary under traffic.
 */
import t from 'tap';
import { crashScenario } from './crash-scenario.ts';
import { crossNodeScenarios, multiDeviceScenario } from './cross-node-scenarios.ts';
import { roomScenarios } from './room-scenarios.ts';

t.test('cross-node scenarios on a Redis Cluster', (t) => crossNodeScenarios(t, 'redis-cluster'));

t.test('multi policy across nodes on a Redis Cluster', (t) => multiDeviceScenario(t, 'redis-cluster'));

t.test('rooms, pushes and devices across three nodes on a Redis Cluster', (t) => roomScenarios(t, 'redis-cluster'));

// Fewer players than on one Redis (crash.test.ts): enough for batches of 500 across the buckets.
t.test('crash cleanup after kill -9 on a Redis Cluster', { timeout: 240_000 }, (t) => crashScenario(t, 'redis-cluster', { players: 700, reconnecting: 100 }));
