/**
 * The backends every store contract suite runs against: memory, and Redis on a fresh key prefix
 * per test (skipped without Redis, a failure with REQUIRE_SERVICES=1: test/helpers/services.ts).
 */
import type { Test } from 'tap';
import { Redis } from 'ioredis';
import { createMemoryStores } from '../../src/stores/memory/memory-stores.ts';
import { createRedisStores } from '../../src/stores/redis/redis-stores.ts';
import type { OnlineStores } from '../../src/stores/online-stores.ts';
import { deleteRedisPrefix, testRedis } from '../helpers/services.ts';
import type { StoreTest } from './contract-helpers.ts';

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
}

/** The key prefix of each Redis contract store set, so a test can make Redis "lose" its data. */
const prefixes = new WeakMap<OnlineStores, string>();

export const memoryBackend: Backend = {
  name: 'memory',
  make: async () => createMemoryStores(),
  // Losing everything, for a single process, is starting over with fresh stores.
  loseData: async () => createMemoryStores(),
};

export const redisBackend: Backend = {
  name: 'redis',
  make: async (t) => {
    const service = await testRedis(t);
    if (!service) return null;
    const redis = new Redis(service.url);
    t.teardown(() => redis.quit());
    const stores = createRedisStores({ redis, keyPrefix: service.prefix });
    prefixes.set(stores, service.prefix);
    return stores;
  },
  // Like Redis restarting empty: every key is gone, the loaded scripts and the client remain.
  loseData: async (stores) => {
    await deleteRedisPrefix(prefixes.get(stores)!);
    return stores;
  },
};

export const backends: readonly Backend[] = [memoryBackend, redisBackend];

/** Declares contract tests named `<backend>: <title>` on fresh stores of `backend`. */
export function storeTest(t: Test, backend: Backend): StoreTest {
  return (title, body) =>
    t.test(`${backend.name}: ${title}`, async (t) => {
      const stores = await backend.make(t);
      if (!stores) return;
      await body(t, stores);
    });
}
