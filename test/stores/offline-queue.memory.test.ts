import t from 'tap';
import { MemoryOfflineQueue } from '../../src/stores/memory/memory-offline-queue.ts';
import { ManualClock } from '../helpers/core.ts';
import { runOfflineQueueContract } from './offline-queue.contract.ts';

runOfflineQueueContract(t, 'memory', async (_t, limits) => new MemoryOfflineQueue(limits));

t.test('memory: abandoned queues are swept on the injected clock', async (t) => {
  const clock = new ManualClock();
  const queue = new MemoryOfflineQueue({ max: 10, ttlMs: 1000, now: clock.now });
  for (let i = 0; i < 50; i++) await queue.push(`u${i}`, { id: `m${i}`, frame: '{}', queuedAt: clock.value });
  const size = () => (queue as unknown as { queues: Map<string, unknown> }).queues.size;
  t.equal(size(), 50);
  clock.advance(999);
  t.equal(await queue.length('u1'), 1, 'not yet');
  clock.advance(1);
  await queue.push('late', { id: 'x', frame: '{}', queuedAt: clock.value });
  t.equal(size(), 1, 'the next push swept every expired queue');
  t.equal(await queue.length('u2'), 0);
});

t.test('memory: limits are checked', async (t) => {
  t.throws(() => new MemoryOfflineQueue({ max: -1, ttlMs: 1 }), RangeError);
  t.throws(() => new MemoryOfflineQueue({ max: 1, ttlMs: 0 }), RangeError);
});

t.test('memory: sender windows are swept with the queues, and the total follows', async (t) => {
  const clock = new ManualClock();
  const queue = new MemoryOfflineQueue({ max: 10, ttlMs: 1000, now: clock.now });
  for (let i = 0; i < 20; i++) await queue.push(`u${i}`, { id: `m${i}`, frame: '{}', queuedAt: clock.value, from: `s${i}` });
  const senders = () => (queue as unknown as { senders: Map<string, unknown> }).senders.size;
  t.equal(senders(), 20);
  t.ok((await queue.totalBytes()) > 0);
  clock.advance(1000);
  await queue.push('late', { id: 'x', frame: '{}', queuedAt: clock.value, from: 'z' });
  t.equal(senders(), 1, 'only the new window is left');
  t.equal(await queue.totalBytes(), queue.stats.totalBytes, 'the stats see the exact total');
  t.equal(await queue.sweep(), 0, 'nothing left to sweep');
});
