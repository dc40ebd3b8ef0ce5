/** What the Redis online stores share: the command connection, the key names, the scripts. */
import type { RedisKeys } from './keys.ts';
import type { RedisClient, RunScript } from './scripts.ts';

export interface RedisStoreContext {
  /** A single Redis or a Redis Cluster (then `keys` has one bucket per slot group, see buckets.ts). */
  redis: RedisClient;
  keys: RedisKeys;
  run: RunScript;
}
