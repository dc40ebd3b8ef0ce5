/**
 * The OfflineQueue contract: one suite run against MemoryOfflineQueue and RedisOfflineQueue, so
 * the in-process queue cannot promise what the Redis list does not do (order, lanes, quotas and
 * their refusals, the cluster total, cumulative acks, expiry of entries and of the whole queue).
 */
import type { Test } from 'tap';
import { offlineEntryBytes, type OfflineEntry, type OfflineLimitsInput, type OfflineQueue } from '../../src/delivery/offline-queue.ts';

/** A fresh, empty queue with these limits (its own total too); null when the suite was skipped. */
export type MakeQueue = (t: Test, limits: OfflineLimitsInput) => Promise<OfflineQueue | null>;

const T0 = 1_763_800_000_000;
/** A player message from `from` (default carol), or a server push with from = null. */
const entry = (n: number, queuedAt = T0 + n, from: string | null = 'carol', size = 0): OfflineEntry => ({
  id: `m-${String(n).padStart(4, '0')}`,
  frame: JSON.stringify({
    type: 'message',
    ...(from === null ? { server: true } : { from }),
    content: `#${n}${'x'.repeat(size)}`,
    id: `m-${n}`,
    ts: queuedAt,
    offline: true,
  }),
  queuedAt,
  ...(from === null ? {} : { from }),
});
const push = (n: number, queuedAt = T0 + n) => entry(n, queuedAt, null);
/** The length a successful push answers (fails the test on a refusal). */
const queued = async (t: Test, p: ReturnType<OfflineQueue['push']>) => {
  const result = await p;
  if (!result.queued) t.fail(`refused: ${result.quota}`);
  return result.queued ? result.length : -1;
};
const ids = (entries: OfflineEntry[]) => entries.map((e) => e.id);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** A TTL long enough never to expire during a test that is not about expiry. */
const DAY = 86_400_000;

export function runOfflineQueueContract(t: Test, name: string, make: MakeQueue): void {
  const test = (title: string, limits: OfflineLimitsInput, body: (t: Test, q: OfflineQueue) => Promise<void>) =>
    t.test(`${name}: ${title}`, async (t) => {
      const queue = await make(t, limits);
      if (!queue) return;
      t.teardown(() => queue.close());
      await body(t, queue);
    });

  test('entries come back oldest first, per user, and reading removes nothing', { max: 100, ttlMs: DAY }, async (t, q) => {
    t.strictSame(await q.read('alice', T0), [], 'unknown user: empty');
    t.equal(await q.length('alice'), 0);
    for (const n of [1, 2, 3]) t.strictSame(await q.push('alice', entry(n)), { queued: true, length: n }, 'push answers the length');
    await q.push('bob', entry(9));
    t.strictSame(await q.read('alice', T0 + 10), [entry(1), entry(2), entry(3)], 'entries intact, in order');
    t.strictSame(await q.read('alice', T0 + 10), [entry(1), entry(2), entry(3)], 'still there after a read');
    t.strictSame(ids(await q.read('bob', T0 + 10)), ['m-0009'], 'queues are per user');
    t.equal(await q.length('alice'), 3);
  });

  test('150 server pushes keep the newest 100, in order (concurrent pushes too)', { max: 100, ttlMs: DAY }, async (t, q) => {
    for (let n = 1; n <= 150; n++) await q.push('u', push(n));
    const kept = await q.read('u', T0 + 200);
    t.equal(kept.length, 100);
    t.strictSame(
      ids(kept),
      Array.from({ length: 100 }, (_, i) => entry(51 + i).id),
      'm-0051 .. m-0150',
    );
    const lengths = await Promise.all(Array.from({ length: 150 }, (_, i) => queued(t, q.push('v', push(i + 1)))));
    t.equal(Math.max(...lengths), 100, 'never longer than max');
    t.strictSame(ids(await q.read('v', T0 + 200)), ids(kept), 'issue order is queue order');
  });

  test('150 player messages: the first 100 are kept, the rest refused (recipient), never evicting', { max: 100, ttlMs: DAY }, async (t, q) => {
    const results = await Promise.all(Array.from({ length: 150 }, (_, i) => q.push('u', entry(i + 1))));
    t.equal(results.filter((r) => r.queued).length, 100, '100 queued');
    t.ok(
      results.slice(100).every((r) => !r.queued && r.quota === 'recipient'),
      'the last 50 refused: recipient',
    );
    t.strictSame(
      ids(await q.read('u', T0 + 200)),
      Array.from({ length: 100 }, (_, i) => entry(1 + i).id),
      'm-0001 .. m-0100: nothing was evicted',
    );
  });

  test('135 junk messages never evict a server push; both lanes replay in arrival order', { max: 100, ttlMs: DAY }, async (t, q) => {
    await queued(t, q.push('u', push(1)));
    for (let n = 2; n <= 136; n++) await q.push('u', entry(n, T0 + n, n % 2 ? 'mallory' : 'eve'));
    await queued(t, q.push('u', push(137)));
    const replay = await q.read('u', T0 + 200);
    t.equal(replay.length, 102, '100 junk + 2 pushes');
    t.equal(replay[0]!.id, 'm-0001', 'the first push, first');
    t.equal(replay[0]!.from, undefined, 'a server entry has no sender');
    t.equal(replay[1]!.from, 'eve', 'a player entry keeps its sender');
    t.equal(replay.at(-1)!.id, 'm-0137', 'the push after the junk, last');
    t.equal(replay[100]!.id, 'm-0101', 'junk up to the lane bound, in order');
  });

  test('the server lane evicts its own oldest entries only; a cumulative ack spans both lanes', { max: 3, ttlMs: DAY }, async (t, q) => {
    await queued(t, q.push('u', push(1)));
    await queued(t, q.push('u', entry(2)));
    await queued(t, q.push('u', push(3)));
    await queued(t, q.push('u', entry(4)));
    await queued(t, q.push('u', push(5)));
    t.equal(await queued(t, q.push('u', push(6))), 5, 'the oldest push went: 2 player + 3 server');
    t.strictSame(ids(await q.read('u', T0 + 10)), ['m-0002', 'm-0003', 'm-0004', 'm-0005', 'm-0006']);
    t.equal(await q.ack('u', 'm-0004'), 3, 'acking m-0004 removes m-0002, m-0003 and itself');
    t.strictSame(ids(await q.read('u', T0 + 10)), ['m-0005', 'm-0006']);
    for (const n of [7, 8, 9]) await queued(t, q.push('u', entry(n)));
    t.equal((await q.push('u', entry(10))).queued, false, 'player lane full again (3)');
    t.strictSame(ids(await q.read('u', T0 + 20)), ['m-0005', 'm-0006', 'm-0007', 'm-0008', 'm-0009']);
  });

  test("a push drops the expired head first, so expired messages never fill a lane (on the caller's clock)", { max: 2, ttlMs: DAY }, async (t, q) => {
    await queued(t, q.push('u', entry(1, T0)));
    await queued(t, q.push('u', entry(2, T0 + 10)));
    t.strictSame(await q.push('u', entry(3, T0 + DAY - 1)), { queued: false, quota: 'recipient' }, 'both still live: full');
    t.strictSame(await q.push('u', entry(4, T0 + DAY)), { queued: true, length: 2 }, 'm-0001 expired at T0 + ttl and made room');
    t.strictSame(ids(await q.read('u', T0 + DAY)), ['m-0002', 'm-0004']);
    t.equal(await q.totalBytes(), offlineEntryBytes(entry(2, T0 + 10)) + offlineEntryBytes(entry(4, T0 + DAY)), 'and left the total');
  });

  test('per-recipient byte cap (per lane)', { max: 100, ttlMs: DAY, maxBytes: 4 * offlineEntryBytes(entry(1, T0 + 1, 'carol', 1000)) }, async (t, q) => {
    const big = (n: number, from: string | null = 'carol') => entry(n, T0 + n, from, 1000);
    for (const n of [1, 2, 3, 4]) await queued(t, q.push('u', big(n)));
    t.strictSame(await q.push('u', big(5)), { queued: false, quota: 'recipient' }, 'a fifth of the same size does not fit');
    t.strictSame(await q.push('u', big(6, 'dave')), { queued: false, quota: 'recipient' }, 'whoever sends it');
    await queued(t, q.push('v', big(7)));
    await queued(t, q.push('u', big(8, null)));
    t.equal(await q.length('u'), 5, 'a server push has its own bytes');
    t.equal(await q.ack('u', 'm-0001'), 1);
    await queued(t, q.push('u', big(9)));
    t.strictSame(ids(await q.read('u', T0 + 20)), ['m-0002', 'm-0003', 'm-0004', 'm-0008', 'm-0009'], 'an ack makes room');
  });

  test('per-sender quota: messages, across recipients', { max: 100, ttlMs: DAY, senderMax: 3 }, async (t, q) => {
    for (const [n, to] of [
      [1, 'a'],
      [2, 'b'],
      [3, 'c'],
    ] as const)
      await queued(t, q.push(to, entry(n, T0 + n, 'mallory')));
    t.strictSame(await q.push('d', entry(4, T0 + 4, 'mallory')), { queued: false, quota: 'sender' });
    t.equal(await q.length('d'), 0, 'nothing stored');
    await queued(t, q.push('d', entry(5, T0 + 5, 'alice')));
    await queued(t, q.push('d', push(6)));
    t.equal(await q.ack('a', 'm-0001'), 1);
    t.strictSame(
      await q.push('a', entry(7, T0 + 7, 'mallory')),
      { queued: false, quota: 'sender' },
      'acks do not give the quota back: it counts what was queued in the window',
    );
  });

  test('per-sender quota: bytes', { max: 100, ttlMs: DAY, senderMaxBytes: 2 * offlineEntryBytes(entry(1, T0 + 1, 'mallory', 5000)) }, async (t, q) => {
    await queued(t, q.push('a', entry(1, T0 + 1, 'mallory', 5000)));
    await queued(t, q.push('b', entry(2, T0 + 2, 'mallory', 5000)));
    t.strictSame(await q.push('c', entry(3, T0 + 3, 'mallory', 0)), { queued: false, quota: 'sender' });
    await queued(t, q.push('c', entry(4, T0 + 4, 'alice', 5000)));
  });

  test("the sender's window ends ttlMs after its first queued message (real time, short TTL)", { max: 100, ttlMs: 600, senderMax: 2 }, async (t, q) => {
    await queued(t, q.push('a', entry(1, Date.now(), 'mallory')));
    await sleep(300);
    await queued(t, q.push('b', entry(2, Date.now(), 'mallory')));
    t.equal((await q.push('c', entry(3, Date.now(), 'mallory'))).queued, false);
    await sleep(400);
    await queued(t, q.push('c', entry(4, Date.now(), 'mallory')));
  });

  // One recipient: a store split into buckets caps each bucket's queues (its share of the
  // total), and its test factory gives every bucket the whole cap.
  test(
    'the cluster cap refuses player messages; server pushes still get in',
    { max: 100, ttlMs: DAY, totalMaxBytes: 3 * offlineEntryBytes(entry(1)) },
    async (t, q) => {
      for (const n of [1, 2, 3]) await queued(t, q.push('a', entry(n)));
      t.equal(await q.totalBytes(), offlineEntryBytes(entry(1)) + offlineEntryBytes(entry(2)) + offlineEntryBytes(entry(3)), 'the total counts every entry');
      t.strictSame(await q.push('a', entry(4)), { queued: false, quota: 'cluster' });
      await queued(t, q.push('a', push(5)));
      t.equal(q.stats.totalBytes, await q.totalBytes(), 'the stats see the total');
      t.equal(await q.ack('a', 'm-0002'), 2, 'm-0001 and m-0002 acked');
      await queued(t, q.push('a', entry(6)));
      t.strictSame(await q.push('a', entry(7)), { queued: false, quota: 'cluster' }, 'full again');
    },
  );

  test('the total counts the queues of every recipient', { max: 100, ttlMs: DAY }, async (t, q) => {
    const recipients = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];
    for (const [n, to] of recipients.entries()) await queued(t, q.push(to, entry(n)));
    t.equal(
      await q.totalBytes(),
      recipients.reduce((sum, _, n) => sum + offlineEntryBytes(entry(n)), 0),
    );
  });

  test('the total follows pushes, acks, evictions, expiry on read, and the sweep of expired queues', { max: 2, ttlMs: 600 }, async (t, q) => {
    const now = Date.now();
    const bytes = (...es: OfflineEntry[]) => es.reduce((sum, e) => sum + offlineEntryBytes(e), 0);
    const e1 = entry(1, now - 400);
    const e2 = entry(2, now);
    const p3 = push(3, now);
    await queued(t, q.push('u', e1));
    await queued(t, q.push('u', e2));
    await queued(t, q.push('u', p3));
    t.equal(await q.totalBytes(), bytes(e1, e2, p3));
    await queued(t, q.push('u', push(4, now)));
    await queued(t, q.push('u', push(5, now)));
    t.equal(await q.totalBytes(), bytes(e1, e2, push(4, now), push(5, now)), 'the evicted push left the total');
    t.strictSame(ids(await q.read('u', now + 300)), ['m-0002', 'm-0004', 'm-0005'], 'm-0001 expired');
    t.equal(await q.totalBytes(), bytes(e2, push(4, now), push(5, now)), 'the expired entry left the total');
    t.equal(await q.ack('u', 'm-0002'), 1);
    t.equal(await q.totalBytes(), bytes(push(4, now), push(5, now)));
    const e9 = entry(9, Date.now());
    await queued(t, q.push('w', e9));
    t.equal(await q.sweep(), 0, 'nothing expired yet: the sweep subtracts nothing');
    t.equal(await q.totalBytes(), bytes(push(4, now), push(5, now), e9));
    await sleep(700);
    t.equal(await q.length('u'), 0, 'both queues expired as a whole');
    await q.sweep();
    t.equal(await q.totalBytes(), 0, 'the sweep took the expired queues out of the total');
    t.equal(await q.sweep(), 0, 'a second sweep changes nothing');
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
    t.strictSame(await q.push('u', entry(1)), { queued: false, quota: 'recipient' });
    t.strictSame(await q.push('u', push(2)), { queued: false, quota: 'recipient' });
    t.equal(await q.length('u'), 0);
    t.strictSame(await q.read('u', T0), []);
  });

  test('entries the encoding cannot hold are refused', { max: 10, ttlMs: DAY }, async (t, q) => {
    await t.rejects(q.push('u', { id: 'a b', frame: '{}', queuedAt: T0 }), RangeError);
    await t.rejects(q.push('u', { id: '', frame: '{}', queuedAt: T0 }), RangeError);
    await t.rejects(q.push('u', { id: 'x', frame: '{}', queuedAt: 1.5 }), RangeError);
    await t.rejects(q.push('u', { id: 'x', frame: '{}', queuedAt: T0, from: 'a b' }), RangeError);
    t.equal(await q.length('u'), 0);
  });
}
