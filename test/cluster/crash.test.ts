/**
 * kill -9 of a node holding 2,000 players on Redis (crash-scenario.ts; a smaller crowd on a
 * Redis Cluster in redis-cluster.test.ts).
 */
import t from 'tap';
import { crashScenario } from './crash-scenario.ts';

t.test('crash cleanup after kill -9', { timeout: 240_000 }, (t) => crashScenario(t, 'redis', { players: 2000, reconnecting: 200 }));
