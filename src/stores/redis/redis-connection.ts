/**
 * How every Redis connection of the process is made: the options (fail fast while
 * disconnected, reconnect forever) and the address (REDIS_URL, or the master the Sentinels name).
 * Plain data in, a client out, so a worker thread (the lease keeper) connects exactly as the main
 * thread does from the settings it was handed.
 */
import { Redis } from 'ioredis';
import { redisTimeMs } from '../../cluster/cluster-clock.ts';

/** Where to connect: config's REDIS_URL, REDIS_SENTINELS and REDIS_SENTINEL_NAME. */
export interface RedisConnectionSettings {
  url: string;
  sentinels?: string | undefined;
  sentinelName?: string | undefined;
}

/** Options shared by every Redis connection of the process. */
export function redisOptions() {
  return {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2000,
    commandTimeout: 3000,
    // A command whose reply was lost may or may not have run; resending it blindly after a
    // reconnect would apply it behind its caller's back (the caller already saw an error and
    // retries through its own, idempotent path).
    autoResendUnfulfilledCommands: false,
    // Reconnect forever, quickly at first: the node keeps serving local sessions meanwhile.
    retryStrategy: (attempt: number) => Math.min(100 * attempt, 2000),
  };
}

/** A client (not connected yet: `lazyConnect`) for the settings. */
export function createRedisClient(settings: RedisConnectionSettings): Redis {
  const sentinels = settings.sentinels?.split(',').map((address) => {
    const at = address.lastIndexOf(':');
    return { host: address.slice(0, at).replace(/^\[|\]$/g, ''), port: Number(address.slice(at + 1)) };
  });
  // With sentinels, the URL still carries the password and database; the master's address comes
  // from the sentinels (and follows a failover).
  return new Redis(settings.url, sentinels ? { ...redisOptions(), sentinels, name: settings.sentinelName } : redisOptions());
}

/** Redis `TIME` in ms, as the cluster clock reads it (main thread and lease keeper alike). */
export function serverTime(redis: Redis): () => Promise<number> {
  return async () => redisTimeMs((await redis.time()) as unknown as [string, string]);
}
