/**
 * The backends every store contract suite runs against: memory, Redis, and a Redis Cluster, on a
 * fresh key prefix per test (skipped without the service, a failure with REQUIRE_SERVICES=1:
 * test/helpers/services.ts).
 */
import type { Test } from 'tap';
import { Redis } from 'ioredis';
import { createMemoryStores } from '../../src/stores/memory/memory-stores.ts';
import { createRedisStores } from '../../src/stores/redis/redis-stores.ts';
import type { OnlineStores } from '../../src/stores/online-stores.ts';
import { connectRedisCluster, deleteRedisClusterPrefix, deleteRedisPrefix, testRedis, testRedisCluster } from '../helpers/services.ts';
import { ManualClock } from '../helpers/core.ts';
import { MemoryOnlineState } from '../../src/stores/memory/memory-online-state.ts';
import { RedisKeys } from '../../src/stores/redis/keys.ts';
import type { RedisClient } from '../../src/stores/redis/scripts.ts';
import type { ExpiryHarness, ExpiryTest, StoreTest } from './contract-helpers.ts';

/**
 * Makes the stores lose all their data, as Redis restarting empty would (Redis: the test
 * prefix's keys are deleted; memory: fresh stores). Returns the stores to go on with.
 */
export type LoseData = (stores: OnlineStores) => Promise<OnlineStores>;

export interface Backend {
  name: string;
  /** Fresh, empty stores for one test (null: the backing service is unavailable). */
  make: (t: Test) => Promise<OnlineStores | null>;
  loseData: LoseData;
  /**
   * Fresh stores whose offline entries expire `offlineTtlMs` after their logout is acked, with
   * the probes of the expiry contract (null: the backing service is unavailable).
   */
  makeExpiring: (t: Test, offlineTtlMs: number) => Promise<ExpiryHarness | null>;
}

/** The key prefix of each Redis contract store set, so a test can make Redis "lose" its data. */
const prefixes = new WeakMap<OnlineStores, string>();

export const memoryBackend: Backend = {
  name: 'memory',
  make: async () => createMemoryStores(),
  // Losing everything, for a single process, is starting over with fresh stores.
  loseData: async () => createMemoryStores(),
  // A fake clock: the expiry contract's waits cost nothing and never race.
  makeExpiring: async (_t, offlineTtlMs) => {
    const clock = new ManualClock();
    const state = new MemoryOnlineState({ offlineTtlMs, now: clock.now });
    return {
      stores: createMemoryStores(state),
      ttlOf: async (userId) => {
        state.sweepExpired(); // what Redis does to an expired key on access
        if (!state.players.has(userId)) return undefined;
        const at = state.expiry.expiresAt(userId);
        return at === undefined ? null : at - clock.now();
      },
      hasHeartbeat: async (nodeId, userId) => state.heartbeats.get(nodeId)?.has(userId) ?? false,
      wait: async (ms) => void clock.advance(ms),
    };
  },
};

/**
 * Stores on a Redis service: `open` gives a connected client on a fresh key prefix (null: the
 * service is unavailable), `deletePrefix` makes it "lose" that prefix's data.
 */
function redisStoresBackend(
  name: string,
  buckets: number,
  open: (t: Test) => Promise<{ redis: RedisClient; prefix: string } | null>,
  deletePrefix: (prefix: string) => Promise<void>,
): Backend {
  return {
    name,
    make: async (t) => {
      const service = await open(t);
      if (!service) return null;
      const stores = createRedisStores({ redis: service.redis, keyPrefix: service.prefix, buckets });
      prefixes.set(stores, service.prefix);
      return stores;
    },
    // Like Redis (every shard) restarting empty: every key is gone, the loaded scripts and the client remain.
    loseData: async (stores) => {
      await deletePrefix(prefixes.get(stores)!);
      return stores;
    },
    // Redis keeps the time of its expiries itself: the waits are real, so the TTLs are short.
    makeExpiring: async (t, offlineTtlMs) => {
      const service = await open(t);
      if (!service) return null;
      const { redis, prefix } = service;
      const keys = new RedisKeys(prefix, buckets);
      return {
        stores: createRedisStores({ redis, keyPrefix: prefix, offlineTtlMs, buckets }),
        ttlOf: async (userId) => {
          const ttl = await redis.pttl(keys.player(userId));
          return ttl === -2 ? undefined : ttl === -1 ? null : ttl;
        },
        hasHeartbeat: async (nodeId, userId) => (await redis.hexists(keys.nodeHeartbeats(nodeId, keys.bucketOf(userId)), userId)) === 1,
        wait: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
      };
    },
  };
}

export const redisBackend: Backend = redisStoresBackend(
  'redis',
  1,
  async (t) => {
    const service = await testRedis(t);
    if (!service) return null;
    const redis = new Redis(service.url);
    t.teardown(() => redis.quit());
    return { redis, prefix: service.prefix };
  },
  deleteRedisPrefix,
);

/**
 * Buckets of the cluster backend: more than the three primaries, so a contract test's users and
 * nodes land in buckets on different shards (and a layout with several buckets per shard).
 */
export const CLUSTER_TEST_BUCKETS = 4;

/** The same stores on a real Redis Cluster (scripts/redis-cluster.sh), in CLUSTER_TEST_BUCKETS buckets. */
export const redisClusterBackend: Backend = redisStoresBackend(
  'redis-cluster',
  CLUSTER_TEST_BUCKETS,
  async (t) => {
    const service = await testRedisCluster(t);
    if (!service) return null;
    const redis = connectRedisCluster(t);
    await redis.connect();
    return { redis, prefix: service.prefix };
  },
  deleteRedisClusterPrefix,
);

export const backends: readonly Backend[] = [memoryBackend, redisBackend, redisClusterBackend];

/** Declares contract tests named `<backend>: <title>` on fresh stores of `backend`. */
export function storeTest(t: Test, backend: Backend): StoreTest {
  return (title, body) =>
    t.test(`${backend.name}: ${title}`, async (t) => {
      const stores = await backend.make(t);
      if (!stores) return;
      await body(t, stores);
    });
}

/** Declares expiry contract tests named `<backend>: <title>` on fresh expiring stores of `backend`. */
export function expiryTest(t: Test, backend: Backend, offlineTtlMs: number): ExpiryTest {
  return (title, body) =>
    t.test(`${backend.name}: ${title}`, async (t) => {
      const harness = await backend.makeExpiring(t, offlineTtlMs);
      if (!harness) return;
      await body(t, { ...harness, ttlMs: offlineTtlMs });
    });
}
