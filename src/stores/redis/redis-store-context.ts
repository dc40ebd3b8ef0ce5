/** What the Redis online stores share: the command connection, the key names, the scripts. */
import type { Redis } from 'ioredis';
import type { RedisKeys } from './keys.ts';
import type { RunScript } from './scripts.ts';

export interface RedisStoreContext {
  redis: Redis;
  keys: RedisKeys;
  run: RunScript;
}
