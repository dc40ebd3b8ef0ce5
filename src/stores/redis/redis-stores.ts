/**
 * The online stores on Redis (a single Redis or a Redis Cluster): presence, logout outbox, node
 * registry and locks on one command connection, one key schema and one set of scripts.
 */
import { DEFAULT_OFFLINE_TTL_MS, type OnlineStores } from '../online-stores.ts';
import { RedisLocks } from './redis-locks.ts';
import { RedisLogoutOutbox } from './redis-logout-outbox.ts';
import { RedisNodeRegistry } from './redis-node-registry.ts';
import { RedisKeys } from './keys.ts';
import { defineScripts, type RedisClient } from './scripts.ts';
import { RedisPresenceStore } from './redis-presence-store.ts';
import type { RedisStoreContext } from './redis-store-context.ts';

export interface RedisStoresOptions {
  /** Owned by the caller, who quits it. Must not use ioredis' own `keyPrefix`. */
  redis: RedisClient;
  /** Prepended to every key, e.g. `gatehouse:`; default none. */
  keyPrefix?: string;
  /**
   * How many buckets the presence keys are split into (REDIS_BUCKETS, buckets.ts); default 1.
   * Every process of a deployment must use the same number.
   */
  buckets?: number;
  /**
   * How old a reaper's claim on a dead node's user must be before another reaper takes it again
   * (the first one stopped between the two steps of a batch); default REAP_CLAIM_TTL_MS.
   */
  reapClaimTtlMs?: number;
  /**
   * How long an offline user's hash is kept once their logout is in the database
   * (PRESENCE_OFFLINE_TTL_S); default DEFAULT_OFFLINE_TTL_MS (one day).
   */
  offlineTtlMs?: number;
}

export function createRedisStores(options: RedisStoresOptions): OnlineStores {
  // Every name carries the prefix once, spelled in keys.ts; an ioredis keyPrefix would add a
  // second one to command keys only (not to channels, nor to userIds read back from sets) and
  // split the data across two namespaces.
  if (options.redis.options.keyPrefix) {
    throw new Error('createRedisStores: use the keyPrefix option of the stores, not of the ioredis client');
  }
  const ctx: RedisStoreContext = {
    redis: options.redis,
    keys: new RedisKeys(options.keyPrefix ?? '', options.buckets ?? 1),
    run: defineScripts(options.redis),
  };
  return {
    presence: new RedisPresenceStore(ctx),
    outbox: new RedisLogoutOutbox(ctx, { offlineTtlMs: options.offlineTtlMs ?? DEFAULT_OFFLINE_TTL_MS }),
    nodes: new RedisNodeRegistry(ctx, { reapClaimTtlMs: options.reapClaimTtlMs }),
    locks: new RedisLocks(ctx),
  };
}
