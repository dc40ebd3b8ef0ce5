/**
 * The replay gate without sockets: live frames wait behind `connected` and the replay, replay
 * frames are paced (never dropped), only replayed ids are acked, and a nudge sends what a
 * session has not seen.
 */
import t from 'tap';
import { OfflineReplay } from '../../src/delivery/offline-replay.ts';
import { MemoryOfflineQueue } from '../../src/stores/memory/memory-offline-queue.ts';
import type { OfflineEntry, OfflineQueue } from '../../src/delivery/offline-queue.ts';
import { collectingLogger, makeSession, ManualClock } from '../helpers/core.ts';

const entry = (n: number): OfflineEntry => ({ id: `m${n}`, frame: JSON.stringify({ type: 'message', id: `m${n}`, offline: true }), queuedAt: 1 });
const types = (sent: string[]) => sent.map((s) => JSON.parse(s).id ?? JSON.parse(s).type);

/** A queue whose reads answer when the test says so. */
function controlledQueue(inner: MemoryOfflineQueue) {
  const reads: Array<() => void> = [];
  const acks: string[] = [];
  const queue: OfflineQueue = {
    limits: inner.limits,
    stats: inner.stats,
    push: (u, e) => inner.push(u, e),
    read: (u, now) => new Promise((resolve, reject) => reads.push(() => inner.read(u, now).then(resolve, reject))),
    ack: (u, id) => {
      acks.push(id);
      return inner.ack(u, id);
    },
    length: (u) => inner.length(u),
    totalBytes: () => inner.totalBytes(),
    sweep: () => inner.sweep(),
    close: async () => {},
  };
  return { queue, reads, acks };
}

t.test('live frames wait behind the replay, which waits for the login', async (t) => {
  const clock = new ManualClock();
  const inner = new MemoryOfflineQueue({ max: 100, ttlMs: 60_000, now: clock.now });
  for (const n of [1, 2, 3]) await inner.push('alice', { ...entry(n), queuedAt: clock.value });
  const { queue, reads } = controlledQueue(inner);
  const replay = new OfflineReplay({ queue, log: collectingLogger(), now: clock.now, sendQueueMax: 64, sendQueueMaxBytes: 1 << 20 });
  const { session, socket } = makeSession('alice', clock);
  session.state = 'opening';
  replay.hold(session);
  t.ok(replay.send(session, '{"id":"live-1"}'), 'held (accepted)');
  t.same(socket.sent, [], 'nothing before the login');
  session.state = 'open';
  session.send('{"type":"connected"}');
  replay.start(session);
  replay.send(session, '{"id":"live-2"}');
  t.equal(reads.length, 1, 'the queue is being read');
  t.same(types(socket.sent), ['connected'], 'still nothing live while the read is in flight');
  reads[0]!();
  await new Promise((resolve) => setImmediate(resolve));
  t.same(types(socket.sent), ['connected', 'm1', 'm2', 'm3', 'live-1', 'live-2'], 'connected, replay, then live in arrival order');
  replay.send(session, '{"id":"live-3"}');
  t.same(types(socket.sent).at(-1), 'live-3', 'the gate is open now');
  t.equal(replay.gated, 0);
});

t.test('without queued messages or without a queue, the gate opens at once', async (t) => {
  const clock = new ManualClock();
  for (const queue of [undefined, new MemoryOfflineQueue({ max: 0, ttlMs: 1000 })]) {
    const replay = new OfflineReplay({ queue, log: collectingLogger(), now: clock.now, sendQueueMax: 64, sendQueueMaxBytes: 1 << 20 });
    const { session, socket } = makeSession('u', clock);
    replay.hold(session);
    replay.send(session, '{"id":"early"}');
    replay.start(session);
    replay.send(session, '{"id":"late"}');
    t.same(types(socket.sent), ['early', 'late']);
  }
});

t.test('replay frames are paced by the send queue, never dropped', async (t) => {
  const clock = new ManualClock();
  const inner = new MemoryOfflineQueue({ max: 100, ttlMs: 60_000, now: clock.now });
  for (let n = 1; n <= 50; n++) await inner.push('u', { ...entry(n), queuedAt: clock.value });
  const replay = new OfflineReplay({ queue: inner, log: collectingLogger(), now: clock.now, sendQueueMax: 4, sendQueueMaxBytes: 1 << 20, paceMs: 5 });
  const { session, socket } = makeSession('u', clock);
  // A socket that keeps everything buffered: the session queue fills after one in-flight frame.
  socket.bufferedAmount = 1 << 20;
  replay.hold(session);
  replay.start(session);
  replay.send(session, '{"id":"live"}');
  await new Promise((resolve) => setTimeout(resolve, 30));
  t.equal(session.queue.dropped, 0, 'nothing dropped');
  t.ok(replay.gated === 1, 'still pacing');
  socket.bufferedAmount = 0; // the socket drains
  await new Promise((resolve) => setTimeout(resolve, 100));
  t.same(types(socket.sent), [...Array.from({ length: 50 }, (_, i) => `m${i + 1}`), 'live'], 'everything, in order');
  t.equal(replay.gated, 0);
});

t.test('acks: only ids the session was replayed reach the store; resume sends the unseen', async (t) => {
  const clock = new ManualClock();
  const inner = new MemoryOfflineQueue({ max: 100, ttlMs: 60_000, now: clock.now });
  await inner.push('u', { ...entry(1), queuedAt: clock.value });
  const { queue, reads, acks } = controlledQueue(inner);
  const replay = new OfflineReplay({ queue, log: collectingLogger(), now: clock.now, sendQueueMax: 64, sendQueueMaxBytes: 1 << 20 });
  const { session, socket } = makeSession('u', clock);
  replay.hold(session);
  replay.start(session);
  // A message queued while the read is in flight: the nudge asks for one more read.
  await inner.push('u', { ...entry(2), queuedAt: clock.value });
  replay.resume([session]);
  reads.shift()!();
  await new Promise((resolve) => setImmediate(resolve));
  t.equal(reads.length, 1, 'read again');
  reads.shift()!();
  await new Promise((resolve) => setImmediate(resolve));
  t.same(types(socket.sent), ['m1', 'm2']);
  replay.ack(session, 'live-message-id');
  t.same(acks, [], 'an id that was not replayed costs nothing');
  replay.ack(session, 'm2');
  t.same(acks, ['m2']);
  await new Promise((resolve) => setImmediate(resolve));
  t.equal(await inner.length('u'), 0, 'cumulative');
  // Later nudge with one more message: only the new one is sent.
  await inner.push('u', { ...entry(3), queuedAt: clock.value });
  replay.resume([session]);
  reads.shift()!();
  await new Promise((resolve) => setImmediate(resolve));
  t.same(types(socket.sent), ['m1', 'm2', 'm3']);
  replay.forget(session);
  replay.ack(session, 'm3');
  t.same(acks, ['m2'], 'a closed session acks nothing');
});

t.test('a login that saw no queue skips the read, unless a push nudged the session while it was opening', async (t) => {
  const clock = new ManualClock();
  const inner = new MemoryOfflineQueue({ max: 100, ttlMs: 60_000, now: clock.now });
  const { queue, reads } = controlledQueue(inner);
  const replay = new OfflineReplay({ queue, log: collectingLogger(), now: clock.now, sendQueueMax: 64, sendQueueMaxBytes: 1 << 20 });

  const quiet = makeSession('quiet', clock);
  quiet.session.state = 'opening';
  replay.hold(quiet.session);
  quiet.session.state = 'open';
  replay.start(quiet.session, true);
  replay.send(quiet.session, '{"id":"live"}');
  t.equal(reads.length, 0, 'no read: the login saw no queue');
  t.same(types(quiet.socket.sent), ['live'], 'and the gate is open');

  // A message pushed after the login step, while the session is still opening: the sender's
  // nudge (resume) finds it opening; its start must read the queue even so.
  const late = makeSession('late', clock);
  late.session.state = 'opening';
  replay.hold(late.session);
  await inner.push('late', { ...entry(7), queuedAt: clock.value });
  replay.resume([late.session]);
  late.session.state = 'open';
  replay.start(late.session, true);
  t.equal(reads.length, 1, 'read despite the login having seen no queue');
  reads[0]!();
  await new Promise((resolve) => setImmediate(resolve));
  t.same(types(late.socket.sent), ['m7'], 'the late message is replayed');
});
