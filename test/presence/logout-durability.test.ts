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

async function setup(t: Test) {
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
  const pipeline = startTestPipeline(t, { presence, outbox, repository, log, batchMax: 100, journalGraceMs: 300 });
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
  return { presence, outbox, repository, log, pipeline, login, redisProxy, pgProxy, prefix: redisInfo.prefix };
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
