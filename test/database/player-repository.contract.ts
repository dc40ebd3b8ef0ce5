/**
 * The PlayerRepository contract, run against every database backend (embedded PGlite and real
 * PostgreSQL) by player-repository.test.ts. Each backend gets one migrated database; subtests
 * use their own user ids so they never see each other's rows.
 */
import type { Test } from 'tap';
import type { Database } from '../../src/database/database.ts';
import { PrismaPlayerRepository } from '../../src/database/prisma-player-repository.ts';
import type { LogoutRecord } from '../../src/presence/logout-outbox.ts';

/** Opens a fresh, migrated database whose statements are reported to `onQuery`; null = skipped. */
export type OpenTestDatabase = (t: Test, onQuery: (sql: string) => void) => Promise<Database | null>;

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0, 0);
const sec = (n: number) => T0 + n * 1000;

function logout(userId: string, session: string, connectedAt: number, logoutAt: number, extra: Partial<LogoutRecord> = {}): LogoutRecord {
  return {
    userId,
    username: `name-${userId}`,
    logicalSessionId: session,
    nodeId: 'node-a',
    epoch: 1,
    connectedAt,
    logoutAt,
    reason: 'client_close',
    ...extra,
  };
}

/** Registers the contract's subtests on `t` against the database `open` gives. */
export function playerRepositoryContract(t: Test, open: OpenTestDatabase): void {
  let statements: string[] = [];
  let db: Database | null = null;
  let repo!: PrismaPlayerRepository;

  t.before(async () => {
    db = await open(t, (sql) => statements.push(sql));
    if (db) repo = new PrismaPlayerRepository(db.prisma);
  });
  t.teardown(() => db?.close());

  /** Runs `fn` and returns the statements it sent to the driver. */
  const counting = async (fn: () => Promise<unknown>) => {
    statements = [];
    await fn();
    const sent = statements;
    statements = [];
    return sent;
  };

  const sessionsOf = (userId: string) => repo.listSessions(userId, 100);
  /** One login joining an open logical session (user row only). */
  const login = (userId: string, username: string, at: number) => repo.recordLogins([{ userId, username, loginAt: at }]);
  /** One login opening a logical session (user and session rows). */
  const openSession = (s: { id: string; userId: string; username: string; nodeId: string; epoch: number; connectedAt: number }) =>
    repo.recordLogins([{ userId: s.userId, username: s.username, loginAt: s.connectedAt, session: { id: s.id, nodeId: s.nodeId, epoch: s.epoch } }]);

  t.test('existingUsers: the ids with a user row, in one statement', async (t) => {
    if (!db) return;
    t.strictSame(await repo.existingUsers([]), new Set(), 'no ids: no query');
    await login('ex-1', 'one', sec(1));
    await login('ex-2', 'two', sec(2));
    const sent = await counting(async () => {
      t.strictSame(await repo.existingUsers(['ex-1', 'ex-missing', 'ex-2', 'ex-1']), new Set(['ex-1', 'ex-2']));
    });
    t.equal(sent.length, 1, 'one statement for the batch');
    t.strictSame(await repo.existingUsers(['ex-missing', "x' OR 1=1 --"]), new Set(), 'unknown ids (and SQL in an id) match nothing');
  });

  t.test('a login creates the user, then refreshes username and last_login_at', async (t) => {
    if (!db) return;
    await login('eu-1', 'alice', sec(10));
    const created = await repo.getUser('eu-1');
    t.ok(created, 'user exists');
    t.equal(created?.username, 'alice');
    t.equal(created?.lastLoginAt?.getTime(), sec(10));
    t.equal(created?.lastLogoutAt, null);
    t.equal(created?.lastSpiritGainTime, null);
    t.ok(created && Math.abs(created.createdAt.getTime() - Date.now()) < 60_000, 'created_at set by the database');

    await login('eu-1', 'alice2', sec(20));
    const updated = await repo.getUser('eu-1');
    t.equal(updated?.username, 'alice2', 'username refreshed');
    t.equal(updated?.lastLoginAt?.getTime(), sec(20), 'last_login_at moved forward');
    t.equal(updated?.createdAt.getTime(), created?.createdAt.getTime(), 'created_at kept');
    t.ok(updated && created && updated.updatedAt >= created.updatedAt, 'updated_at not older');

    await login('eu-1', 'alice2', sec(5));
    t.equal((await repo.getUser('eu-1'))?.lastLoginAt?.getTime(), sec(20), 'an older login never moves it back');
    t.equal(await repo.getUser('eu-missing'), null, 'unknown user is null');
  });

  t.test('a login opening a logical session creates the user and an open session, once', async (t) => {
    if (!db) return;
    const input = { id: 'os-s1', userId: 'os-1', username: 'bob', nodeId: 'node-a', epoch: 2 ** 40, connectedAt: sec(1) };
    await openSession(input);
    await openSession({ ...input, nodeId: 'node-b', epoch: 7, connectedAt: sec(99) });
    const sessions = await sessionsOf('os-1');
    t.same(sessions, [{ id: 'os-s1', userId: 'os-1', nodeId: 'node-a', epoch: 2 ** 40, connectedAt: new Date(sec(1)), disconnectedAt: null, reason: null }]);
    t.equal(typeof sessions[0]?.epoch, 'number', 'epoch is a number, not a bigint');
    const user = await repo.getUser('os-1');
    t.equal(user?.username, 'bob', 'user row created with the session');
    t.equal(user?.lastLoginAt?.getTime(), sec(99), 'the user row follows the later login; the session row keeps its first');
  });

  t.test('recordLogouts closes a session opened earlier, keeping its opening data', async (t) => {
    if (!db) return;
    await login('rl-1', 'carol', sec(1));
    await openSession({ id: 'rl-s1', userId: 'rl-1', username: 'carol', nodeId: 'node-a', epoch: 3, connectedAt: sec(1) });
    await repo.recordLogouts([logout('rl-1', 'rl-s1', sec(1), sec(50), { epoch: 3, reason: 'heartbeat_timeout' })]);
    const [session] = await sessionsOf('rl-1');
    t.equal(session?.disconnectedAt?.getTime(), sec(50));
    t.equal(session?.reason, 'heartbeat_timeout');
    t.equal(session?.epoch, 3);
    const user = await repo.getUser('rl-1');
    t.equal(user?.lastLogoutAt?.getTime(), sec(50));
    t.equal(user?.lastSpiritGainTime?.getTime(), sec(50));
    t.equal(user?.lastLoginAt?.getTime(), sec(1), 'last_login_at untouched');
    t.equal(user?.username, 'carol');
  });

  t.test('a logout whose login never landed creates the user and the closed session', async (t) => {
    if (!db) return;
    await repo.recordLogouts([logout('lo-1', 'lo-s1', sec(2), sec(30), { nodeId: 'node-z', epoch: 9, reason: 'kicked' })]);
    t.same(await sessionsOf('lo-1'), [
      { id: 'lo-s1', userId: 'lo-1', nodeId: 'node-z', epoch: 9, connectedAt: new Date(sec(2)), disconnectedAt: new Date(sec(30)), reason: 'kicked' },
    ]);
    const user = await repo.getUser('lo-1');
    t.equal(user?.username, 'name-lo-1');
    t.equal(user?.lastLogoutAt?.getTime(), sec(30));
    t.equal(user?.lastSpiritGainTime?.getTime(), sec(30));
    t.equal(user?.lastLoginAt, null);
  });

  t.test('1,000 logouts are written by one statement', async (t) => {
    if (!db) return;
    const records: LogoutRecord[] = [];
    for (let i = 0; i < 1000; i++) {
      const user = `bulk-${i % 250}`; // four sessions per user, logged out at different times
      records.push(logout(user, `bulk-s${i}`, sec(i), sec(1000 + i), { epoch: i, reason: `r${i % 3}` }));
    }
    const sent = await counting(() => repo.recordLogouts(records));
    t.equal(sent.length, 1, `one statement reached the driver (got ${sent.length})`);
    t.match(sent[0] ?? '', /unnest/, 'the statement is the unnest batch');

    const closed = await db.prisma.playerSession.count({ where: { id: { startsWith: 'bulk-s' }, disconnectedAt: { not: null } } });
    t.equal(closed, 1000, 'every session closed');
    t.equal(await db.prisma.user.count({ where: { id: { startsWith: 'bulk-' } } }), 250, 'every user created once');
    // bulk-7 owns sessions 7, 257, 507 and 757: its latest logout is that of session 757.
    const user = await repo.getUser('bulk-7');
    t.equal(user?.lastLogoutAt?.getTime(), sec(1757), 'latest logout of the batch wins');
    t.equal(user?.lastSpiritGainTime?.getTime(), sec(1757));
    const s = (await sessionsOf('bulk-7')).find((row) => row.id === 'bulk-s507');
    t.same(s, {
      id: 'bulk-s507',
      userId: 'bulk-7',
      nodeId: 'node-a',
      epoch: 507,
      connectedAt: new Date(sec(507)),
      disconnectedAt: new Date(sec(1507)),
      reason: 'r0',
    });
  });

  t.test('an empty batch sends nothing', async (t) => {
    if (!db) return;
    t.same(await counting(() => repo.recordLogouts([])), []);
  });

  t.test('replaying the same logouts changes nothing', async (t) => {
    if (!db) return;
    const records = [
      logout('rp-1', 'rp-s1', sec(1), sec(10)),
      logout('rp-1', 'rp-s2', sec(11), sec(20), { reason: 'server_shutdown' }),
      logout('rp-2', 'rp-s3', sec(3), sec(15)),
    ];
    await repo.recordLogouts(records);
    const snapshot = async () => ({
      users: await db!.prisma.user.findMany({ where: { id: { startsWith: 'rp-' } }, orderBy: { id: 'asc' } }),
      sessions: await db!.prisma.playerSession.findMany({ where: { userId: { startsWith: 'rp-' } }, orderBy: { id: 'asc' } }),
    });
    const before = await snapshot();
    t.equal(before.sessions.length, 3);
    await new Promise((resolve) => setTimeout(resolve, 20)); // a rewrite would show a newer updated_at
    await repo.recordLogouts(records);
    // A retry that carries different data (later time, other reason) must not rewrite either.
    await repo.recordLogouts([logout('rp-1', 'rp-s1', sec(1), sec(12), { reason: 'other' })]);
    t.same(await snapshot(), before, 'users (updated_at included) and sessions are unchanged');
  });

  t.test('the same session twice in one batch: the first logout wins', async (t) => {
    if (!db) return;
    await repo.recordLogouts([logout('dup-1', 'dup-s1', sec(1), sec(40), { reason: 'b' }), logout('dup-1', 'dup-s1', sec(1), sec(30), { reason: 'a' })]);
    const sessions = await sessionsOf('dup-1');
    t.equal(sessions.length, 1);
    t.equal(sessions[0]?.disconnectedAt?.getTime(), sec(30));
    t.equal(sessions[0]?.reason, 'a');
    t.equal((await repo.getUser('dup-1'))?.lastLogoutAt?.getTime(), sec(40), 'the user keeps the latest time');
  });

  t.test('an older logout never moves the user timestamps backwards', async (t) => {
    if (!db) return;
    await repo.recordLogouts([logout('old-1', 'old-s2', sec(100), sec(200))]);
    await repo.recordLogouts([logout('old-1', 'old-s1', sec(10), sec(50))]); // delivered late
    const user = await repo.getUser('old-1');
    t.equal(user?.lastLogoutAt?.getTime(), sec(200));
    t.equal(user?.lastSpiritGainTime?.getTime(), sec(200));
    const late = (await sessionsOf('old-1')).find((s) => s.id === 'old-s1');
    t.equal(late?.disconnectedAt?.getTime(), sec(50), 'the late session itself is still recorded');
    t.same(
      (await sessionsOf('old-1')).map((s) => s.id),
      ['old-s2', 'old-s1'],
      'newest session first',
    );
    t.same(
      (await repo.listSessions('old-1', 1)).map((s) => s.id),
      ['old-s2'],
      'limit applies',
    );
  });

  t.test('findClosedSessions names exactly the sessions whose logout was written', async (t) => {
    if (!db) return;
    await openSession({ id: 'fc-open', userId: 'fc-1', username: 'fc', nodeId: 'node-a', epoch: 1, connectedAt: sec(1) });
    await repo.recordLogouts([logout('fc-1', 'fc-closed', sec(1), sec(9))]);
    const closed = await repo.findClosedSessions(['fc-open', 'fc-closed', 'fc-unknown']);
    t.same([...closed], ['fc-closed']);
    t.same([...(await repo.findClosedSessions([]))], []);
  });

  t.test('recordLogins: users created or refreshed, sessions opened once, in one statement', async (t) => {
    if (!db) return;
    await login('rl2-old', 'before', sec(1));
    const sent = await counting(() =>
      repo.recordLogins([
        { userId: 'rl2-new', username: 'nina', loginAt: sec(10), session: { id: 'rl2-s1', nodeId: 'node-a', epoch: 1 } },
        // An existing user opening a new logical session: last_login_at moves too.
        { userId: 'rl2-old', username: 'after', loginAt: sec(20), session: { id: 'rl2-s2', nodeId: 'node-b', epoch: 4 } },
        // A second device joining the open logical session of rl2-new: no new session row.
        { userId: 'rl2-new', username: 'nina', loginAt: sec(12) },
      ]),
    );
    t.equal(sent.length, 1, 'one statement for the batch');
    t.equal((await repo.getUser('rl2-new'))?.lastLoginAt?.getTime(), sec(12), 'the latest login of the user');
    const old = await repo.getUser('rl2-old');
    t.equal(old?.username, 'after', 'username refreshed');
    t.equal(old?.lastLoginAt?.getTime(), sec(20), 'last_login_at of an existing user moves on a new logical session');
    t.same(
      (await sessionsOf('rl2-new')).map((s) => [s.id, s.nodeId, s.epoch, s.connectedAt.getTime(), s.disconnectedAt]),
      [['rl2-s1', 'node-a', 1, sec(10), null]],
    );
    t.same(
      (await sessionsOf('rl2-old')).map((s) => [s.id, s.epoch]),
      [['rl2-s2', 4]],
    );

    // Replayed, or an older login arriving late: nothing moves backwards, nothing doubles.
    await repo.recordLogins([{ userId: 'rl2-new', username: 'nina', loginAt: sec(5), session: { id: 'rl2-s1', nodeId: 'node-z', epoch: 9 } }]);
    t.equal((await repo.getUser('rl2-new'))?.lastLoginAt?.getTime(), sec(12));
    t.same(
      (await sessionsOf('rl2-new')).map((s) => [s.id, s.nodeId, s.epoch]),
      [['rl2-s1', 'node-a', 1]],
      'the session row keeps its opening data',
    );
    t.same(await counting(() => repo.recordLogins([])), [], 'an empty batch sends nothing');
  });

  t.test('recordLogins: 1,000 logins of a reconnect storm in one statement', async (t) => {
    if (!db) return;
    const logins = Array.from({ length: 1000 }, (_, i) => ({
      userId: `storm-${i}`,
      username: `storm-${i}`,
      loginAt: sec(100 + i),
      session: { id: `storm-s${i}`, nodeId: 'node-a', epoch: 1 },
    }));
    t.equal((await counting(() => repo.recordLogins(logins))).length, 1);
    t.equal((await repo.listOpenSessions('node-a', 2000)).filter((s) => s.userId.startsWith('storm-')).length, 1000);
  });

  t.test('listOpenSessions lists the open sessions of one node, oldest first, with the username', async (t) => {
    if (!db) return;
    await openSession({ id: 'los-2', userId: 'los-b', username: 'bea', nodeId: 'los-node', epoch: 3, connectedAt: sec(20) });
    await openSession({ id: 'los-1', userId: 'los-a', username: 'ann', nodeId: 'los-node', epoch: 1, connectedAt: sec(10) });
    await openSession({ id: 'los-3', userId: 'los-c', username: 'cid', nodeId: 'los-node', epoch: 1, connectedAt: sec(30) });
    await openSession({ id: 'los-other', userId: 'los-a', username: 'ann', nodeId: 'los-elsewhere', epoch: 2, connectedAt: sec(15) });
    await repo.recordLogouts([logout('los-c', 'los-3', sec(30), sec(40), { nodeId: 'los-node' })]);
    t.same(await repo.listOpenSessions('los-node', 10), [
      { logicalSessionId: 'los-1', userId: 'los-a', username: 'ann', nodeId: 'los-node', epoch: 1, connectedAt: sec(10) },
      { logicalSessionId: 'los-2', userId: 'los-b', username: 'bea', nodeId: 'los-node', epoch: 3, connectedAt: sec(20) },
    ]);
    t.same(
      (await repo.listOpenSessions('los-node', 1)).map((s) => s.logicalSessionId),
      ['los-1'],
      'limit applies',
    );
    t.same(await repo.listOpenSessions('los-nobody', 10), []);
  });

  t.test('ping answers', async (t) => {
    if (!db) return;
    const sent = await counting(() => repo.ping());
    t.same(sent.length, 1);
    await repo.close(); // a no-op: the client still works afterwards
    await t.resolves(repo.ping());
  });
}
