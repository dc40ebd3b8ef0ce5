/**
 * Rooms, pushes and devices across three gateway processes on Redis (room-scenarios.ts; the same
 * on a Redis Cluster in redis-cluster.test.ts).
 */
import t from 'tap';
import { roomScenarios } from './room-scenarios.ts';

t.test('rooms, pushes and devices across three nodes', (t) => roomScenarios(t, 'redis'));
