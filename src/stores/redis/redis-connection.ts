/**
 * How every Redis connection of the process is made: the options (fail fast while
 * disconnected, reconnect forever) and the address (REDIS_URL, the master the Sentinels name, or
 * the Redis Cluster whose seed nodes REDIS_CLUSTER_NODES lists).
 * Plain data in, a client out, so a worker thread (the lease keeper) connects exactly as the main
 * thread does from the settings it was handed.
 */
import { Cluster, Redis } from 'ioredis';
import { redisTimeMs } from '../../cluster/cluster-clock.ts';
import type { RedisClient } from './scripts.ts';

/** Where to connect: config's REDIS_URL, REDIS_SENTINELS and REDIS_SENTINEL_NAME, REDIS_CLUSTER_NODES. */
export interface RedisConnectionSettings {
  url: string;
  sentinels?: string | undefined;
  sentinelName?: string | undefined;
  /** Seed nodes of a Redis Cluster; the URL then gives only the credentials and TLS. */
  clusterNodes?: string | undefined;
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

/** `host:port,host:port` (IPv6 hosts in brackets) as address objects. */
function addresses(list: string): Array<{ host: string; port: number }> {
  return list.split(',').map((address) => {
    const at = address.lastIndexOf(':');
    return { host: address.slice(0, at).replace(/^\[|\]$/g, ''), port: Number(address.slice(at + 1)) };
  });
}

/** A client (not connected yet: `lazyConnect`) for the settings. */
export function createRedisClient(settings: RedisConnectionSettings): RedisClient {
  if (settings.clusterNodes) return createClusterClient(settings.url, settings.clusterNodes);
  const sentinels = settings.sentinels ? addresses(settings.sentinels) : undefined;
  // With sentinels, the URL still carries the password and database; the master's address comes
  // from the sentinels (and follows a failover).
  return new Redis(settings.url, sentinels ? { ...redisOptions(), sentinels, name: settings.sentinelName } : redisOptions());
}

/**
 * A Redis Cluster client: every command goes to the primary of its slot (writes and reads alike:
 * a replica may be behind), the slot map is refreshed on MOVED, on a lost node and every second,
 * and a failover is waited out for a moment before a command fails. The waits stay short (16
 * redirections 100 ms apart): after a failover every node's lease renewals must come back within
 * about the same second, or the first node back would judge a slower one dead
 * (test/cluster/redis-cluster-failover.test.ts).
 */
function createClusterClient(url: string, seeds: string): Cluster {
  const parsed = new URL(url);
  const { lazyConnect, enableOfflineQueue, retryStrategy, ...perNode } = redisOptions();
  return new Cluster(addresses(seeds), {
    lazyConnect,
    enableOfflineQueue,
    scaleReads: 'master',
    clusterRetryStrategy: retryStrategy,
    retryDelayOnFailover: 100,
    retryDelayOnClusterDown: 100,
    retryDelayOnTryAgain: 100,
    slotsRefreshTimeout: 2000,
    slotsRefreshInterval: 1000,
    redisOptions: {
      ...perNode,
      username: parsed.username ? decodeURIComponent(parsed.username) : undefined,
      password: parsed.password ? decodeURIComponent(parsed.password) : undefined,
      tls: parsed.protocol === 'rediss:' ? {} : undefined,
    },
  });
}

/**
 * Redis `TIME` in ms, as the cluster clock reads it (main thread and lease keeper alike). On a
 * Redis Cluster every shard has its own clock: the cluster clock is the one of the primary
 * owning the slot of `<prefix>cluster:clock` (a keyed script routes there), so every node reads
 * the same one.
 */
export function serverTime(redis: RedisClient, keyPrefix = ''): () => Promise<number> {
  if (redis instanceof Cluster) {
    const key = `${keyPrefix}cluster:clock`;
    return async () => redisTimeMs((await redis.eval("return redis.call('TIME')", 1, key)) as [string, string]);
  }
  return async () => redisTimeMs((await redis.time()) as unknown as [string, string]);
}
