/**
 * The online stores on Redis (a cluster): presence, logout outbox, node registry and locks on
 * one command connection, one key schema and one set of scripts.
 */
import type { Redis } from 'ioredis';
import { DEFAULT_OFFLINE_TTL_MS, type OnlineStores } from '../online-stores.ts';
import { RedisLocks } from './redis-locks.ts';
import { RedisLogoutOutbox } from './redis-logout-outbox.ts';
import { RedisNodeRegistry } from './redis-node-registry.ts';
import { RedisKeys } from './keys.ts';
import { defineScripts } from './scripts.ts';
import { RedisPresenceStore } from './redis-presence-store.ts';
import type { RedisStoreContext } from './redis-store-context.ts';

export interface RedisStoresOptions {
  /** Owned by the caller, who quits it. Must not use ioredis' own `keyPrefix`. */
  redis: Redis;
  /** Prepended to every key, e.g. `gatehouse:`; default none. */
  keyPrefix?: string;
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
    keys: new RedisKeys(options.keyPrefix ?? ''),
    run: defineScripts(options.redis),
  };
  return {
    presence: new RedisPresenceStore(ctx),
    outbox: new RedisLogoutOutbox(ctx, { offlineTtlMs: options.offlineTtlMs ?? DEFAULT_OFFLINE_TTL_MS }),
    nodes: new RedisNodeRegistry(ctx, { reapClaimTtlMs: options.reapClaimTtlMs }),
    locks: new RedisLocks(ctx),
  };
}
