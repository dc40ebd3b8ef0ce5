/**
 * Redis memory is O(online users + recently offline), not O(users ever seen): 2,000 users churn
 * through login -> logout -> database write (the real logout pipeline, PostgreSQL) with a 1 s
 * offline TTL, on a private redis-server so every key and byte in it is this test's. Afterwards
 * only the online users' player hashes are left, and further churns of 2,000 other users each
 * leave the key count and used_memory where the previous one left them.
 */
import { startTestPipeline } from '../helpers/logout-pipeline.ts';
import t from 'tap';
import { Redis } from 'ioredis';
import type { EndingConnection } from '../../src/presence/logout-pipeline.ts';
import { openDatabase } from '../../src/database/database.ts';
import { PrismaPlayerRepository } from '../../src/database/prisma-player-repository.ts';
import { createRedisStores } from '../../src/stores/redis/redis-stores.ts';
import { RedisKeys } from '../../src/stores/redis/keys.ts';
import { eventually } from '../helpers/build.ts';
import { collectingLogger } from '../helpers/core.ts';
import { RedisServer, redisServerInstalled } from '../helpers/redis-server.ts';
import { testPostgres, testRedis, TEST_DATABASE_URL } from '../helpers/services.ts';
import { TcpProxy } from '../helpers/tcp-proxy.ts';

const PREFIX = 'gh:';
const ONLINE = 100;
const CHURNED = 2000;
const ROUND = 500;
const TTL_MS = 1000;

t.test('churn of 2,000 users leaves only the online users in Redis', async (t) => {
  if (!redisServerInstalled(t)) return;
  const pgInfo = await testPostgres(t);
  if (!pgInfo) return;
  const server = await RedisServer.start();
  t.teardown(() => server.stop());
  const redis = new Redis(server.url);
  t.teardown(() => redis.quit());
  const keys = new RedisKeys(PREFIX);
  const { presence, outbox } = createRedisStores({ redis, keyPrefix: PREFIX, offlineTtlMs: TTL_MS });
  // PostgreSQL behind a proxy: cut during each churn, so every churned user is offline in Redis
  // with their logout not yet written (no expiry) when the peak is measured, whatever the load.
  const pgProxy = await TcpProxy.start(TEST_DATABASE_URL);
  t.teardown(() => pgProxy.close());
  const db = await openDatabase({ url: pgProxy.rewrite(TEST_DATABASE_URL), schema: pgInfo.schema, pgliteDir: '', poolMax: 2, migrate: true });
  t.teardown(() => db.close());
  const repository = new PrismaPlayerRepository(db.prisma);
  const pipeline = startTestPipeline(t, { presence, outbox, repository });

  const login = async (userId: string): Promise<EndingConnection> => {
    const connectedAt = Date.now();
    const id = `c-${userId}`;
    const r = await presence.login({ userId, username: userId, nodeId: 'n1', candidateLogicalSessionId: `lsid-${userId}`, connectionId: id, now: connectedAt });
    return { userId, username: userId, logicalSessionId: r.logicalSessionId, id, epoch: r.epoch, connectedAt };
  };
  /** Player hashes, counted by the key schema's pattern (SCAN also expires the keys it meets). */
  const playerKeys = async (): Promise<number> => {
    let count = 0;
    let cursor = '0';
    do {
      const [next, found] = await redis.scan(cursor, 'MATCH', keys.player('*'), 'COUNT', 1000);
      cursor = next;
      count += found.length;
    } while (cursor !== '0');
    return count;
  };
  const usedMemory = async (): Promise<number> => Number(/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1]);
  /** The keys' own size (MEMORY USAGE of each, exact): unlike used_memory, no allocator noise. */
  const datasetBytes = async (): Promise<number> => {
    let bytes = 0;
    let cursor = '0';
    do {
      const [next, found] = await redis.scan(cursor, 'COUNT', 1000);
      cursor = next;
      for (const key of found) bytes += Number(await redis.call('MEMORY', 'USAGE', key, 'SAMPLES', '0')) || 0;
    } while (cursor !== '0');
    return bytes;
  };

  const online = await Promise.all(Array.from({ length: ONLINE }, (_, i) => login(`online-${i}`)));
  const baseline = await usedMemory();

  /** 2,000 new users through login -> logout -> database write; then waits for their hashes to expire. */
  const churn = async (name: string) => {
    const sids: string[] = [];
    pgProxy.cut();
    for (let start = 0; start < CHURNED; start += ROUND) {
      const round = await Promise.all(Array.from({ length: ROUND }, (_, i) => login(`${name}-${start + i}`)));
      sids.push(...round.map((c) => c.logicalSessionId));
      await Promise.all(round.map((c) => pipeline.endConnection(c, 'timeout')));
    }
    // Offline, logouts not in the database yet: every churned user is still known, none expiring.
    const peakKeys = await playerKeys();
    const peak = await usedMemory();
    const peakDataset = await datasetBytes();
    t.equal(peakKeys, ONLINE + CHURNED, `${name}: offline users are kept until their logout is written`);
    t.equal(await redis.pttl(keys.player(`${name}-0`)), -1, `${name}: no expiry before the write`);
    pgProxy.restore();
    await eventually(async () => (await pipeline.pendingCount()) === 0, 30_000);
    t.equal((await repository.findClosedSessions(sids)).size, CHURNED, `${name}: every PlayerSession row closed in PostgreSQL`);
    const remaining = await eventually(async () => {
      const count = await playerKeys();
      return count === ONLINE ? count : undefined;
    }, 10_000);
    t.equal(remaining, ONLINE, `${name}: once expired, only the online users have a player hash`);
    t.equal(await presence.getPlayer(`${name}-0`), null, `${name}: a churned user is forgotten by the store`);
    return { peak, peakKeys, peakDataset, after: await usedMemory(), dataset: await datasetBytes(), keys: await redis.dbsize() };
  };

  // The first churn also grows the online set, index and node set past their compact encodings
  // (Redis never shrinks those back): a fixed cost, not one per user. The next two compare.
  const first = await churn('first');
  const second = await churn('second');
  const third = await churn('third');
  t.equal(pipeline.written, 3 * CHURNED, 'every logout written');
  for (const c of online.filter((_, i) => i % 25 === 0)) {
    t.match(await presence.getPlayer(c.userId), { status: 'online', sessions: 1 }, `${c.userId} still online`);
    t.equal(await redis.pttl(keys.player(c.userId)), -1, `${c.userId}: no expiry`);
  }
  t.equal(await presence.countOnline(), ONLINE);
  // Besides the player hashes: the online set and index, the node's players set.
  t.ok(third.keys <= ONLINE + 5, `${third.keys} keys in Redis for ${ONLINE} online users after ${3 * CHURNED} churned`);
  t.equal(third.keys, first.keys, 'the same keys after 2,000 and after 6,000 users churned');
  const perUser = (third.peakDataset - third.dataset) / CHURNED;
  t.comment(
    `keys' own size (MEMORY USAGE): ${first.dataset}, ${second.dataset}, ${third.dataset} B once each churn expired, ` +
      `${third.peakDataset} B at the peak (${perUser.toFixed(0)} B per offline user while its logout is pending: hash + outbox entry)`,
  );
  t.comment(
    `used_memory: ${baseline} B with ${ONLINE} online; once each churn of ${CHURNED} users expired: ${first.after}, ${second.after}, ${third.after} B ` +
      `(peaks ${first.peak}, ${second.peak}, ${third.peak} B with ${third.peakKeys} hashes)`,
  );
  // A store that kept offline users would grow by ~300 B for each of the 2,000 new ones (600 KB).
  t.ok(Math.abs(third.dataset - second.dataset) < 20_000, `the keys do not grow with users ever seen (${third.dataset - second.dataset} B between two churns)`);
  t.ok(third.peakDataset - third.dataset > CHURNED * 300, "the expiry gave back the churned users' keys");
  // used_memory also counts allocator fragmentation, a few tens of KB of noise between equal states.
  t.ok(Math.abs(third.after - second.after) < 300_000, `used_memory does not grow by the churned users (${third.after - second.after} B between two churns)`);
});

t.test('an offline hash does not expire while its logout is not in the database', async (t) => {
  const pgInfo = await testPostgres(t);
  const redisInfo = pgInfo && (await testRedis(t));
  if (!pgInfo || !redisInfo) return;
  const pgProxy = await TcpProxy.start(TEST_DATABASE_URL);
  t.teardown(() => pgProxy.close());
  const redis = new Redis(redisInfo.url);
  t.teardown(() => redis.quit());
  const keys = new RedisKeys(redisInfo.prefix);
  const { presence, outbox } = createRedisStores({ redis, keyPrefix: redisInfo.prefix, offlineTtlMs: TTL_MS });
  const db = await openDatabase({ url: pgProxy.rewrite(TEST_DATABASE_URL), schema: pgInfo.schema, pgliteDir: '', poolMax: 2, migrate: true });
  t.teardown(() => db.close());
  const repository = new PrismaPlayerRepository(db.prisma);
  const log = collectingLogger();
  const pipeline = startTestPipeline(t, { presence, outbox, repository, log, batchMax: 100 });

  const r = await presence.login({
    userId: 'patient',
    username: 'patient',
    nodeId: 'n1',
    candidateLogicalSessionId: 'patient-1',
    connectionId: 'c1',
    now: Date.now(),
  });
  pgProxy.cut();
  const connection = { userId: 'patient', username: 'patient', logicalSessionId: r.logicalSessionId, id: 'c1', epoch: r.epoch, connectedAt: Date.now() };
  t.ok((await pipeline.endConnection(connection, 'timeout'))?.loggedOut, 'offline in the store');
  await eventually(() => log.messages('database write of logouts failed: will retry').length > 0, 10_000);
  // Longer than the TTL: an expiry set at the logout (instead of at the write) would have run out.
  await new Promise((resolve) => setTimeout(resolve, TTL_MS + 300));
  t.equal(await redis.pttl(keys.player('patient')), -1, 'no expiry while the database is down');
  t.match(await presence.getPlayer('patient'), { status: 'offline', logoutReason: 'timeout' });
  t.equal(await outbox.countPendingLogouts(), 1, 'still pending');

  pgProxy.restore();
  await eventually(async () => (await repository.findClosedSessions(['patient-1'])).has('patient-1'), 15_000);
  await eventually(async () => (await presence.getPlayer('patient')) === null, 10_000);
  t.pass('written, then forgotten by the store after the TTL');
});
