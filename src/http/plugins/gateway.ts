/**
 * Wires the framework-free gateway core to this Fastify instance: the logout pipeline, the
 * gateway itself, cluster membership, the standalone recovery and the WebSocket server. The
 * order of start and shutdown is the gateway's own (gateway/node-lifecycle.ts); this plugin
 * only calls it from Fastify's registration, the WebSocket server's preClose and onClose.
 */
import { RedisConversationSequencer } from '../../stores/redis/redis-conversation-sequencer.ts';
import fp from 'fastify-plugin';
import websocket from '@fastify/websocket';
import { Gateway } from '../../gateway/gateway.ts';
import { LogoutPipeline } from '../../presence/logout-pipeline.ts';
import { CloseCode } from '../../protocol/close-codes.ts';
import { ClusterMembership, lapseAfterMs } from '../../cluster/cluster-membership.ts';
import { StatsExchange } from '../../cluster/stats-exchange.ts';
import { collectNodeStats, type NodeStats } from '../../gateway/node-stats.ts';
import { NodeLifecycle } from '../../gateway/node-lifecycle.ts';
import { StandaloneRecovery } from '../../presence/standalone-recovery.ts';
import { NodeStateFile } from '../../database/node-state-file.ts';
import type { Config } from '../../config.ts';
import { RedisLeaseKeeper } from '../../stores/redis/redis-lease-keeper.ts';
import { drainSessions } from '../../gateway/drain.ts';
import { CLOSE_WAIT_MS } from '../../gateway/node-lifecycle.ts';
import { redisSettings } from './online-store.ts';
import { serverTime } from '../../stores/redis/redis-connection.ts';

/** After a fence the node is ready again at once; the SDK's own jittered backoff spreads the rest. */
const FENCED_RECONNECT_AFTER_MS = 250;

declare module 'fastify' {
  interface FastifyInstance {
    gateway: Gateway;
    logoutPipeline: LogoutPipeline;
    cluster: ClusterMembership;
    /** Gathers the other nodes' /ws/stats numbers. */
    statsExchange: StatsExchange<NodeStats>;
    /** Milliseconds clock of the gateway: the cluster clock (app.clusterClock). */
    now: () => number;
  }
}

function settingsFrom(config: Config) {
  return {
    nodeId: config.NODE_ID,
    sessionPolicy: config.SESSION_POLICY,
    maxConnections: config.MAX_CONNECTIONS,
    maxPendingLogins: config.MAX_PENDING_LOGINS,
    maxEventLoopLagMs: config.MAX_EVENT_LOOP_LAG_MS,
    maxSessionsPerUser: config.MAX_SESSIONS_PER_USER,
    maxContentBytes: config.MAX_CONTENT_BYTES,
    heartbeatIntervalMs: config.HEARTBEAT_INTERVAL_MS,
    heartbeatTimeoutMs: config.HEARTBEAT_TIMEOUT_MS,
    writeTimeoutMs: config.WRITE_TIMEOUT_MS,
    wsPingIntervalMs: config.WS_PING_INTERVAL_MS,
    heartbeatFlushIntervalMs: config.HEARTBEAT_FLUSH_INTERVAL_MS,
    watchdogIntervalMs: config.WATCHDOG_INTERVAL_MS,
    sendQueueMax: config.SEND_QUEUE_MAX,
    sendQueueMaxBytes: config.SEND_QUEUE_MAX_BYTES,
    slowConsumerDrops: config.SLOW_CONSUMER_DROPS,
    maxMessagesPerSec: config.MAX_MESSAGES_PER_SEC,
    maxInboundBytesPerSec: config.MAX_INBOUND_BYTES_PER_SEC,
    rateLimitStrikes: config.RATE_LIMIT_STRIKES,
    maxRoomsPerSession: config.MAX_ROOMS_PER_SESSION,
    maxRoomChangesPerSec: config.MAX_ROOM_CHANGES_PER_SEC,
    roomFlushMs: config.ROOM_FLUSH_MS,
    deliveryReceiptTimeoutMs: config.DELIVERY_RECEIPT_TIMEOUT_MS,
    historyPageMax: config.HISTORY_PAGE_MAX,
    messagePersistence: config.MESSAGE_PERSISTENCE,
    recoveryMaxMessages: config.RECOVERY_MAX_MESSAGES,
  };
}

export default fp(
  async (app) => {
    const { config } = app;
    // One clock for the whole cluster: Redis server time (online-store plugin), so leases, locks,
    // grace periods and logout stamps of different nodes agree whatever their hosts' clocks say.
    const clock = app.clusterClock;
    const now = clock.now;
    // Every line already carries the nodeId (logger base): a child binding it again would repeat the key.
    const log = app.log;
    const logoutPipeline = new LogoutPipeline({
      presence: app.presence,
      outbox: app.logoutOutbox,
      repository: app.players,
      nodeId: config.NODE_ID,
      log,
      now,
      batchMax: config.LOGOUT_BATCH_MAX,
      retryBaseMs: config.LOGOUT_RETRY_BASE_MS,
      retryMaxMs: config.LOGOUT_RETRY_MAX_MS,
      graceMs: config.LOGOUT_GRACE_MS,
      // By then every live node has renewed its lease and re-asserted what the store lost.
      confirmEndsAfterMs: config.NODE_DEAD_AFTER_MS,
    });
    // Other nodes ask for this node's numbers over the bus (scope=cluster of /ws/stats); the
    // gateway hands their requests to it. `gateway` is read only when a request arrives.
    const statsExchange = new StatsExchange<NodeStats>({
      bus: app.bus,
      nodeId: config.NODE_ID,
      collect: () => collectNodeStats(gateway, logoutPipeline, now()),
    });
    const gateway = new Gateway({
      settings: settingsFrom(config),
      store: app.presence,
      repository: app.players,
      bus: app.bus,
      owners: app.ownerPublisher,
      logout: logoutPipeline,
      log,
      now,
      offlineQueue: app.offlineQueue,
      roomDirectory: app.roomDirectory,
      chat: {
        groups: app.groups,
        messages: app.messageStore,
        positions: app.conversationPositions,
        // Stored direct messages numbered on Redis are delivered before their commit (embedded: after it).
        sequencer:
          app.redis &&
          new RedisConversationSequencer({ redis: app.redis, keyPrefix: config.REDIS_KEY_PREFIX, storedLastSeq: (id) => app.messageStore.lastSeq(id) }),
      },
      statsExchange,
    });
    // With Redis, the lease is renewed from a worker thread while the main loop shows progress.
    const keeper = app.redis
      ? new RedisLeaseKeeper({
          connection: redisSettings(config),
          keyPrefix: config.REDIS_KEY_PREFIX,
          buckets: config.REDIS_BUCKETS,
          nodeId: config.NODE_ID,
          intervalMs: config.NODE_LEASE_INTERVAL_MS,
          stallLimitMs: config.NODE_STALL_LIMIT_MS,
          lapseAfterMs: lapseAfterMs(config.NODE_LEASE_INTERVAL_MS, config.NODE_DEAD_AFTER_MS),
          clock,
          log,
        })
      : undefined;
    keeper?.prepare();
    const cluster = new ClusterMembership({
      nodes: app.nodeRegistry,
      locks: app.locks,
      nodeId: config.NODE_ID,
      log,
      now,
      leaseIntervalMs: config.NODE_LEASE_INTERVAL_MS,
      deadAfterMs: config.NODE_DEAD_AFTER_MS,
      liveSessions: () => gateway.liveSessionsByUser(),
      pendingGraces: () => logoutPipeline.pendingGraces(),
      onLogouts: (records) => void logoutPipeline.report(records),
      absent: {
        // A connection still here, or one whose end waits for the store, is not absent.
        holds: (userId) => gateway.connections.countOf(userId) > 0 || logoutPipeline.hasParkedEnd(userId),
        report: (records) => void logoutPipeline.report(records),
      },
      // The store ended these users' logical sessions (reaped or replaced while we were cut
      // off): their connections here are ghosts. 1001 makes the clients reconnect and log in anew.
      onStale: (userIds) => userIds.forEach((u) => gateway.closeUser(u, CloseCode.GOING_AWAY, 'kicked')),
      // Reaped while frozen or cut off: every local session was logged out by the reaper. They are
      // told to reconnect (1012, as in a drain) and log in anew; their ends are stale in the store.
      fenced: {
        refuse: () => {
          gateway.suspended = true;
        },
        reconnectAll: async () => {
          await drainSessions({
            connections: gateway.connections,
            batchSize: config.DRAIN_BATCH,
            intervalMs: config.DRAIN_INTERVAL_MS,
            reason: 'node fenced',
            reconnectAfterMs: FENCED_RECONNECT_AFTER_MS,
          });
          const deadline = now() + CLOSE_WAIT_MS;
          while (gateway.connections.size > 0 && now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
          for (const session of gateway.connections.sessions()) session.terminate('shutdown');
          await gateway.settled();
        },
        accept: () => {
          gateway.suspended = false;
        },
      },
      keeper,
      clock: app.redis ? clock : undefined,
      serverTime: app.redis ? serverTime(app.redis, config.REDIS_KEY_PREFIX) : undefined,
    });
    // Without Redis the online store dies with the process; with a durable database, what it
    // knew about unfinished logouts must not (standalone-recovery.ts). An in-memory PGlite
    // forgets the sessions too: nothing to recover.
    const durableDatabase = config.DATABASE_URL !== undefined || !config.PGLITE_DIR.startsWith('memory://');
    const recovery =
      config.REDIS_URL === undefined && durableDatabase
        ? new StandaloneRecovery({
            storage: new NodeStateFile(config.NODE_STATE_FILE),
            nodeId: config.NODE_ID,
            repository: app.players,
            logouts: logoutPipeline,
            log,
            now,
            intervalMs: config.NODE_LEASE_INTERVAL_MS,
            batchMax: config.LOGOUT_BATCH_MAX,
          })
        : undefined;
    const lifecycle = new NodeLifecycle({
      gateway,
      logout: logoutPipeline,
      cluster,
      recovery,
      bus: app.bus,
      nodes: app.nodeRegistry,
      log,
      now,
      nodeId: config.NODE_ID,
      deadAfterMs: config.NODE_DEAD_AFTER_MS,
      watchdogIntervalMs: config.WATCHDOG_INTERVAL_MS,
      drainBatch: config.DRAIN_BATCH,
      drainIntervalMs: config.DRAIN_INTERVAL_MS,
      shutdownTimeoutMs: config.SHUTDOWN_TIMEOUT_MS,
    });
    app.decorate('gateway', gateway);
    app.decorate('logoutPipeline', logoutPipeline);
    app.decorate('cluster', cluster);
    app.decorate('statsExchange', statsExchange);
    app.decorate('now', now);

    await lifecycle.start();

    const wsServerOptions = {
      maxPayload: config.MAX_PAYLOAD_BYTES,
      clientTracking: true,
      // ws waits 30 s by default for the peer's answer to a server-side close, and the session's
      // end (its logout and timestamp) waits with it; a peer silenced by a heartbeat timeout is
      // most likely gone. ws 8.23 has the option; @types/ws does not list it yet, hence a variable.
      closeTimeout: config.CLOSE_TIMEOUT_MS,
    };
    await app.register(websocket, {
      options: wsServerOptions,
      // Replaces the plugin's default (close everything at once) with the lifecycle's drain.
      preClose: async function closeSessions() {
        await lifecycle.closeSessions(() => {
          for (const client of app.websocketServer.clients) client.terminate();
        });
        await new Promise<void>((resolve) => app.websocketServer.close(() => resolve()));
      },
    });

    app.addHook('onClose', async () => {
      await lifecycle.stop();
    });
  },
  { name: 'gateway', dependencies: ['config', 'database', 'chat', 'online-store', 'auth'] },
);
