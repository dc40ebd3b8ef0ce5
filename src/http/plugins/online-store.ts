/**
 * The online stores (presence, logout outbox, node registry, locks) and the node-to-node bus:
 * in-process (memory) without REDIS_URL, Redis otherwise. Every store is wrapped with the
 * metrics' timing proxy here, where it is created, so no decorated object is ever replaced. The Redis client fails fast while disconnected (no offline queue), so a Redis
 * outage surfaces as errors the gateway handles instead of requests piling up in memory.
 */
import fp from 'fastify-plugin';
import { Cluster } from 'ioredis';
import type { RedisClient } from '../../stores/redis/scripts.ts';
import { createRedisClient, redisOptions, serverTime, type RedisConnectionSettings } from '../../stores/redis/redis-connection.ts';
import { ClusterClock } from '../../cluster/cluster-clock.ts';
import type { Config } from '../../config.ts';
import type { Bus } from '../../cluster/bus.ts';
import { MemoryBus } from '../../stores/memory/memory-bus.ts';
import { createMemoryStores } from '../../stores/memory/memory-stores.ts';
import { MemoryOnlineState } from '../../stores/memory/memory-online-state.ts';
import { createRedisStores } from '../../stores/redis/redis-stores.ts';
import type { OnlineStores } from '../../stores/online-stores.ts';
import type { PresenceStore } from '../../presence/presence-store.ts';
import type { LogoutOutbox } from '../../presence/logout-outbox.ts';
import type { NodeRegistry } from '../../cluster/node-registry.ts';
import type { Locks } from '../../cluster/locks.ts';
import { instrument } from '../../metrics/instrument.ts';
import { RedisBus } from '../../stores/redis/redis-bus.ts';
import { LookupOwnerPublisher, type OwnerPublisher } from '../../cluster/owner-publisher.ts';
import { RedisOwnerPublisher } from '../../stores/redis/redis-owner-publisher.ts';
import type { OfflineQueue } from '../../delivery/offline-queue.ts';
import { MemoryOfflineQueue } from '../../stores/memory/memory-offline-queue.ts';
import { RedisOfflineQueue } from '../../stores/redis/redis-offline-queue.ts';
import { OfflineQueueSweeper } from '../../delivery/offline-queue-sweeper.ts';
import type { RoomDirectory } from '../../delivery/room-directory.ts';
import { MemoryRoomDirectory } from '../../stores/memory/memory-room-directory.ts';
import { RedisRoomDirectory } from '../../stores/redis/redis-room-directory.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /** Who is online where (presence/presence-store.ts). */
    presence: PresenceStore;
    /** Logouts still to be written to the database (presence/logout-outbox.ts). */
    logoutOutbox: LogoutOutbox;
    /** Node leases, reaping, re-assertion (cluster/node-registry.ts). */
    nodeRegistry: NodeRegistry;
    /** Named locks (the reaper's). */
    locks: Locks;
    bus: Bus;
    /** Publishes to the nodes holding a user's sessions (one script on Redis). */
    ownerPublisher: OwnerPublisher;
    /** The command connection to Redis (a single Redis or a Redis Cluster), absent on the memory store. */
    redis: RedisClient | undefined;
    /** Messages for offline users (`websocket:queue:<userId>`), same backend as the store. */
    offlineQueue: OfflineQueue;
    /** Cluster-wide room membership (admin API), same backend as the store. */
    roomDirectory: RoomDirectory;
    /**
     * The cluster clock (cluster/cluster-clock.ts): Redis server time with REDIS_URL, sampled at
     * every lease renewal; the local clock without. Every time compared across nodes comes from it.
     */
    clusterClock: ClusterClock;
  }
}

/** The Redis connection settings of the config, as plain data (a worker thread gets them too). */
export function redisSettings(config: Config): RedisConnectionSettings {
  return { url: config.REDIS_URL ?? '', sentinels: config.REDIS_SENTINELS, sentinelName: config.REDIS_SENTINEL_NAME, clusterNodes: config.REDIS_CLUSTER_NODES };
}

/** The offline queues' sweep runs every min(OFFLINE_QUEUE_TTL_S, this). */
const OFFLINE_SWEEP_MAX_INTERVAL_MS = 60_000;

/** Samples taken at startup, before the node registers: the lowest round trip wins. */
const STARTUP_CLOCK_SAMPLES = 3;

/** Kept here too: the tests build their connections as the gateway does. */
export { redisOptions };

export default fp(
  async (app) => {
    const { config } = app;
    // Timed as online-store calls: the store's own methods by name; the room directory's and the
    // owner publisher's (they live in the online store too, Redis in a cluster) prefixed.
    const { observeStoreCall } = app.metrics;
    const timed = <T extends object>(store: T, prefix?: string): T =>
      instrument(store, prefix === undefined ? observeStoreCall : (method, seconds, ok, args) => observeStoreCall(`${prefix}.${method}`, seconds, ok, args));
    const decorateStores = (stores: OnlineStores) => {
      app.decorate('presence', timed(stores.presence));
      app.decorate('logoutOutbox', timed(stores.outbox));
      app.decorate('nodeRegistry', timed(stores.nodes));
      app.decorate('locks', timed(stores.locks));
    };
    const offlineLimits = {
      max: config.OFFLINE_QUEUE_MAX,
      ttlMs: config.OFFLINE_QUEUE_TTL_S * 1000,
      maxBytes: config.OFFLINE_QUEUE_MAX_BYTES,
      senderMax: config.OFFLINE_QUEUE_SENDER_MAX,
      senderMaxBytes: config.OFFLINE_QUEUE_SENDER_MAX_BYTES,
      totalMaxBytes: config.OFFLINE_QUEUE_TOTAL_MAX_BYTES,
    };
    const clock = new ClusterClock();
    app.decorate('clusterClock', clock);
    // Reconciles the cluster total of the offline queues (one node at a time, under a lock).
    const startSweeper = () => {
      const sweeper = new OfflineQueueSweeper({
        queue: app.offlineQueue,
        locks: app.locks,
        nodeId: config.NODE_ID,
        intervalMs: Math.min(offlineLimits.ttlMs, OFFLINE_SWEEP_MAX_INTERVAL_MS),
        now: clock.now,
        log: app.log,
      });
      app.addHook('onReady', async () => sweeper.start());
      app.addHook('onClose', async () => sweeper.stop());
    };
    if (!config.REDIS_URL) {
      app.decorate('offlineQueue', new MemoryOfflineQueue(offlineLimits));
      app.decorate('roomDirectory', timed(new MemoryRoomDirectory(), 'roomDirectory'));
      const stores = createMemoryStores(new MemoryOnlineState({ offlineTtlMs: config.PRESENCE_OFFLINE_TTL_S * 1000 }));
      decorateStores(stores);
      app.decorate('bus', new MemoryBus());
      // Built on the untimed presence store: its lookup is timed once, as publishToOwners.
      app.decorate('ownerPublisher', timed(new LookupOwnerPublisher(stores.presence, app.bus), 'ownerPublisher'));
      app.decorate('redis', undefined);
      startSweeper();
      app.log.info('online store: in-process memory (single node)');
      return;
    }
    const redis = createRedisClient(redisSettings(config));
    let lastErrorLog = 0;
    redis.on('error', (err) => {
      // ioredis emits an error per failed reconnect; one line every 10 s is enough.
      if (Date.now() - lastErrorLog > 10_000) {
        lastErrorLog = Date.now();
        app.log.warn({ err: err.message }, 'redis connection error');
      }
    });
    await redis.connect();
    app.decorate<RedisClient | undefined>('redis', redis);
    // On Redis server time before anything is stamped (the lease keeper samples it from then on).
    for (let i = 0; i < STARTUP_CLOCK_SAMPLES; i++) await clock.sync(serverTime(redis, config.REDIS_KEY_PREFIX));
    const layout = { redis, keyPrefix: config.REDIS_KEY_PREFIX, buckets: config.REDIS_BUCKETS };
    const stores = createRedisStores({ ...layout, offlineTtlMs: config.PRESENCE_OFFLINE_TTL_S * 1000 });
    decorateStores(stores);
    app.decorate('offlineQueue', new RedisOfflineQueue({ ...layout, ...offlineLimits }));
    app.decorate('roomDirectory', timed(new RedisRoomDirectory(layout), 'roomDirectory'));
    // The bus owns its subscriber connection(s); this one only publishes.
    const bus = new RedisBus({ publisher: redis, channelPrefix: config.REDIS_KEY_PREFIX, log: app.log });
    app.decorate('bus', bus);
    // On a single Redis, lookup and publishes in one script. On a cluster the user's hash and the
    // owning nodes' channels are in different slots: the lookup, then one SPUBLISH per owner.
    const owners: OwnerPublisher =
      redis instanceof Cluster ? new LookupOwnerPublisher(stores.presence, bus) : new RedisOwnerPublisher({ redis, keyPrefix: config.REDIS_KEY_PREFIX, bus });
    app.decorate('ownerPublisher', timed(owners, 'ownerPublisher'));
    startSweeper();
    app.log.info(
      redis instanceof Cluster ? { clusterNodes: config.REDIS_CLUSTER_NODES, buckets: config.REDIS_BUCKETS } : { buckets: config.REDIS_BUCKETS },
      redis instanceof Cluster ? 'online store: redis cluster' : 'online store: redis',
    );
    app.addHook('onClose', async () => {
      await app.bus.close();
      await redis.quit().catch(() => redis.disconnect());
    });
  },
  { name: 'online-store', dependencies: ['config', 'metrics'] },
);
