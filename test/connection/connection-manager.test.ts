/**
 * ConnectionManager: the node's index of live sessions by session id and by user, with several
 * sessions per user (SESSION_POLICY=multi), exactly-once removal, and the counters /ws/stats
 * reads.
 */
import t from 'tap';
import { ConnectionManager } from '../../src/connection/connection-manager.ts';
import { makeSession, ManualClock } from '../helpers/core.ts';

const clock = new ManualClock();

t.test('add, lookup and counters with several sessions per user', async (t) => {
  const cm = new ConnectionManager();
  t.equal(cm.size, 0);
  t.equal(cm.userCount, 0);
  t.equal(cm.sessionsOf('alice'), undefined, 'unknown user: undefined');
  t.equal(cm.countOf('alice'), 0);

  const a1 = makeSession('alice', clock, 'a1').session;
  const a2 = makeSession('alice', clock, 'a2').session;
  const b1 = makeSession('bob', clock, 'b1').session;
  t.same(cm.add(a1), [], 'first session of alice: no others');
  t.same(cm.add(a2), [a1], "alice's second session: the first is returned as the other");
  t.same(cm.add(b1), [], 'bob is not alice');

  t.equal(cm.size, 3, 'three sessions');
  t.equal(cm.userCount, 2, 'two users');
  t.equal(cm.totalAdded, 3);
  t.equal(cm.get('a1'), a1, 'lookup by session id');
  t.equal(cm.get('a2'), a2);
  t.equal(cm.get('nope'), undefined);
  t.same([...cm.sessionsOf('alice')!], [a1, a2], "alice's sessions, in arrival order");
  t.equal(cm.countOf('alice'), 2);
  t.equal(cm.countOf('bob'), 1);
  t.same(
    [...cm.sessions()].map((s) => s.id),
    ['a1', 'a2', 'b1'],
  );
  t.same([...cm.users()].sort(), ['alice', 'bob']);
});

t.test('remove is exactly once and keeps the indexes consistent', async (t) => {
  const cm = new ConnectionManager();
  const a1 = makeSession('alice', clock, 'a1').session;
  const a2 = makeSession('alice', clock, 'a2').session;
  cm.add(a1);
  cm.add(a2);
  t.equal(cm.remove(a1), true, 'removed');
  t.equal(cm.remove(a1), false, 'a second remove of the same session is refused');
  t.equal(cm.get('a1'), undefined);
  t.same([...cm.sessionsOf('alice')!], [a2], 'the other session of the user stays');
  t.equal(cm.size, 1);
  t.equal(cm.userCount, 1, 'the user still has a session');
  t.equal(cm.remove(a2), true);
  t.equal(cm.sessionsOf('alice'), undefined, 'the last session gone: the user is gone from the index');
  t.equal(cm.userCount, 0);
  t.equal(cm.size, 0);
  t.equal(cm.totalAdded, 2, 'totalAdded only grows');
});

t.test('a stale object with a reused session id does not remove the live one', async (t) => {
  const cm = new ConnectionManager();
  const live = makeSession('carol', clock, 'same-id').session;
  const impostor = makeSession('carol', clock, 'same-id').session;
  cm.add(live);
  t.equal(cm.remove(impostor), false, 'not the indexed object: nothing removed');
  t.equal(cm.get('same-id'), live);
  t.equal(cm.countOf('carol'), 1);
});

t.test('many sessions: add and remove in any order', async (t) => {
  const cm = new ConnectionManager();
  const sessions = Array.from({ length: 300 }, (_, i) => makeSession(`u${i % 30}`, clock, `s${i}`).session);
  for (const s of sessions) cm.add(s);
  t.equal(cm.size, 300);
  t.equal(cm.userCount, 30);
  t.equal(cm.countOf('u7'), 10);
  t.ok(
    sessions.filter((_, i) => i % 2 === 0).every((s) => cm.remove(s)),
    'every even session removed',
  );
  t.equal(cm.size, 150);
  t.equal(cm.countOf('u7'), 10, 'u7 had s7, s37, ...: odd indexes, all kept');
  t.equal(cm.countOf('u8'), 0, 'even users lost every session');
  t.equal(cm.userCount, 15);
  t.ok(
    [...cm.sessions()].every((s) => [...(cm.sessionsOf(s.userId) ?? [])].includes(s) && cm.get(s.id) === s),
    'every live session indexed both ways',
  );
  t.equal(
    [...cm.users()].reduce((n, u) => n + cm.countOf(u), 0),
    cm.size,
    'per-user counts add up to the size',
  );
});

t.test('one session, then several, then one again: arrival order and counts hold', async (t) => {
  const cm = new ConnectionManager();
  const [d1, d2, d3, d4] = ['d1', 'd2', 'd3', 'd4'].map((id) => makeSession('dana', clock, id).session);
  cm.add(d1!);
  t.same([...cm.sessionsOf('dana')!], [d1]);
  t.same([...cm.sessionsOf('dana')!], [d1], 'iterable again');
  cm.add(d2!);
  t.same(cm.add(d3!), [d1, d2], 'the others, in arrival order');
  t.equal(cm.countOf('dana'), 3);
  cm.remove(d1!);
  cm.remove(d3!);
  t.same([...cm.sessionsOf('dana')!], [d2], 'back to one');
  t.equal(cm.countOf('dana'), 1);
  t.same(cm.add(d4!), [d2], 'and growing again');
  t.same([...cm.sessionsOf('dana')!], [d2, d4]);
  t.equal(cm.userCount, 1);
  cm.remove(d2!);
  cm.remove(d4!);
  t.equal(cm.countOf('dana'), 0);
  t.equal(cm.sessionsOf('dana'), undefined);
});
