/**
 * Logouts survive Redis losing its data (a restart without persistence): a session end parked
 * during the outage, and logouts queued in Redis while the database was down, still land in
 * PostgreSQL with their original timestamps. Real Redis and PostgreSQL, real outages through
 * TCP proxies, Redis data loss by deleting the suite's keys.
 */
import { startTestPipeline } from '../helpers/logout-pipeline.ts';
import t, { type Test } from 'tap';
import { Redis } from 'ioredis';
import type { EndingConnection } from '../../src/presence/logout-pipeline.ts';
import { openDatabase } from '../../src/database/database.ts';
import { PrismaPlayerRepository } from '../../src/database/prisma-player-repository.ts';
import { createRedisStores } from '../../src/stores/redis/redis-stores.ts';
import { redisOptions } from '../../src/http/plugins/online-store.ts';
import { eventually } from '../helpers/build.ts';
import { collectingLogger } from '../helpers/core.ts';
import { deleteRedisPrefix, testPostgres, testRedis, TEST_DATABASE_URL, TEST_REDIS_URL } from '../helpers/services.ts';
import { TcpProxy } from '../helpers/tcp-proxy.ts';

async function setup(t: Test, pipelineOptions: { graceMs?: number } = {}) {
  const pgInfo = await testPostgres(t);
  const redisInfo = pgInfo && (await testRedis(t));
  if (!pgInfo || !redisInfo) return null;
  const redisProxy = await TcpProxy.start(TEST_REDIS_URL);
  const pgProxy = await TcpProxy.start(TEST_DATABASE_URL);
  t.teardown(() => Promise.all([redisProxy.close(), pgProxy.close()]));
  const redis = new Redis(redisProxy.rewrite(TEST_REDIS_URL), redisOptions());
  redis.on('error', () => {});
  await redis.connect();
  t.teardown(() => redis.disconnect());
  const { presence, outbox } = createRedisStores({ redis, keyPrefix: redisInfo.prefix });
  const db = await openDatabase({ url: pgProxy.rewrite(TEST_DATABASE_URL), schema: pgInfo.schema, pgliteDir: '', poolMax: 2, migrate: true });
  t.teardown(() => db.close());
  const repository = new PrismaPlayerRepository(db.prisma);
  const log = collectingLogger();
  const pipeline = startTestPipeline(t, { presence, outbox, repository, log, batchMax: 100, journalGraceMs: 300, ...pipelineOptions });
  const login = async (userId: string): Promise<EndingConnection> => {
    const connectedAt = Date.now();
    const id = `c-${userId}`;
    const r = await presence.login({
      userId,
      username: userId,
      nodeId: 'n1',
      candidateLogicalSessionId: `lsid-${userId}-${connectedAt}`,
      connectionId: id,
      now: connectedAt,
    });
    return { userId, username: userId, logicalSessionId: r.logicalSessionId, id, epoch: r.epoch, connectedAt };
  };
  /** A login with its PlayerSession row written, as the login writer does. */
  const loginWithRow = async (userId: string): Promise<EndingConnection> => {
    const c = await login(userId);
    await repository.recordLogins([{ userId, username: userId, loginAt: c.connectedAt, session: { id: c.logicalSessionId, nodeId: 'n1', epoch: c.epoch } }]);
    return c;
  };
  return { presence, outbox, repository, log, pipeline, login, loginWithRow, redisProxy, pgProxy, prefix: redisInfo.prefix };
}

t.test('an end parked during a Redis outage lands although Redis came back empty', async (t) => {
  const s = await setup(t);
  if (!s) return;
  const connection = await s.login('parked');
  s.redisProxy.cut();
  const endedAt = Date.now();
  t.equal(await s.pipeline.endConnection(connection, 'closed', endedAt), undefined, 'store unreachable');
  await deleteRedisPrefix(s.prefix); // Redis restarted without its data
  s.redisProxy.restore();
  const stamped = await eventually(async () => (await s.repository.getUser('parked'))?.lastSpiritGainTime, 15_000);
  t.equal(stamped.getTime(), endedAt, 'original timestamp');
  t.equal((await s.repository.listSessions('parked', 1))[0]?.reason, 'closed');
  t.equal(s.log.messages('user logged out').length, 1, 'logged once');
});

t.test('logouts queued in Redis while the database was down survive Redis losing the queue', async (t) => {
  const s = await setup(t);
  if (!s) return;
  const users = ['q1', 'q2', 'q3'];
  const connections = await Promise.all(users.map((u) => s.login(u)));
  s.pgProxy.cut();
  const times = new Map<string, number>();
  for (const c of connections) {
    const at = Date.now();
    times.set(c.userId, at);
    const result = await s.pipeline.endConnection(c, 'timeout', at);
    t.ok(result?.loggedOut, `${c.userId} logged out in the store`);
  }
  await new Promise((resolve) => setTimeout(resolve, 300)); // failed writes
  t.equal(await s.outbox.countPendingLogouts(), 3, 'queued in Redis');
  await deleteRedisPrefix(s.prefix); // the queue is gone
  t.equal(await s.outbox.countPendingLogouts(), 0);
  s.pgProxy.restore();
  for (const u of users) {
    const stamped = await eventually(async () => (await s.repository.getUser(u))?.lastSpiritGainTime, 15_000);
    t.equal(stamped.getTime(), times.get(u), `${u} stamped with its original time`);
  }
  await eventually(() => s.pipeline.unconfirmed === 0);
  t.pass('journal empty once the database has everything');
});

t.test('the journal clears at once for logouts this node wrote itself', async (t) => {
  const s = await setup(t);
  if (!s) return;
  const c = await s.login('quick');
  await s.pipeline.endConnection(c, 'closed');
  await eventually(async () => (await s.repository.getUser('quick'))?.lastSpiritGainTime);
  t.equal(s.pipeline.unconfirmed, 0);
});

/**
 * A store that lost a live login (Redis restarted empty or from an older snapshot before the
 * node re-asserted, a promoted replica that missed it) answers the connection's end as stale.
 * Nobody else will end that logical session: its logout lands all the same, stamped when the
 * connection ended. Stale ends of sessions somebody else ended, or that live on, write nothing.
 */
t.test('a logical session the store lost still gets its logout; other stale ends write nothing', async (t) => {
  const s = await setup(t);
  if (!s) return;
  const open = s.loginWithRow;
  const lost = await open('lost');
  const kicked = await open('kicked');
  const twice = await open('twice');
  const second = { ...twice, id: 'c-twice-2' };

  // Redis loses everything; the node re-asserts what it still holds, except 'lost' (its
  // connection is about to end): the store has 'kicked' and 'twice' (two connections) again.
  await deleteRedisPrefix(s.prefix);
  for (const c of [kicked, twice, second]) {
    await s.presence.login({
      userId: c.userId,
      username: c.userId,
      nodeId: 'n1',
      candidateLogicalSessionId: c.logicalSessionId,
      connectionId: c.id,
      now: Date.now(),
    });
  }
  t.equal(s.log.messages('user logged out').length, 0, 'the store transition alone logs nothing');

  const endedAt = Date.now() - 1000;
  t.ok((await s.pipeline.endConnection(lost, 'closed', endedAt))?.stale, "'lost' is unknown to the store: stale");
  await s.pipeline.forceLogout('kicked', 'kicked'); // ended over REST: its logout is queued and written
  t.ok((await s.pipeline.endConnection(kicked, 'closed'))?.stale, "'kicked' already ended: stale");
  await s.pipeline.endConnection(twice, 'closed');
  t.ok((await s.pipeline.endConnection(twice, 'closed'))?.stale, "'twice' ended twice: stale, and still online through its other connection");

  const rows = async (userId: string) =>
    (await s.repository.listSessions(userId, 5)).map((r) => ({ closedAt: r.disconnectedAt?.getTime() ?? null, reason: r.reason }));
  await eventually(async () => (await rows('lost'))[0]?.closedAt === endedAt, 15_000);
  t.same(await rows('lost'), [{ closedAt: endedAt, reason: 'closed' }], "'lost' closed, stamped when its connection ended");
  t.equal(s.log.messages('online store lost a session: logout written directly').length, 1, 'said once');
  await eventually(() => s.log.messages('user logged out').length >= 2);
  await new Promise((resolve) => setTimeout(resolve, 600)); // past the journal grace: every stale end checked
  t.same(
    (await rows('kicked')).map((r) => r.reason),
    ['kicked'],
    "'kicked' closed once, by its REST logout",
  );
  t.same(
    (await rows('twice')).map((r) => r.closedAt),
    [null],
    "'twice' still open: its other connection lives",
  );
  t.same(
    s.log
      .messages('user logged out')
      .map((l) => l.fields.userId)
      .sort(),
    ['kicked', 'lost'],
    'one logout line per ended logical session',
  );
});

/**
 * A logout deferred for the grace period lives in the store until the grace expires; a store
 * that loses its data meanwhile loses it, and no node would ever expire it. The node that
 * deferred it checks after the grace and writes it. One the store still holds (the player came
 * back within the grace) is left alone.
 */
t.test('a deferred logout the store lost is written after the grace; a resumed one is not', async (t) => {
  const s = await setup(t, { graceMs: 200 });
  if (!s) return;
  const open = s.loginWithRow;
  const gone = await open('gone');
  const back = await open('back');
  const endedAt = Date.now();
  t.ok((await s.pipeline.endConnection(gone, 'closed', endedAt))?.graceUntil, "'gone' deferred");
  t.ok((await s.pipeline.endConnection(back, 'closed', endedAt))?.graceUntil, "'back' deferred");
  await deleteRedisPrefix(s.prefix); // the pending graces are lost with the rest
  // 'back' reconnects within its grace: the node re-asserts it (same logical session).
  await s.presence.login({
    userId: 'back',
    username: 'back',
    nodeId: 'n1',
    candidateLogicalSessionId: back.logicalSessionId,
    connectionId: 'c-back-2',
    now: Date.now(),
  });

  const closedAt = async (userId: string) => (await s.repository.listSessions(userId, 1))[0]?.disconnectedAt?.getTime() ?? null;
  await eventually(async () => (await closedAt('gone')) === endedAt, 15_000);
  t.pass("'gone' closed, stamped when its connection ended");
  await new Promise((resolve) => setTimeout(resolve, 800)); // every deferred end checked by now
  t.equal(await closedAt('back'), null, "'back' still open: it came back within the grace");
  t.same(
    s.log.messages('user logged out').map((l) => l.fields.userId),
    ['gone'],
    'one logout line',
  );
});

/**
 * Players a rewound store brought back and the node released: a logout the database already
 * has, or one this node logged itself, is not logged a second time; a new one is.
 */
t.test('logouts the store hands out again (a rewound store) are logged once, not again for logouts already made', async (t) => {
  const s = await setup(t);
  if (!s) return;
  const record = (userId: string, logicalSessionId: string) => ({
    userId,
    username: userId,
    logicalSessionId,
    nodeId: 'n1',
    epoch: 1,
    connectedAt: 1000,
    logoutAt: 2000,
    reason: 'node_lost',
  });
  await s.repository.recordLogouts([record('written', 'sid-written')]);
  const mine = await s.login('mine');
  s.pgProxy.cut(); // its write fails: it stays in the journal, not in the database
  await s.pipeline.endConnection(mine, 'timeout');
  await new Promise((resolve) => setTimeout(resolve, 100));
  s.pgProxy.restore();
  t.equal(s.log.messages('user logged out').length, 1, 'logged by this node');
  t.equal(s.pipeline.unconfirmed, 1, 'not seen in the database yet');
  await s.pipeline.report([record('written', 'sid-written'), record('mine', mine.logicalSessionId), record('fresh', 'sid-fresh')]);
  t.same(
    s.log.messages('user logged out').map((l) => l.fields.userId),
    ['mine', 'fresh'],
    'only the logout nobody had made is logged',
  );
});
