/**
 * Wires the framework-free gateway core to this Fastify instance: the logout pipeline, the
 * gateway itself, the one watchdog interval, the WebSocket server, and the shutdown order
 * (stop upgrades -> close sessions with 1001 -> settle their ends -> flush heartbeats and
 * logouts -> then the stores close).
 */
import fp from 'fastify-plugin';
import websocket from '@fastify/websocket';
import { Gateway } from '../../gateway/gateway.ts';
import { LogoutPipeline } from '../../presence/logout-pipeline.ts';
import { CloseCode } from '../../protocol/close-codes.ts';
import { ClusterMembership } from '../../cluster/cluster-membership.ts';
import { drainSessions } from '../../gateway/drain.ts';
import { StandaloneRecovery } from '../../presence/standalone-recovery.ts';
import { NodeStateFile } from '../../database/node-state-file.ts';
import type { Config } from '../../config.ts';


declare module 'fastify' {
  interface FastifyInstance {
    gateway: Gateway;
    logoutPipeline: LogoutPipeline;
    cluster: ClusterMembership;
    /** Milliseconds clock of the gateway (replaceable in tests). */
    now: () => number;
  }
}

/** Sessions get this long to answer the 1001 close before they are terminated. */
const CLOSE_WAIT_MS = 1500;

function settingsFrom(config: Config) {
  return {
    nodeId: config.NODE_ID,
    sessionPolicy: config.SESSION_POLICY,
    maxConnections: config.MAX_CONNECTIONS,
    maxSessionsPerUser: config.MAX_SESSIONS_PER_USER,
    maxContentBytes: config.MAX_CONTENT_BYTES,
    heartbeatIntervalMs: config.HEARTBEAT_INTERVAL_MS,
    heartbeatTimeoutMs: config.HEARTBEAT_TIMEOUT_MS,
    writeTimeoutMs: config.WRITE_TIMEOUT_MS,
    wsPingIntervalMs: config.WS_PING_INTERVAL_MS,
    heartbeatFlushIntervalMs: config.HEARTBEAT_FLUSH_INTERVAL_MS,
    sendQueueMax: config.SEND_QUEUE_MAX,
    sendQueueMaxBytes: config.SEND_QUEUE_MAX_BYTES,
    slowConsumerDrops: config.SLOW_CONSUMER_DROPS,
    maxMessagesPerSec: config.MAX_MESSAGES_PER_SEC,
    rateLimitStrikes: config.RATE_LIMIT_STRIKES,
    maxRoomsPerSession: config.MAX_ROOMS_PER_SESSION,
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export default fp(
  async (app) => {
    const { config } = app;
    const now = () => Date.now();
    const log = app.log.child({ nodeId: config.NODE_ID });
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
    });
    const cluster = new ClusterMembership({
      nodes: app.nodeRegistry,
      locks: app.locks,
      nodeId: config.NODE_ID,
      log,
      now,
      leaseIntervalMs: config.NODE_LEASE_INTERVAL_MS,
      deadAfterMs: config.NODE_DEAD_AFTER_MS,
      liveSessions: () => gateway.liveSessionsByUser(),
      onLogouts: (records) => logoutPipeline.report(records),
      // The store ended these users' logical sessions (reaped or replaced while we were cut
      // off): their connections here are ghosts. 1001 makes the clients reconnect and log in anew.
      onStale: (userIds) => userIds.forEach((u) => gateway.closeUser(u, CloseCode.GOING_AWAY, 'kicked')),
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
    app.decorate('gateway', gateway);
    app.decorate('logoutPipeline', logoutPipeline);
    app.decorate('cluster', cluster);
    app.decorate('now', now);

    // Before the first session: the previous run's open sessions are closed as of its death.
    // Before the join too, so that the time it takes does not delay the first lease renewal.
    await recovery?.recover();
    recovery?.start();
    // Fails with NodeIdInUseError while another live process uses NODE_ID.
    await cluster.join();
    // Redis came back (maybe empty): renew at once, re-asserting our sessions if it forgot us.
    app.bus.onResubscribed = () => void cluster.tick();
    await gateway.listen();
    logoutPipeline.start();
    cluster.start();
    const watchdogTimer = setInterval(() => gateway.tick(), config.WATCHDOG_INTERVAL_MS);

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
      // Replaces the plugin's default (close everything at once) with a drain: readiness turns
      // 503 and upgrades are refused at once, then sessions are told to reconnect in batches.
      preClose: async function closeSessions() {
        gateway.draining = true;
        await drainSessions({ connections: gateway.connections, batchSize: config.DRAIN_BATCH, intervalMs: config.DRAIN_INTERVAL_MS });
        const deadline = Date.now() + CLOSE_WAIT_MS;
        while (gateway.connections.size > 0 && Date.now() < deadline) await sleep(20);
        for (const client of app.websocketServer.clients) client.terminate();
        await gateway.settled();
        await new Promise<void>((resolve) => app.websocketServer.close(() => resolve()));
      },
    });

    app.addHook('onClose', async () => {
      clearInterval(watchdogTimer);
      const deadline = Date.now() + Math.max(500, config.SHUTDOWN_TIMEOUT_MS - CLOSE_WAIT_MS - 500);
      await gateway.heartbeats.flush(now());
      await gateway.logins.flush();
      // The last node leaving: nobody would expire the grace periods of its players, so their
      // logouts happen now (stamped with the time each session ended).
      const others = await app.nodeRegistry
        .listNodes()
        .then((nodes) => nodes.filter((n) => n.nodeId !== config.NODE_ID && now() - n.lastRenewal <= config.NODE_DEAD_AFTER_MS))
        .catch(() => []);
      if (others.length === 0) {
        log.info('last node of the cluster: grace periods end now');
        await logoutPipeline.expireGrace(now() + 10 * 365 * 86_400_000);
      }
      const left = await logoutPipeline.flush(deadline);
      logoutPipeline.stop();
      const kept = await recovery?.stop();
      if (kept) log.warn({ unwrittenLogouts: kept }, 'shutdown: logouts kept in NODE_STATE_FILE for the next start');
      await cluster.leave().catch((error: unknown) => log.warn({ err: (error as Error).message }, 'lease not removed'));
      if (left > 0) log.warn({ pendingLogouts: left }, 'shutdown: logouts left in the online store queue for the next writer');
    });
  },
  { name: 'gateway', dependencies: ['config', 'database', 'online-store', 'auth'] },
);
