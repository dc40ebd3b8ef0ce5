/**
 * The order in which a node starts and stops, framework-free. The Fastify plugin only calls
 * `start` when it registers, `closeSessions` from the WebSocket server's preClose and `stop` from
 * onClose; every rule about what comes before what lives here.
 *
 * Start: the previous run's unfinished logouts are recovered (standalone only) before the first
 * session and before the join; the join fails while another live process uses the node id; the
 * gateway subscribes; then the writers, the lease renewal and the watchdog run.
 *
 * Stop, in two phases:
 * 1. `closeSessions` (upgrades already refused): sessions are told to reconnect in batches, get
 *    CLOSE_WAIT_MS to answer the close, the rest are terminated, and their ends settle in the
 *    online store.
 * 2. `stop` (the stores still open): heartbeats and logins are flushed, the last node of the
 *    cluster ends every grace period now, the logouts are written until the deadline, and the
 *    node leaves the cluster. The stores close after that.
 */
import type { Bus } from '../cluster/bus.ts';
import { isNodeAlive } from '../cluster/node-liveness.ts';
import type { ClusterMembership } from '../cluster/cluster-membership.ts';
import type { NodeRegistry } from '../cluster/node-registry.ts';
import type { CoreLogger } from '../core-logger.ts';
import type { LogoutPipeline } from '../presence/logout-pipeline.ts';
import type { StandaloneRecovery } from '../presence/standalone-recovery.ts';
import { drainSessions } from './drain.ts';
import type { Gateway } from './gateway.ts';

/** Sessions get this long to answer the 1001 close before they are terminated. */
export const CLOSE_WAIT_MS = 1500;

/** Far enough in the future that no grace period outlives it. */
const END_OF_ALL_GRACE_MS = 10 * 365 * 86_400_000;

export interface NodeLifecycleOptions {
  gateway: Gateway;
  logout: LogoutPipeline;
  cluster: ClusterMembership;
  /** Standalone nodes with a durable database only (standalone-recovery.ts). */
  recovery: StandaloneRecovery | undefined;
  bus: Bus;
  /** Where the other nodes' leases are read (the last-node rule). */
  nodes: Pick<NodeRegistry, 'listNodes'>;
  log: CoreLogger;
  now: () => number;
  nodeId: string;
  /** NODE_DEAD_AFTER_MS: an older lease is not a node that could expire grace periods. */
  deadAfterMs: number;
  watchdogIntervalMs: number;
  drainBatch: number;
  drainIntervalMs: number;
  shutdownTimeoutMs: number;
  sleep?: (ms: number) => Promise<void>;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class NodeLifecycle {
  private watchdogTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: NodeLifecycleOptions) {}

  async start(): Promise<void> {
    const { gateway, logout, cluster, recovery, bus } = this.options;
    // Before the first session: the previous run's open sessions are closed as of its death.
    // Before the join too, so that the time it takes does not delay the first lease renewal.
    await recovery?.recover();
    recovery?.start();
    // Fails with NodeIdInUseError while another live process uses NODE_ID.
    await cluster.join();
    await gateway.listen();
    // Redis came back (maybe empty, maybe another server after a failover): renew at once and
    // make the store's record of this node match what it holds.
    // Added after the gateway's own listener: rooms are marked dirty first, then the renewal
    // starts. Never removed: the bus closes with the stores, after `stop`.
    bus.onResubscribed(() => void cluster.resync());
    logout.start();
    cluster.start();
    this.watchdogTimer = setInterval(() => gateway.tick(), this.options.watchdogIntervalMs);
    gateway.loopLag.start();
  }

  /**
   * Shutdown, phase 1: readiness turns 503 and upgrades are refused at once, then sessions are
   * told to reconnect in batches. Those that have not closed after CLOSE_WAIT_MS are terminated
   * with `terminateRemaining` (the transport's sockets, closing ones included); resolves once
   * every session end has settled in the online store.
   */
  async closeSessions(terminateRemaining: () => void): Promise<void> {
    const { gateway, now } = this.options;
    const sleep = this.options.sleep ?? defaultSleep;
    gateway.draining = true;
    await drainSessions({ connections: gateway.connections, batchSize: this.options.drainBatch, intervalMs: this.options.drainIntervalMs });
    const deadline = now() + CLOSE_WAIT_MS;
    while (gateway.connections.size > 0 && now() < deadline) await sleep(20);
    terminateRemaining();
    await gateway.settled();
  }

  /** Shutdown, phase 2 (after `closeSessions`, before the stores close). */
  async stop(): Promise<void> {
    const { gateway, logout, cluster, recovery, log, now } = this.options;
    clearInterval(this.watchdogTimer);
    gateway.loopLag.stop();
    const deadline = now() + Math.max(500, this.options.shutdownTimeoutMs - CLOSE_WAIT_MS - 500);
    await gateway.heartbeats.flush(now());
    await gateway.logins.flush();
    // The last node leaving: nobody would expire the grace periods of its players, so their
    // logouts happen now (stamped with the time each session ended).
    if (await this.isLastNode()) {
      log.info({}, 'last node of the cluster: grace periods end now');
      await logout.expireGrace(now() + END_OF_ALL_GRACE_MS);
    }
    const left = await logout.flush(deadline);
    logout.stop();
    const kept = await recovery?.stop();
    if (kept) log.warn({ unwrittenLogouts: kept }, 'shutdown: logouts kept in NODE_STATE_FILE for the next start');
    await cluster.leave().catch((error: unknown) => log.warn({ err: (error as Error).message }, 'lease not removed'));
    if (left > 0) log.warn({ pendingLogouts: left }, 'shutdown: logouts left in the online store queue for the next writer');
  }

  /** No other live lease (an unreachable store counts as none: better logged out than stuck). */
  private async isLastNode(): Promise<boolean> {
    const { nodes: registry, nodeId, now, deadAfterMs } = this.options;
    const others = await registry
      .listNodes()
      .then((nodes) => nodes.filter((n) => n.nodeId !== nodeId && isNodeAlive(n, now(), deadAfterMs)))
      .catch(() => []);
    return others.length === 0;
  }
}
