/**
 * RoomService batching, on the in-process bus and directory with every call recorded: the joins
 * and leaves of all sessions within one flush are one directory call and one (UN)SUBSCRIBE; a
 * join and a leave that cancel out never reach them; `joined` waits for the room's subscription;
 * a failed subscription evicts its members with NOT_AVAILABLE; the per-session join/leave budget.
 */
import t, { type Test } from 'tap';
import { RoomService } from '../../src/delivery/room-service.ts';
import type { MembershipChange } from '../../src/delivery/room-directory.ts';
import { MemoryBus } from '../../src/stores/memory/memory-bus.ts';
import { MemoryRoomDirectory } from '../../src/stores/memory/memory-room-directory.ts';
import { collectingLogger, makeSession, ManualClock } from '../helpers/core.ts';

const FLUSH_MS = 5;
const settle = () => new Promise((resolve) => setTimeout(resolve, FLUSH_MS * 4));

class RecordingBus extends MemoryBus {
  subscribes: string[][] = [];
  unsubscribes: string[][] = [];
  /** When set, SUBSCRIBE waits for it (a slow link) and fails if it rejects. */
  gate: Promise<void> | undefined;
  override async subscribeRooms(rooms: readonly string[]): Promise<void> {
    this.subscribes.push([...rooms]);
    if (this.gate) await this.gate;
    return super.subscribeRooms(rooms);
  }
  override async unsubscribeRooms(rooms: readonly string[]): Promise<void> {
    this.unsubscribes.push([...rooms]);
    return super.unsubscribeRooms(rooms);
  }
}

class RecordingDirectory extends MemoryRoomDirectory {
  applied: MembershipChange[][] = [];
  override async apply(nodeId: string, changes: readonly MembershipChange[]): Promise<void> {
    this.applied.push([...changes]);
    return super.apply(nodeId, changes);
  }
}

async function setup(t: Test, maxRoomChangesPerSec = 10) {
  const clock = new ManualClock();
  const bus = new RecordingBus();
  await bus.subscribe('n1', () => {});
  t.teardown(() => bus.close());
  const directory = new RecordingDirectory();
  const log = collectingLogger();
  const rooms = new RoomService({
    nodeId: 'n1',
    bus,
    directory,
    maxRoomsPerSession: 8,
    maxRoomChangesPerSec,
    flushMs: FLUSH_MS,
    log,
    now: clock.now,
    send: (session, frame) => session.send(frame),
    sendControl: (session, frame) => session.sendControl(frame),
  });
  await rooms.sync();
  directory.applied.length = 0;
  const frames = (socket: { sent: string[] }) => socket.sent.map((f) => JSON.parse(f) as Record<string, unknown>);
  return { clock, bus, directory, rooms, frames, log };
}

t.test('one flush for the joins of 10 sessions: one directory call, one SUBSCRIBE', async (t) => {
  const { bus, directory, rooms, frames } = await setup(t);
  const clock = new ManualClock();
  const players = Array.from({ length: 10 }, (_, i) => makeSession(`p${i}`, clock));
  for (const [i, { session }] of players.entries()) {
    rooms.join(session, 'lobby');
    rooms.join(session, `own-${i}`);
  }
  t.same(frames(players[0]!.socket), [], 'no answer before the flush');
  await settle();
  t.equal(directory.applied.length, 1, 'one directory call');
  t.equal(directory.applied[0]!.length, 20);
  t.same(
    bus.subscribes.map((rooms) => rooms.length),
    [11],
    'one SUBSCRIBE for 11 rooms',
  );
  t.same(frames(players[3]!.socket), [
    { type: 'joined', room: 'lobby' },
    { type: 'joined', room: 'own-3' },
  ]);
  t.same(await directory.getRoom('lobby'), { n1: 10 });

  for (const { session } of players) rooms.sessionClosed(session);
  await settle();
  t.equal(directory.applied.length, 2, 'the closes: one more directory call');
  t.same(
    bus.unsubscribes.map((rooms) => rooms.length),
    [11],
    'one UNSUBSCRIBE for 11 rooms',
  );
  t.same((await directory.listRooms({ limit: 100 })).rooms, []);
});

t.test('a join and a leave that cancel out inside a flush never reach the bus or the directory', async (t) => {
  const { bus, directory, rooms, frames } = await setup(t, 100);
  const clock = new ManualClock();
  const { session, socket } = makeSession('flipper', clock);
  const other = makeSession('stayer', clock);
  rooms.join(other.session, 'kept');
  await settle();
  const [applied, subscribes] = [directory.applied.length, bus.subscribes.length];
  for (let i = 0; i < 5; i++) {
    rooms.join(session, 'brief'); // 0 -> 1 -> 0 local members
    rooms.leave(session, 'brief');
    rooms.join(session, 'kept'); // a room the node keeps
    rooms.leave(session, 'kept');
  }
  await settle();
  t.equal(directory.applied.length, applied, 'no directory write');
  t.equal(bus.subscribes.length, subscribes, 'no SUBSCRIBE');
  t.same(bus.unsubscribes, [], 'no UNSUBSCRIBE');
  t.same(
    frames(socket).map((f) => f.type),
    Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? 'joined' : 'left')),
    'every frame answered, in order',
  );
  t.same(await directory.getRoom('kept'), { n1: 1 });
  t.same(await directory.getRoom('brief'), {});
});

t.test('joined waits for the subscription; a failed one evicts its members with NOT_AVAILABLE', async (t) => {
  const { bus, directory, rooms, frames } = await setup(t);
  const clock = new ManualClock();
  const a = makeSession('a', clock);
  const b = makeSession('b', clock);
  let open!: () => void;
  bus.gate = new Promise((resolve) => {
    open = resolve;
  });
  rooms.join(a.session, 'slow');
  await settle();
  t.same(bus.subscribes, [['slow']], 'SUBSCRIBE sent');
  rooms.join(b.session, 'slow'); // while the first flush is in flight
  await settle();
  t.same(frames(a.socket), [], 'no joined before Redis confirmed the subscription');
  open();
  await settle();
  t.same(frames(a.socket), [{ type: 'joined', room: 'slow' }]);
  t.same(frames(b.socket), [{ type: 'joined', room: 'slow' }]);
  t.same(bus.subscribes, [['slow']], 'the second member needed no SUBSCRIBE');

  bus.gate = Promise.reject(new Error('bus down'));
  bus.gate.catch(() => {});
  const c = makeSession('c', clock);
  rooms.join(c.session, 'doomed');
  rooms.join(a.session, 'doomed');
  await settle();
  await settle();
  t.match(frames(c.socket), [{ type: 'error', code: 'NOT_AVAILABLE', error: /doomed/ }]);
  t.match(frames(a.socket).at(-1), { type: 'error', code: 'NOT_AVAILABLE' });
  t.notOk(rooms.registry.has(c.session, 'doomed'), 'evicted');
  t.equal(rooms.registry.localCount('doomed'), 0);
  t.same(await directory.getRoom('doomed'), {}, 'the eviction reached the directory');
  bus.gate = undefined;
  rooms.join(c.session, 'doomed');
  await settle();
  t.same(frames(c.socket).at(-1), { type: 'joined', room: 'doomed' }, 'a later join works');
});

t.test('join/leave budget: a burst of MAX_ROOM_CHANGES_PER_SEC, then that many per second', async (t) => {
  const { clock, directory, rooms, frames } = await setup(t, 3);
  const { session, socket } = makeSession('eager', clock);
  for (const room of ['r1', 'r2', 'r3', 'r4']) rooms.join(session, room);
  rooms.leave(session, 'r1');
  await settle();
  t.match(frames(socket), [
    { type: 'joined', room: 'r1' },
    { type: 'joined', room: 'r2' },
    { type: 'joined', room: 'r3' },
    { type: 'error', code: 'ROOM_RATE_LIMITED', error: /join r4 refused: at most 3 joins and leaves per second/ },
    { type: 'error', code: 'ROOM_RATE_LIMITED', error: /leave r1 refused/ },
  ]);
  t.notOk(rooms.registry.has(session, 'r4'), 'the refused join changed nothing');
  t.ok(rooms.registry.has(session, 'r1'), 'the refused leave changed nothing');
  t.same(await directory.getRoom('r4'), {});
  clock.advance(340); // one token back (3 per second)
  rooms.leave(session, 'r1');
  rooms.join(session, 'r4');
  await settle();
  t.match(frames(socket).slice(5), [
    { type: 'left', room: 'r1' },
    { type: 'error', code: 'ROOM_RATE_LIMITED' },
  ]);
  clock.advance(1000);
  rooms.join(session, 'r4');
  await settle();
  t.same(frames(socket).at(-1), { type: 'joined', room: 'r4' });
  const other = makeSession('other', clock);
  rooms.join(other.session, 'r1');
  await settle();
  t.same(frames(other.socket), [{ type: 'joined', room: 'r1' }], 'budgets are per session');
  rooms.sessionClosed(session);
  await settle();
  t.same(await directory.getRoom('r4'), {}, 'a close is never refused');
});

t.test('the directory check heals a lost share, and is not fooled by changes still being collected', async (t) => {
  const { clock, directory, rooms, log } = await setup(t);
  const syncs = () => log.messages('room directory synced').length;
  const players = Array.from({ length: 3 }, (_, i) => makeSession(`h${i}`, clock));
  for (const [i, { session }] of players.entries()) rooms.join(session, `heal-${i}`);
  await settle();
  const check = async () => {
    rooms.tick(clock.advance(10_001));
    await settle();
  };
  // Joins collected but not flushed yet: the directory lags them, which is no mismatch.
  const late = makeSession('late', clock);
  for (let i = 0; i < 3; i++) {
    rooms.join(late.session, `late-${i}`);
    await check();
  }
  t.equal(syncs(), 1, 'no re-sync after the one at start');
  t.equal(await directory.nodeRoomCount('n1'), 6, 'the late joins flushed as usual');

  // The store lost this node's share (a Redis restart, a purge by a reader): two checks, a re-sync.
  while ((await directory.purgeNode('n1', 100)) > 0);
  await check();
  await check();
  rooms.tick(clock.advance(1000));
  await settle();
  t.equal(syncs(), 2, 'one re-sync');
  t.equal(await directory.nodeRoomCount('n1'), 6, 're-synced from the local registry');
  t.same(await directory.getRoom('heal-1'), { n1: 1 });
});
