/**
 * The online store and the node-to-node bus: in-process (memory) without REDIS_URL, Redis
 * otherwise. The Redis client fails fast while disconnected (no offline queue), so a Redis
 * outage surfaces as errors the gateway handles instead of requests piling up in memory.
 */
import fp from 'fastify-plugin';
import { Redis } from 'ioredis';
import type { Bus } from '../../cluster/bus.ts';
import { MemoryBus } from '../../stores/memory/memory-bus.ts';
import { MemoryOnlineStore } from '../../stores/memory/memory-online-store.ts';
import type { OnlineStore } from '../../presence/online-store.ts';
import { RedisOnlineStore } from '../../stores/redis/redis-online-store.ts';
import { RedisBus } from '../../stores/redis/redis-bus.ts';
import { LookupOwnerPublisher, type OwnerPublisher } from '../../cluster/owner-publisher.ts';
import { RedisOwnerPublisher } from '../../stores/redis/redis-owner-publisher.ts';
import type { OfflineQueue } from '../../delivery/offline-queue.ts';
import { MemoryOfflineQueue } from '../../stores/memory/memory-offline-queue.ts';
import { RedisOfflineQueue } from '../../stores/redis/redis-offline-queue.ts';
import type { RoomDirectory } from '../../delivery/room-directory.ts';
import { MemoryRoomDirectory } from '../../stores/memory/memory-room-directory.ts';
import { RedisRoomDirectory } from '../../stores/redis/redis-room-directory.ts';

declare module 'fastify' {
  interface FastifyInstance {
    onlineStore: OnlineStore;
    bus: Bus;
    /** Publishes to the nodes holding a user's sessions (one script on Redis). */
    ownerPublisher: OwnerPublisher;
    /** The command connection to Redis, absent on the memory store. */
    redis: Redis | undefined;
    /** Messages for offline users (`websocket:queue:<userId>`), same backend as the store. */
    offlineQueue: OfflineQueue;
    /** Cluster-wide room membership (admin API), same backend as the store. */
    roomDirectory: RoomDirectory;
  }
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

export default fp(
  async (app) => {
    const { config } = app;
    const offlineLimits = { max: config.OFFLINE_QUEUE_MAX, ttlMs: config.OFFLINE_QUEUE_TTL_S * 1000 };
    if (!config.REDIS_URL) {
      app.decorate('offlineQueue', new MemoryOfflineQueue(offlineLimits));
      app.decorate('roomDirectory', new MemoryRoomDirectory());
      app.decorate('onlineStore', new MemoryOnlineStore());
      app.decorate('bus', new MemoryBus());
      app.decorate('ownerPublisher', new LookupOwnerPublisher(app.onlineStore, app.bus));
      app.decorate('redis', undefined);
      app.log.info('online store: in-process memory (single node)');
      return;
    }
    const sentinels = config.REDIS_SENTINELS?.split(',').map((address) => {
      const at = address.lastIndexOf(':');
      return { host: address.slice(0, at).replace(/^\[|\]$/g, ''), port: Number(address.slice(at + 1)) };
    });
    // With sentinels, REDIS_URL still carries the password and database; the master's address
    // comes from the sentinels (and follows a failover).
    const redis = new Redis(
      config.REDIS_URL,
      sentinels ? { ...redisOptions(), sentinels, name: config.REDIS_SENTINEL_NAME } : redisOptions(),
    );
    let lastErrorLog = 0;
    redis.on('error', (err) => {
      // ioredis emits an error per failed reconnect; one line every 10 s is enough.
      if (Date.now() - lastErrorLog > 10_000) {
        lastErrorLog = Date.now();
        app.log.warn({ err: err.message }, 'redis connection error');
      }
    });
    await redis.connect();
    app.decorate('redis', redis);
    app.decorate('onlineStore', new RedisOnlineStore({ redis, keyPrefix: config.REDIS_KEY_PREFIX }));
    app.decorate('offlineQueue', new RedisOfflineQueue({ redis, keyPrefix: config.REDIS_KEY_PREFIX, ...offlineLimits }));
    app.decorate('roomDirectory', new RedisRoomDirectory({ redis, keyPrefix: config.REDIS_KEY_PREFIX }));
    // The bus owns a second (subscriber) connection; this one only publishes.
    const bus = new RedisBus({ publisher: redis, channelPrefix: config.REDIS_KEY_PREFIX, log: app.log });
    app.decorate('bus', bus);
    app.decorate('ownerPublisher', new RedisOwnerPublisher({ redis, keyPrefix: config.REDIS_KEY_PREFIX, bus }));
    app.log.info('online store: redis');
    app.addHook('onClose', async () => {
      await app.onlineStore.close();
      await app.bus.close();
      await redis.quit().catch(() => redis.disconnect());
    });
  },
  { name: 'online-store', dependencies: ['config'] },
);
