/**
 * The OfflineQueue contract: one suite run against MemoryOfflineQueue and RedisOfflineQueue, so
 * the in-process queue cannot promise what the Redis list does not do (order, trimming to the
 * newest `max`, cumulative acks, expiry of entries and of the whole queue).
 */
import type { Test } from 'tap';
import type { OfflineEntry, OfflineQueue, OfflineQueueLimits } from '../../src/delivery/offline-queue.ts';

/** A fresh, empty queue with these limits; null when the suite was skipped. */
export type MakeQueue = (t: Test, limits: OfflineQueueLimits) => Promise<OfflineQueue | null>;

const T0 = 1_763_800_000_000;
const entry = (n: number, queuedAt = T0 + n): OfflineEntry => ({
  id: `m-${String(n).padStart(4, '0')}`,
  frame: JSON.stringify({ type: 'message', from: 'alice', content: `#${n}`, id: `m-${n}`, ts: queuedAt, offline: true }),
  queuedAt,
});
const ids = (entries: OfflineEntry[]) => entries.map((e) => e.id);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** A TTL long enough never to expire during a test that is not about expiry. */
const DAY = 86_400_000;

export function runOfflineQueueContract(t: Test, name: string, make: MakeQueue): void {
  const test = (title: string, limits: OfflineQueueLimits, body: (t: Test, q: OfflineQueue) => Promise<void>) =>
    t.test(`${name}: ${title}`, async (t) => {
      const queue = await make(t, limits);
      if (!queue) return;
      t.teardown(() => queue.close());
      await body(t, queue);
    });

  test('entries come back oldest first, per user, and reading removes nothing', { max: 100, ttlMs: DAY }, async (t, q) => {
    t.strictSame(await q.read('alice', T0), [], 'unknown user: empty');
    t.equal(await q.length('alice'), 0);
    for (const n of [1, 2, 3]) t.equal(await q.push('alice', entry(n)), n, 'push answers the length');
    await q.push('bob', entry(9));
    t.strictSame(await q.read('alice', T0 + 10), [entry(1), entry(2), entry(3)], 'entries intact, in order');
    t.strictSame(await q.read('alice', T0 + 10), [entry(1), entry(2), entry(3)], 'still there after a read');
    t.strictSame(ids(await q.read('bob', T0 + 10)), ['m-0009'], 'queues are per user');
    t.equal(await q.length('alice'), 3);
  });

  test('150 pushes keep the newest 100, in order (concurrent pushes too)', { max: 100, ttlMs: DAY }, async (t, q) => {
    for (let n = 1; n <= 150; n++) await q.push('u', entry(n));
    const kept = await q.read('u', T0 + 200);
    t.equal(kept.length, 100);
    t.strictSame(
      ids(kept),
      Array.from({ length: 100 }, (_, i) => entry(51 + i).id),
      'm-0051 .. m-0150',
    );
    const lengths = await Promise.all(Array.from({ length: 150 }, (_, i) => q.push('v', entry(i + 1))));
    t.equal(Math.max(...lengths), 100, 'never longer than max');
    t.strictSame(ids(await q.read('v', T0 + 200)), ids(kept), 'issue order is queue order');
  });

  test('acks are cumulative; unknown and repeated acks change nothing', { max: 100, ttlMs: DAY }, async (t, q) => {
    for (let n = 1; n <= 6; n++) await q.push('u', entry(n));
    t.equal(await q.ack('u', 'nope'), 0, 'unknown id');
    t.equal(await q.ack('other-user', entry(1).id), 0, "another user's queue");
    t.equal(await q.length('u'), 6);
    t.equal(await q.ack('u', entry(3).id), 3, 'acking the third removes three');
    t.strictSame(ids(await q.read('u', T0 + 10)), ['m-0004', 'm-0005', 'm-0006']);
    t.equal(await q.ack('u', entry(3).id), 0, 'the same ack again');
    t.equal(await q.ack('u', entry(2).id), 0, 'an older ack');
    t.equal(await q.ack('u', entry(4).id), 1, 'one at a time works too');
    t.equal(await q.ack('u', entry(6).id), 2, 'the last one empties the queue');
    t.equal(await q.length('u'), 0);
    t.strictSame(await q.read('u', T0 + 10), []);
    await q.push('u', entry(7));
    t.strictSame(ids(await q.read('u', T0 + 10)), ['m-0007'], 'a new push after the queue emptied');
    t.equal(await q.ack('u', ''), 0, 'an empty id');
    t.equal(await q.ack('u', 'm-0007 x'), 0, 'an id with a space');
  });

  test('frames round-trip byte for byte (unicode, spaces, 64 KB)', { max: 10, ttlMs: DAY }, async (t, q) => {
    const frames = [
      JSON.stringify({ type: 'message', content: 'héllo 世界 👋🏽 "q" \\ \u2028 spaces  and  more ', offline: true }),
      JSON.stringify({ type: 'message', content: 'x'.repeat(64 * 1024) }),
      ' leading space',
      '',
    ];
    for (const [i, frame] of frames.entries()) await q.push('u', { id: `id-${i}`, frame, queuedAt: T0 });
    t.strictSame(
      (await q.read('u', T0)).map((e) => e.frame),
      frames,
    );
  });

  test("entries expire ttlMs after they were queued (the clock is the caller's)", { max: 100, ttlMs: 1000 }, async (t, q) => {
    const now = Date.now();
    await q.push('u', entry(1, now - 1500));
    await q.push('u', entry(2, now - 500));
    await q.push('u', entry(3, now));
    t.strictSame(ids(await q.read('u', now)), ['m-0002', 'm-0003'], 'the entry older than the TTL is not replayed');
    t.equal(await q.length('u'), 2, 'and it was removed');
    t.strictSame(ids(await q.read('u', now + 500)), ['m-0003'], 'queuedAt + ttl = now is expired');
    t.strictSame(await q.read('u', now + 1000), []);
    t.equal(await q.length('u'), 0);
  });

  test('the whole queue expires ttlMs after its newest push (real time, short TTL)', { max: 100, ttlMs: 600 }, async (t, q) => {
    await q.push('u', entry(1, Date.now()));
    await sleep(400);
    await q.push('u', entry(2, Date.now()));
    await sleep(400);
    t.equal(await q.length('u'), 2, "the second push extended the queue's life");
    await sleep(700);
    t.equal(await q.length('u'), 0, 'gone 600 ms after the newest push');
    t.strictSame(await q.read('u', Date.now()), []);
  });

  test('max 0: nothing is stored', { max: 0, ttlMs: DAY }, async (t, q) => {
    t.equal(await q.push('u', entry(1)), 0);
    t.equal(await q.length('u'), 0);
    t.strictSame(await q.read('u', T0), []);
  });

  test('entries the encoding cannot hold are refused', { max: 10, ttlMs: DAY }, async (t, q) => {
    await t.rejects(q.push('u', { id: 'a b', frame: '{}', queuedAt: T0 }), RangeError);
    await t.rejects(q.push('u', { id: '', frame: '{}', queuedAt: T0 }), RangeError);
    await t.rejects(q.push('u', { id: 'x', frame: '{}', queuedAt: 1.5 }), RangeError);
    t.equal(await q.length('u'), 0);
  });
}
