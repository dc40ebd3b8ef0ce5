/** What the Redis online stores share: the command connection, the key names, the scripts. */
import type { Redis } from 'ioredis';
import type { OnlineKeys } from './redis-online-keys.ts';
import type { RunScript } from './redis-online-scripts.ts';

export interface RedisStoreContext {
  redis: Redis;
  keys: OnlineKeys;
  run: RunScript;
}
