/**
 * The sweep of the offline queues' cluster total runs on one node at a time (the lock), and
 * every node refreshes the total it reports; a failing sweep is logged, not thrown.
 */
import t from 'tap';
import { OfflineQueueSweeper } from '../../src/delivery/offline-queue-sweeper.ts';
import { MemoryLocks } from '../../src/stores/memory/memory-locks.ts';
import { MemoryOfflineQueue } from '../../src/stores/memory/memory-offline-queue.ts';
import { collectingLogger, ManualClock } from '../helpers/core.ts';
import { offlineEntryBytes } from '../../src/delivery/offline-queue.ts';

t.test('one node sweeps per interval; the others only read the total', async (t) => {
  const clock = new ManualClock();
  const locks = new MemoryLocks();
  const queue = new MemoryOfflineQueue({ max: 10, ttlMs: 1000, now: clock.now });
  let sweeps = 0;
  const sweep = queue.sweep.bind(queue);
  queue.sweep = () => {
    sweeps++;
    return sweep();
  };
  const entry = { id: 'm1', frame: '{}', queuedAt: clock.value, from: 'x' };
  await queue.push('u', entry);
  const make = (nodeId: string, log = collectingLogger()) => new OfflineQueueSweeper({ queue, locks, nodeId, intervalMs: 1000, now: clock.now, log });
  const [a, b] = [make('a'), make('b')];
  clock.advance(1000); // the queue expired as a whole
  t.equal(await a.round(), offlineEntryBytes(entry), 'a swept the expired queue out of the total');
  t.equal(await b.round(), undefined, 'b did not sweep: a holds the lock for the interval');
  t.equal(sweeps, 1);
  t.equal(queue.stats.totalBytes, 0, 'the total every node reports');
  clock.advance(1000);
  t.equal(await b.round(), 0, 'the next interval, whoever comes first sweeps');
  t.equal(sweeps, 2);
});

t.test('a failing sweep is logged and retried at the next round', async (t) => {
  const clock = new ManualClock();
  const queue = new MemoryOfflineQueue({ max: 10, ttlMs: 1000, now: clock.now });
  queue.sweep = () => Promise.reject(new Error('redis down'));
  const log = collectingLogger();
  const sweeper = new OfflineQueueSweeper({ queue, locks: new MemoryLocks(), nodeId: 'a', intervalMs: 1000, now: clock.now, log });
  t.equal(await sweeper.round(), undefined);
  t.match(log.entries, [{ level: 'warn', fields: { err: 'redis down' } }]);
});
