/**
 * The logout pipeline on real stores and a real database: exactly once under racing ends,
 * batching of a mass disconnect, a tick's batch of ends, and session ends (one or a batch)
 * that survive an online-store outage.
 */
import { startTestPipeline } from '../helpers/logout-pipeline.ts';
import t, { type Test } from 'tap';
import { Redis } from 'ioredis';
import type { EndingConnection } from '../../src/presence/logout-pipeline.ts';
import { openDatabase } from '../../src/database/database.ts';
import { PrismaPlayerRepository } from '../../src/database/prisma-player-repository.ts';
import { createMemoryStores } from '../../src/stores/memory/memory-stores.ts';
import { createRedisStores } from '../../src/stores/redis/redis-stores.ts';
import type { OnlineStores } from '../../src/stores/online-stores.ts';
import { redisOptions } from '../../src/http/plugins/online-store.ts';
import { eventually } from '../helpers/build.ts';
import { collectingLogger } from '../helpers/core.ts';
import { testRedis, TEST_REDIS_URL } from '../helpers/services.ts';
import { TcpProxy } from '../helpers/tcp-proxy.ts';

async function setup(t: Test, stores: OnlineStores = createMemoryStores()) {
  const statements: string[] = [];
  const db = await openDatabase({ pgliteDir: 'memory://', poolMax: 1, migrate: true, onQuery: (sql) => statements.push(sql) });
  t.teardown(() => db.close());
  const repository = new PrismaPlayerRepository(db.prisma);
  const log = collectingLogger();
  const pipeline = startTestPipeline(t, { presence: stores.presence, outbox: stores.outbox, repository, log });
  /** Logs a connection in and returns it as the pipeline sees it. */
  const login = async (userId: string, id = `c-${userId}-${Math.random().toString(36).slice(2)}`): Promise<EndingConnection> => {
    const connectedAt = Date.now();
    const r = await stores.presence.login({
      userId,
      username: userId,
      nodeId: 'n1',
      candidateLogicalSessionId: `lsid-${userId}`,
      connectionId: id,
      now: connectedAt,
    });
    return { userId, username: userId, logicalSessionId: r.logicalSessionId, id, epoch: r.epoch, connectedAt };
  };
  return { stores, repository, log, pipeline, statements, login };
}

t.test('exactly once when ends, a kick and a REST logout race', async (t) => {
  const { pipeline, log, login, repository } = await setup(t);
  const a = await login('racer');
  const b = await login('racer'); // two connections
  const results = await Promise.all([
    pipeline.endConnection(a, 'closed'),
    pipeline.endConnection(b, 'timeout'),
    pipeline.forceLogout('racer', 'logout'),
    pipeline.endConnection(a, 'closed'),
  ]);
  const loggedOut = results.filter((r) => r && 'loggedOut' in r && r.loggedOut);
  t.equal(loggedOut.length, 1, 'one caller saw the logical session end');
  t.equal(log.messages('user logged out').length, 1, 'one log line');
  await eventually(async () => (await pipeline.pendingCount()) === 0);
  t.equal((await repository.listSessions('racer', 10)).length, 1, 'one session row');
});

t.test('a mass disconnect is written in a few batches', async (t) => {
  const { pipeline, login, repository, statements } = await setup(t);
  const users = Array.from({ length: 1200 }, (_, i) => `mass-${i}`);
  const logins = await Promise.all(users.map((u) => login(u)));
  const before = statements.length;
  await Promise.all(logins.map((connection) => pipeline.endConnection(connection, 'closed')));
  await eventually(async () => (await pipeline.pendingCount()) === 0, 20_000);
  const writes = statements.slice(before).filter((s) => /player_sessions/i.test(s) && /unnest/i.test(s));
  t.ok(writes.length >= 3 && writes.length <= 6, `1,200 logouts in ${writes.length} database statements (batches of 500)`);
  t.equal(pipeline.written, 1200);
  for (const u of [users[0]!, users[600]!, users[1199]!]) t.ok((await repository.getUser(u))?.lastSpiritGainTime, `${u} stamped`);
});

/** The pipeline on Redis behind a proxy the test can cut; null when Redis is not there. */
async function setupBehindProxy(t: Test) {
  const redisInfo = await testRedis(t);
  if (!redisInfo) return null;
  const proxy = await TcpProxy.start(TEST_REDIS_URL);
  t.teardown(() => proxy.close());
  const redis = new Redis(proxy.rewrite(TEST_REDIS_URL), redisOptions());
  redis.on('error', () => {});
  await redis.connect();
  t.teardown(() => redis.disconnect());
  return { proxy, ...(await setup(t, createRedisStores({ redis, keyPrefix: redisInfo.prefix }))) };
}

t.test('a backlog of full batches is written two at a time, not one after the other', async (t) => {
  const { pipeline, login, repository } = await setup(t);
  let inFlight = 0;
  let most = 0;
  const { recordLogouts } = repository;
  repository.recordLogouts = async (records) => {
    most = Math.max(most, ++inFlight);
    try {
      return await recordLogouts.call(repository, records);
    } finally {
      inFlight--;
    }
  };
  const logins = await Promise.all(Array.from({ length: 1000 }, (_, i) => login(`backlog-${i}`)));
  await pipeline.endConnections(logins.map((connection) => ({ connection, reason: 'timeout', at: Date.now() })));
  await pipeline.writesSettled();
  t.equal(pipeline.written, 1000, 'every logout written by the time writesSettled resolves');
  t.equal(most, 2, 'the second batch of 500 was written alongside the first');
});

t.test('a session end survives an online-store outage', async (t) => {
  const ctx = await setupBehindProxy(t);
  if (!ctx) return;
  const { proxy, pipeline, login, repository, log } = ctx;
  const session = await login('unlucky');
  proxy.cut();
  const endedAt = Date.now();
  const result = await pipeline.endConnection(session, 'closed', endedAt);
  t.equal(result, undefined, 'the store did not answer');
  t.equal(pipeline.parkedEnds, 1, 'the end is kept for retry');
  t.ok(log.messages('online store unavailable: session end kept for retry').length >= 1);
  proxy.restore();
  const user = await eventually(async () => (await repository.getUser('unlucky'))?.lastSpiritGainTime, 15_000);
  t.equal(user.getTime(), endedAt, 'stamped with the time the connection ended, not when the store came back');
  t.equal(pipeline.parkedEnds, 0);
  t.equal(log.messages('user logged out').length, 1);
});

t.test('a batch of ends (one tick of heartbeat timeouts): one store call, each logged out once, in order', async (t) => {
  const stores = createMemoryStores();
  const calls: string[] = [];
  const { endSessions } = stores.presence;
  stores.presence.endSessions = (inputs) => {
    calls.push(`endSessions(${inputs.length})`);
    return endSessions.call(stores.presence, inputs);
  };
  const { pipeline, login, repository, log } = await setup(t, stores);
  const [a, b, c] = [await login('batch-a'), await login('batch-b'), await login('batch-b')];
  const never = { ...(await login('batch-c')), logicalSessionId: '' }; // its login never completed
  const results = await pipeline.endConnections([
    { connection: a, reason: 'timeout', at: 5000 },
    { connection: never, reason: 'timeout', at: 5000 },
    { connection: b, reason: 'timeout', at: 6000 },
    { connection: a, reason: 'timeout', at: 7000 },
  ]);
  t.match(results, [{ loggedOut: true, record: { userId: 'batch-a', logoutAt: 5000 } }, undefined, { loggedOut: false, sessions: 1 }, { stale: true }]);
  t.same(calls, ['endSessions(3)'], 'one store call for the batch (the connection that never logged in is not sent)');
  t.equal(log.messages('user logged out').length, 1, 'batch-b keeps a connection; the repeated end of batch-a is stale');
  t.same(await pipeline.endConnections([{ connection: c, reason: 'timeout', at: 8000 }]).then((r) => r.map((x) => x?.record?.logoutAt)), [8000]);
  await eventually(async () => (await pipeline.pendingCount()) === 0);
  t.equal((await repository.getUser('batch-a'))?.lastSpiritGainTime?.getTime(), 5000);
  t.equal((await repository.getUser('batch-b'))?.lastSpiritGainTime?.getTime(), 8000);
});

t.test('a batch of ends survives an online-store outage, each stamped with its own time', async (t) => {
  const ctx = await setupBehindProxy(t);
  if (!ctx) return;
  const { proxy, pipeline, login, repository, log } = ctx;
  const sessions = [await login('unlucky-1'), await login('unlucky-2')];
  proxy.cut();
  const endedAt = Date.now();
  const results = await pipeline.endConnections(sessions.map((connection, i) => ({ connection, reason: 'timeout', at: endedAt - i })));
  t.same(results, [undefined, undefined], 'the store did not answer');
  t.equal(pipeline.parkedEnds, 2, 'both ends are kept for retry');
  t.equal(log.messages('online store unavailable: session end kept for retry').length, 2);
  proxy.restore();
  for (const [i, userId] of ['unlucky-1', 'unlucky-2'].entries()) {
    const user = await eventually(async () => (await repository.getUser(userId))?.lastSpiritGainTime, 15_000);
    t.equal(user.getTime(), endedAt - i, `${userId} stamped with the time it ended`);
  }
  t.equal(pipeline.parkedEnds, 0);
  t.equal(log.messages('user logged out').length, 2);
});
