import t from 'tap';
import { RoomRegistry } from '../../src/delivery/rooms.ts';
import { makeSession, ManualClock } from '../helpers/core.ts';

t.test('room registry: per-session membership, first/last, limit, fan-out', async (t) => {
  const clock = new ManualClock();
  const registry = new RoomRegistry(2);
  const a1 = makeSession('alice', clock);
  const a2 = makeSession('alice', clock);
  const b = makeSession('bob', clock);
  t.same(registry.join(a1.session, 'r'), { status: 'joined', first: true });
  t.same(registry.join(a1.session, 'r'), { status: 'already' });
  t.same(registry.join(a2.session, 'r'), { status: 'joined', first: false });
  t.same(registry.join(b.session, 'r'), { status: 'joined', first: false });
  t.same(registry.join(a1.session, 's'), { status: 'joined', first: true });
  t.same(registry.join(a1.session, 'x'), { status: 'limit' });
  t.equal(registry.localCount('r'), 3);
  t.same(
    registry.memberships().sort((x, y) => (x.room + x.userId).localeCompare(y.room + y.userId)),
    [
      { room: 'r', userId: 'alice', sessions: 2 },
      { room: 'r', userId: 'bob', sessions: 1 },
      { room: 's', userId: 'alice', sessions: 1 },
    ],
  );
  t.equal(registry.fanout('r', 'F', a1.session), 2, 'all but the sender');
  t.same([a1.socket.sent, a2.socket.sent, b.socket.sent], [[], ['F'], ['F']]);
  t.same(registry.leave(b.session, 'r'), { left: true, last: false });
  t.same(registry.leave(b.session, 'r'), { left: false, last: false });
  t.same(registry.leaveAll(a1.session), { rooms: ['r', 's'], emptied: ['s'] });
  t.same(registry.leave(a2.session, 'r'), { left: true, last: true });
  t.equal(registry.roomCount, 0);
  t.notOk(registry.has(a1.session, 'r'));
});

t.test('room registry: 10,000-member fan-out is one pass', async (t) => {
  const clock = new ManualClock();
  const registry = new RoomRegistry(64);
  const sessions = Array.from({ length: 10_000 }, (_, i) => makeSession(`u${i}`, clock));
  for (const { session } of sessions) registry.join(session, 'big');
  const started = performance.now();
  t.equal(registry.fanout('big', '{"type":"room"}'), 10_000);
  t.comment(`10k fan-out: ${(performance.now() - started).toFixed(1)} ms`);
  t.ok(sessions.every((s) => s.socket.sent.length === 1));
});
