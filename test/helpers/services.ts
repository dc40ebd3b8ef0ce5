/**
 * Access to the real services for test suites. Each suite gets its own PostgreSQL schema and
 * its own Redis key prefix, removed at teardown, so suites run in parallel without seeing each
 * other. When a service is unreachable the suite is skipped with a loud notice, unless
 * REQUIRE_SERVICES=1 (CI), where that is a failure.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { Cluster, Redis } from 'ioredis';

import type { Test } from 'tap';

type Tap = Pick<Test, 'teardown' | 'fail' | 'comment' | 'plan'>;

export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL || 'postgresql://postgres@127.0.0.1:5432/test';
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL || 'redis://127.0.0.1:6379/0';
/** Seed nodes of the test Redis Cluster (scripts/redis-cluster.sh starts it). */
export const TEST_REDIS_CLUSTER_NODES = process.env.TEST_REDIS_CLUSTER_NODES || '127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003';
const required = process.env.REQUIRE_SERVICES === '1';

function unavailable(t: Tap, service: string, error: unknown): null {
  const message = `${service} unreachable (${(error as Error).message})`;
  if (required) {
    t.fail(`REQUIRE_SERVICES=1 and ${message}`);
  } else {
    process.stderr.write(`\n*** SKIPPED: ${message}: suite skipped. Set REQUIRE_SERVICES=1 to fail instead. ***\n`);
    // plan(0, why) marks this test as skipped (SKIP in the report), never as passed.
    t.plan(0, `${message}: suite skipped`);
  }
  return null;
}

export const uniqueName = (prefix: string) => `${prefix}_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;

export interface TestPostgres {
  url: string;
  schema: string;
}

/** A fresh, empty PostgreSQL schema for this suite, dropped at teardown; null when skipped. */
export async function testPostgres(t: Tap): Promise<TestPostgres | null> {
  const admin = new pg.Client({ connectionString: TEST_DATABASE_URL, connectionTimeoutMillis: 3000 });
  try {
    await admin.connect();
  } catch (error) {
    return unavailable(t, `PostgreSQL at ${TEST_DATABASE_URL}`, error);
  }
  const schema = uniqueName('gh_test');
  await admin.query(`CREATE SCHEMA "${schema}"`);
  await admin.end();
  t.teardown(async () => {
    const cleanup = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await cleanup.connect();
    await cleanup.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await cleanup.end();
  });
  return { url: TEST_DATABASE_URL, schema };
}

export interface TestRedis {
  url: string;
  /** Key and channel prefix owned by this suite. */
  prefix: string;
}

/** A Redis key prefix owned by this suite; its keys are deleted at teardown; null when skipped. */
export async function testRedis(t: Tap): Promise<TestRedis | null> {
  const client = new Redis(TEST_REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 3000, retryStrategy: () => null });
  try {
    await client.connect();
    await client.ping();
  } catch (error) {
    client.disconnect();
    return unavailable(t, `Redis at ${TEST_REDIS_URL}`, error);
  }
  client.disconnect();
  const prefix = `${uniqueName('ghtest')}:`;
  t.teardown(() => deleteRedisPrefix(prefix));
  return { url: TEST_REDIS_URL, prefix };
}

/** Deletes every key under the prefix (best effort: Redis may have been stopped by the test). */
export async function deleteRedisPrefix(prefix: string): Promise<void> {
  const client = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 1, retryStrategy: () => null });
  client.on('error', () => {});
  try {
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await client.del(...keys);
    } while (cursor !== '0');
  } catch {
    // Redis is down: nothing to clean.
  } finally {
    client.disconnect();
  }
}

/** `host:port,host:port` as ioredis Cluster's startup nodes. */
export function clusterNodes(list = TEST_REDIS_CLUSTER_NODES): Array<{ host: string; port: number }> {
  return list.split(',').map((address) => {
    const at = address.lastIndexOf(':');
    return { host: address.slice(0, at), port: Number(address.slice(at + 1)) };
  });
}

/** A client of the test Redis Cluster (not connected yet), quit at teardown. */
export function connectRedisCluster(t: Pick<Test, 'teardown'>): Cluster {
  const cluster = new Cluster(clusterNodes(), { lazyConnect: true, redisOptions: { connectTimeout: 3000 } });
  t.teardown(() => cluster.quit().catch(() => cluster.disconnect()));
  return cluster;
}

export interface TestRedisCluster {
  /** Key and channel prefix owned by this suite. */
  prefix: string;
}

/**
 * A key prefix on the test Redis Cluster owned by this suite; its keys are deleted from every
 * primary at teardown; null when skipped (the cluster is not up: scripts/redis-cluster.sh start).
 */
export async function testRedisCluster(t: Tap): Promise<TestRedisCluster | null> {
  const probe = new Cluster(clusterNodes(), {
    lazyConnect: true,
    clusterRetryStrategy: () => null,
    redisOptions: { connectTimeout: 3000, maxRetriesPerRequest: 0 },
  });
  probe.on('error', () => {});
  try {
    await probe.connect();
    const info = await probe.cluster('INFO');
    if (!/cluster_state:ok/.test(String(info))) throw new Error('cluster_state is not ok');
  } catch (error) {
    probe.disconnect();
    return unavailable(t, `Redis Cluster at ${TEST_REDIS_CLUSTER_NODES}`, error);
  }
  probe.disconnect();
  const prefix = `${uniqueName('ghtest')}:`;
  t.teardown(() => deleteRedisClusterPrefix(prefix));
  return { prefix };
}

/** Deletes every key under the prefix on every primary of the test cluster (best effort). */
export async function deleteRedisClusterPrefix(prefix: string): Promise<void> {
  const cluster = new Cluster(clusterNodes(), { lazyConnect: true, clusterRetryStrategy: () => null, redisOptions: { maxRetriesPerRequest: 1 } });
  cluster.on('error', () => {});
  try {
    await cluster.connect();
    await Promise.all(
      cluster.nodes('master').map(async (node) => {
        let cursor = '0';
        do {
          const [next, keys] = await node.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
          cursor = next;
          // One DEL per key: a primary holds many slots, and a multi-key DEL must stay in one.
          for (const key of keys) await node.del(key);
        } while (cursor !== '0');
      }),
    );
  } catch {
    // The cluster is down: nothing to clean.
  } finally {
    cluster.disconnect();
  }
}

/** A PostgreSQL client on `url` (default: the test database), ended at teardown. */
export async function connectPostgres(t: Pick<Test, 'teardown'>, url = TEST_DATABASE_URL): Promise<pg.Client> {
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  t.teardown(() => db.end());
  return db;
}

export interface PlayerSessionRow {
  user_id: string;
  reason: string | null;
  disconnected_at: Date | null;
}

/** The `player_sessions` rows of the users whose id starts with `userIdPrefix`, by user then start. */
export async function playerSessionRows(db: pg.Client, schema: string, userIdPrefix: string): Promise<PlayerSessionRow[]> {
  const { rows } = await db.query<PlayerSessionRow>(
    `SELECT user_id, reason, disconnected_at FROM "${schema}".player_sessions WHERE starts_with(user_id, $1) ORDER BY user_id, connected_at`,
    [userIdPrefix],
  );
  return rows;
}
