/**
 * This node's place in the cluster: its lease in the online store, the reaper that logs out
 * the players of dead nodes, and the re-assertion of this node's live sessions when the store
 * lost them (Redis restarted empty, or this node was cut off long enough to be reaped).
 *
 * One timer: every `leaseIntervalMs` the node renews its lease, then looks for dead leases.
 * A node whose lease is older than `deadAfterMs` is dead; one live node (holding a lock in the
 * store) reaps it in batches. The reaping is atomic per user and compare-and-set on the dead
 * node's count, so a player who already reconnected elsewhere is never logged out by it, and
 * two reapers cannot log anyone out twice.
 *
 * A node only judges others once it has itself renewed its lease without a lapse for
 * `deadAfterMs` (since it joined, or since its last failed, late or overdue renewal: one that
 * has not come back at all counts as lapsed once it is late). Whatever kept this
 * node from renewing (Redis down or partitioned away, a paused host) may have kept the others
 * from renewing too: right after a cluster-wide outage in which Redis kept its data, every lease
 * is old, and the first node back would otherwise reap all the others before they had a chance
 * to renew. A node that is really gone still is reaped, `deadAfterMs` later at most.
 *
 * Cluster mode renews the lease off the main event loop (`LeaseKeeper`, a worker thread): the
 * round then reads the keeper's renewal outcomes instead of renewing itself, and renews itself
 * only while the keeper is down. Every time here is on the cluster clock (`now`: Redis server
 * time, cluster-clock.ts); a round that renews itself samples it first (`serverTime`).
 *
 * The store may also go back in time: Redis restarted from an older snapshot, or a replica that
 * missed the last writes was promoted. Its leases are then old although every node is alive.
 * Before judging anyone, the reaper checks its own lease in the same listing: a lease older than
 * the last one this node wrote (or none) means the store lost writes, so steadiness starts again
 * and nobody is judged until every node had `deadAfterMs` to renew. A lapse is also recorded in
 * the store by whichever renewer saw it (`lapsedAt`): the keeper's thread and the main loop each
 * learn of it, even when the other one's renewal came first. Every reconnection to the store
 * (`resync`) re-asserts the node's share (its live sessions, and the ended ones whose logout it
 * still waits for) and releases the players it no longer holds.
 *
 * Fencing: a renewal refused as fenced means a reaper took this node for dead (it froze, was cut
 * off, or its loop stalled past NODE_STALL_LIMIT_MS) and logged its players out. The node then
 * refuses new sessions, registers a fresh lease generation (finishing whatever reaping was left,
 * exactly once: reap claims are disjoint), tells every local session to reconnect (1012; their
 * ends are stale no-ops in the store: no second logout), and serves again.
 */
import type { LogoutRecord } from '../presence/logout-outbox.ts';
import type { Locks } from './locks.ts';
import { NodeIdInUseError, type NodeLease, type NodeRegistry, type ReassertGrace, type ReassertSession } from './node-registry.ts';
import type { CoreLogger } from '../core-logger.ts';
import { isLeaseLive, isNodeAlive } from './node-liveness.ts';
import type { LeaseKeeper, LeaseRenewalOutcome } from './lease-keeper.ts';
import type { ClusterClock } from './cluster-clock.ts';

/** |cluster clock - local wall clock| past this is worth a warning (the host's NTP is off). */
export const CLOCK_OFFSET_WARN_MS = 1000;
/** How long `join` waits for the lease keeper's thread before registering anyway. */
const KEEPER_READY_TIMEOUT_MS = 15_000;
/** At most one clock-offset warning per this long. */
const CLOCK_WARN_INTERVAL_MS = 60_000;

/** What a fenced node does with its local sessions (wired to the gateway). */
export interface FencedSessions {
  /** Refuse new sessions: the node holds no valid lease. */
  refuse(): void;
  /** Tell every local session to reconnect (reconnect frame, 1012); resolves once their ends settled. */
  reconnectAll(): Promise<void>;
  /** Accept new sessions again. */
  accept(): void;
}

export interface ClusterMembershipOptions {
  nodes: NodeRegistry;
  /** The reaper's lock (one reaper per dead node at a time). */
  locks: Locks;
  nodeId: string;
  log: CoreLogger;
  /** The cluster clock (cluster-clock.ts). */
  now: () => number;
  leaseIntervalMs: number;
  deadAfterMs: number;
  /** Users per reap / reassert round trip. */
  batchSize?: number;
  /** The node's live sessions, one entry per user (for re-assertion). */
  liveSessions: () => ReassertSession[];
  /** The ended logical sessions whose logout the node still waits for (re-asserted after them). */
  pendingGraces?: () => ReassertGrace[];
  /** Logouts the reaper (or registration) made: log and write them. */
  onLogouts: (records: readonly LogoutRecord[]) => void;
  /** Users whose local sessions the store no longer backs: close them. */
  onStale: (userIds: readonly string[]) => void;
  /** What to do with the local sessions once this node finds itself fenced. */
  fenced?: FencedSessions;
  /**
   * Users the store records on this node that it no longer holds are released at every
   * re-assertion (`NodeRegistry.releaseAbsent`): `holds` says whether the node still has (or is
   * still ending) a connection of the user; `report` gets the logouts. Without it, nothing is released.
   */
  absent?: { holds: (userId: string) => boolean; report: (records: readonly LogoutRecord[]) => void };
  /** Renews off the main loop (cluster mode); without it every round renews here. */
  keeper?: LeaseKeeper;
  /** The cluster clock and its source, sampled before a renewal made here (cluster mode). */
  clock?: ClusterClock;
  serverTime?: () => Promise<number>;
}

/**
 * How long after the previous renewal a renewal may come before it counts as a lapse. A stall
 * that no error revealed (a paused host, a Redis that answers slowly) may have held the others
 * back as long, leaving their leases up to `gap + leaseIntervalMs` old: that must stay under
 * `deadAfterMs`. But renewals are routinely a little late (timer jitter, a long reaping round
 * makes the next tick skip), so never less than 1.5 intervals.
 */
export function lapseAfterMs(leaseIntervalMs: number, deadAfterMs: number): number {
  return Math.max(1.5 * leaseIntervalMs, Math.min(2.5 * leaseIntervalMs, deadAfterMs - leaseIntervalMs));
}

export class ClusterMembership {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  reaped = 0;
  /** ms of the last successful lease renewal. */
  lastRenewal = 0;
  /**
   * Since when this node's lease has been renewed without a lapse; undefined after a failed
   * renewal, until the next one succeeds. Other nodes are judged only `deadAfterMs` after it.
   */
  private steadySince: number | undefined;
  /** The newest lease value this node knows it wrote (its registration, renewals, re-assertions). */
  private leaseWritten = 0;
  /** Times the store was found to have lost this node's newest lease (restored from an older state). */
  rewinds = 0;
  /** Lapses of this node's own lease seen so far (failed or late renewals, lost lease). */
  lapses = 0;
  /** Times this node found its lease fenced (it had been reaped) and started over. */
  fences = 0;
  /** The generation of this node's lease (from `registerNode`). */
  generation = '';
  /** A fenced renewal was seen and the node has not registered anew yet. */
  private fenced = false;
  /** The next round re-asserts whatever the lease says (`resync`, or the store went back in time). */
  private resyncWanted = false;
  private lastClockWarning = Number.NEGATIVE_INFINITY;

  constructor(private readonly options: ClusterMembershipOptions) {}

  /**
   * Takes the node's lease (waiting out a dead predecessor's); fails (NodeIdInUseError) when a
   * live node holds the id.
   */
  async join(): Promise<void> {
    const { nodeId, now, keeper, log } = this.options;
    // The keeper renews from the first lease on, whatever the main loop is busy with (loading the
    // rest of the app takes seconds on a busy host: longer than NODE_DEAD_AFTER_MS may be).
    if (keeper && !(await keeper.whenReady(KEEPER_READY_TIMEOUT_MS))) {
      log.warn({ nodeId }, 'lease keeper thread not ready: the main loop renews the lease meanwhile');
    }
    const { at, result } = await this.registerWhenFree();
    const { reaped, generation } = result;
    this.generation = generation;
    this.leaseWritten = at;
    keeper?.start(generation);
    // A node that starts has seen nobody renew yet (it may be starting right after an outage).
    this.lastRenewal = this.steadySince = now();
    if (reaped.length > 0) {
      this.options.log.warn({ nodeId, count: reaped.length }, 'previous process with this node id left players behind: logged out');
      this.reaped += reaped.length;
      this.options.onLogouts(reaped);
    }
  }

  /**
   * Registers the node id. A lease that is not expired yet but no longer renewed is a previous
   * process that just died (a restart right after a crash, faster than NODE_DEAD_AFTER_MS): the
   * registration waits for it to expire, then reaps what it left. A lease that moves is a live
   * process using the id: NodeIdInUseError, at once.
   */
  private async registerWhenFree(): Promise<{ at: number; result: Awaited<ReturnType<NodeRegistry['registerNode']>> }> {
    const { nodes: registry, nodeId, now, deadAfterMs, leaseIntervalMs, log } = this.options;
    let heldLease: number | undefined;
    for (;;) {
      await this.sampleClock();
      const at = now();
      try {
        return { at, result: await registry.registerNode(nodeId, at, deadAfterMs) };
      } catch (error) {
        if (!(error instanceof NodeIdInUseError)) throw error;
        const lease = (await registry.listNodes()).find((n) => n.nodeId === nodeId)?.lastRenewal;
        if (lease === undefined || (heldLease !== undefined && lease !== heldLease)) throw error;
        if (heldLease === undefined) {
          log.warn(
            { nodeId, lastLease: lease, deadAfterMs },
            'NODE_ID is held by a lease that is not renewed any more (a previous process that just died?): waiting for it to expire',
          );
        }
        heldLease = lease;
        await new Promise((resolve) => setTimeout(resolve, Math.min(leaseIntervalMs, deadAfterMs)));
      }
    }
  }

  start(): void {
    this.timer = setInterval(() => void this.tick(), this.options.leaseIntervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Graceful exit after the node's sessions ended: drops the lease (no reaping needed). */
  async leave(): Promise<void> {
    this.stop();
    await this.running;
    // Before the lease goes: a renewal after removeNode would recreate it.
    await this.options.keeper?.stop();
    const removed = await this.options.nodes.removeNode(this.options.nodeId);
    if (!removed) this.options.log.warn({ nodeId: this.options.nodeId }, 'node still has players in the store: left for the reaper');
  }

  /** One round: renew, re-assert if the store forgot us, reap the dead. Never overlaps itself. */
  tick(): Promise<void> {
    this.running ??= this.round().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /**
   * The connection to the store was re-established (the bus re-subscribed): it may be another
   * server now (a failover to a replica that missed the last writes) or one that restarted: the
   * next round re-asserts this node's share whatever its lease says.
   */
  resync(): Promise<void> {
    this.resyncWanted = true;
    return this.tick();
  }

  /**
   * Makes the store's record of this node match what it holds: its live sessions re-asserted
   * (restored where the store lost them, stale ones reported for closing), then the users the
   * store still records here but the node no longer holds released (a store that went back in
   * time brought them back).
   */
  async reassert(): Promise<void> {
    const { nodes: registry, nodeId, now, log, absent } = this.options;
    // A lease renewal first, with the fence check re-assertion has not: a node that was reaped
    // while cut off must start over (1012 for its sessions), not revive its lease and kick them.
    const renewal = await this.renewHere();
    if (renewal.ok && renewal.fenced) {
      this.fenced = true;
      return;
    }
    // Its lapse counts like any other: after a rewind it is what holds the reaper back.
    if (renewal.ok) this.noteRenewal(renewal.at, renewal.previous, renewal.lapsedAt);
    const sessions = this.options.liveSessions();
    const at = now();
    const { restored, stale } = await registry.reassert(nodeId, at, sessions);
    this.resyncWanted = false;
    this.leaseWritten = Math.max(this.leaseWritten, at);
    this.lastRenewal = now();
    // The ends still waiting for their logout: a store that lost them would never expire them,
    // and once this node died nobody would write them (logout-pipeline.ts, 3.).
    const graces = this.options.pendingGraces?.() ?? [];
    const gracesRestored = graces.length === 0 ? 0 : await registry.reassertGraces(nodeId, graces);
    if (restored > 0 || stale.length > 0 || gracesRestored > 0) {
      log.warn({ restored, stale: stale.length, gracesRestored }, 'presence re-asserted in the online store');
    }
    if (stale.length > 0) this.options.onStale(stale);
    if (!absent) return;
    const released = await registry.releaseAbsent(nodeId, now(), absent.holds);
    if (released.length === 0) return;
    log.warn({ count: released.length }, 'the online store recorded players this node no longer holds: released');
    absent.report(released);
  }

  private async round(): Promise<void> {
    const { log, keeper } = this.options;
    try {
      if (this.fenced) {
        await this.startOver();
        return;
      }
      const outcomes = keeper?.active ? keeper.take() : [await this.renewHere()];
      let reassert = false;
      let failure: string | undefined;
      for (const outcome of outcomes) {
        if (!outcome.ok) {
          this.steadySince = undefined;
          failure = outcome.error;
          continue;
        }
        if (outcome.fenced) {
          this.fenced = true;
          break;
        }
        if (this.noteRenewal(outcome.at, outcome.previous, outcome.lapsedAt)) reassert = true;
      }
      if (this.fenced) {
        await this.startOver();
        return;
      }
      if (failure !== undefined) log.warn({ err: failure }, 'cluster round failed (online store unreachable?)');
      if (reassert || this.resyncWanted) await this.reassert();
      if (this.fenced) {
        await this.startOver();
        return;
      }
      this.checkClock();
      if (failure === undefined) await this.reapDeadNodes();
    } catch (error) {
      log.warn({ err: (error as Error).message }, 'cluster round failed (online store unreachable?)');
    }
  }

  /**
   * Takes in one successful renewal (`at`, the lease it replaced: `previous`, the store's record of
   * the node's last lapse: `lapsedAt`). True when the node must re-assert its sessions: its lease
   * was missing (the store lost data) or expired (a reaper may have ended its users).
   */
  private noteRenewal(at: number, previous: number | null, lapsedAt?: number | null): boolean {
    const { deadAfterMs, leaseIntervalMs, nodeId, log } = this.options;
    this.leaseWritten = Math.max(this.leaseWritten, at);
    // After a failed renewal, a lost lease, or a renewal that came too late, the others may not
    // have been able to renew meanwhile either: the steady period starts again now.
    // Conservative on purpose: judging too early logs live players out, too late only delays a reap.
    if (this.steadySince === undefined || previous === null || at - previous > lapseAfterMs(leaseIntervalMs, deadAfterMs)) {
      this.steadySince = at;
      this.lapses++;
      log.info({ nodeId, lastLease: previous, deadAfterMs }, 'own lease lapsed: other nodes are judged again once it has been renewed for deadAfterMs');
    } else if (lapsedAt != null && lapsedAt > this.steadySince) {
      // The other renewer (the keeper's thread, or the main loop) saw the lapse first, and this
      // renewal's `previous` is its fresh lease: the store's record says when it happened.
      this.steadySince = lapsedAt;
      this.lapses++;
      log.info({ nodeId, lapsedAt, deadAfterMs }, 'own lease lapsed: other nodes are judged again once it has been renewed for deadAfterMs');
    }
    if (previous === null || !isLeaseLive(at - previous, deadAfterMs)) return true;
    this.lastRenewal = Math.max(this.lastRenewal, at);
    return false;
  }

  /** A renewal on the main loop (no keeper, or the keeper is down). */
  private async renewHere(): Promise<LeaseRenewalOutcome> {
    const { nodes: registry, nodeId, now } = this.options;
    try {
      await this.sampleClock();
      const at = now();
      const result = await registry.renewLease(nodeId, at, this.generation, lapseAfterMs(this.options.leaseIntervalMs, this.options.deadAfterMs));
      return { ok: true, at, ...result };
    } catch (error) {
      this.steadySince = undefined;
      throw error;
    }
  }

  private async sampleClock(): Promise<void> {
    const { clock, serverTime } = this.options;
    if (clock && serverTime) await clock.sync(serverTime);
  }

  /** Warns (at most once a minute) while this host's wall clock is off the cluster's by over 1 s. */
  private checkClock(): void {
    const { clock, log, nodeId } = this.options;
    if (!clock?.synced) return;
    const offsetMs = clock.offsetMs();
    if (Math.abs(offsetMs) <= CLOCK_OFFSET_WARN_MS) return;
    const at = clock.now();
    if (at - this.lastClockWarning < CLOCK_WARN_INTERVAL_MS) return;
    this.lastClockWarning = at;
    log.warn({ nodeId, offsetMs }, "this host's clock is off the cluster clock (Redis server time); the node uses the cluster clock");
  }

  /**
   * This node was reaped while it could not renew. Refuse new sessions, register a fresh
   * generation (finishing the reaping of its leftovers), drop every local session (its logout was
   * the reaper's), serve again. Registration is retried every round until it succeeds.
   */
  private async startOver(): Promise<void> {
    const { nodes: registry, nodeId, now, deadAfterMs, log, fenced: sessions, keeper } = this.options;
    // The first round that sees the fence (later rounds only retry the registration).
    if (this.generation !== '') {
      this.fences++;
      this.lapses++;
      log.warn(
        { nodeId, generation: this.generation, lastRenewal: this.lastRenewal },
        'this node was reaped while it could not renew its lease (frozen, stalled or cut off): its clients reconnect, it registers anew',
      );
      this.generation = '';
      this.steadySince = undefined;
      sessions?.refuse();
    }
    this.fenced = true;
    let registered = false;
    try {
      await this.sampleClock();
      const at = now();
      const { reaped, generation } = await registry.registerNode(nodeId, at, deadAfterMs);
      this.generation = generation;
      this.leaseWritten = at;
      registered = true;
      if (reaped.length > 0) {
        log.warn({ nodeId, count: reaped.length }, 'finished reaping this node after it was fenced: logged out');
        this.reaped += reaped.length;
        this.options.onLogouts(reaped);
      }
    } catch (error) {
      log.warn({ nodeId, err: (error as Error).message }, 'fenced node could not register again yet');
    }
    // The sessions go whether or not the registration succeeded: the store ended them.
    await sessions?.reconnectAll();
    if (!registered) return;
    this.fenced = false;
    this.lastRenewal = this.steadySince = now();
    keeper?.take(); // outcomes of the fenced generation
    keeper?.start(this.generation);
    sessions?.accept();
    log.info({ nodeId, generation: this.generation }, 'registered anew after being fenced');
  }

  private async reapDeadNodes(): Promise<void> {
    const { nodes: registry, locks, nodeId, now, deadAfterMs, log } = this.options;
    // Not steady long enough: every other lease may be old for the same reason ours was.
    if (this.steadySince === undefined || now() - this.steadySince < deadAfterMs) return;
    // Our own last renewal is not fresh either: one still in flight (a Redis Cluster shard failing
    // over, a command waiting out its timeout) has reported neither success nor failure, and
    // whatever holds it back may hold the others' renewals too. Steadiness starts again.
    if (now() - this.leaseWritten > lapseAfterMs(this.options.leaseIntervalMs, deadAfterMs)) {
      this.steadySince = undefined;
      log.info(
        { nodeId, lastRenewal: this.leaseWritten, deadAfterMs },
        'own lease renewal overdue: no node is judged until it has been renewed for deadAfterMs',
      );
      return;
    }
    const nodes = await registry.listNodes();
    if (!this.storeKeptOwnLease(nodes)) return;
    for (const node of nodes) {
      if (node.nodeId === nodeId || isNodeAlive(node, now(), deadAfterMs)) continue;
      const lock = `reaper:${node.nodeId}`;
      if (!(await locks.tryLock(lock, nodeId, deadAfterMs, now()))) continue;
      try {
        let total = 0;
        let remainingBefore = Number.POSITIVE_INFINITY;
        for (;;) {
          const batch = await registry.reapNode(node.nodeId, node.lastRenewal, this.options.batchSize ?? 500);
          if (batch.records.length > 0) {
            total += batch.records.length;
            this.options.onLogouts(batch.records);
          }
          // No progress (what is left is claimed by another reaper, e.g. a process taking the
          // node id over): the next round tries again rather than spinning on the store.
          if (batch.alive || batch.remaining === 0 || batch.remaining >= remainingBefore) break;
          remainingBefore = batch.remaining;
          await locks.tryLock(lock, nodeId, deadAfterMs, now()); // extend while working
        }
        this.reaped += total;
        log.warn({ deadNodeId: node.nodeId, lastLease: node.lastRenewal, loggedOut: total }, 'reaped dead node');
      } finally {
        await locks.unlock(lock, nodeId).catch(() => {});
      }
    }
  }

  /**
   * Whether the listing can be trusted to judge the others: it must hold this node's newest lease.
   * Older or missing: the store lost writes (restored from an older snapshot, or failed over to
   * a replica behind the primary), so the others' leases may be as stale as ours although they
   * are alive; steadiness starts again. Newer: a renewal of the keeper's thread whose outcome
   * this round has not read; the next round judges. The tolerance absorbs the difference between
   * the thread's and the main loop's samples of the cluster clock.
   */
  private storeKeptOwnLease(nodes: readonly NodeLease[]): boolean {
    const { nodeId, now, log, leaseIntervalMs, deadAfterMs } = this.options;
    const own = nodes.find((n) => n.nodeId === nodeId)?.lastRenewal;
    const tolerance = leaseIntervalMs / 2;
    if (own !== undefined && own > this.leaseWritten + tolerance) return false;
    if (own !== undefined && own >= this.leaseWritten - tolerance) return true;
    this.rewinds++;
    this.steadySince = now();
    this.resyncWanted = true;
    log.warn(
      { nodeId, lease: own ?? null, written: this.leaseWritten, deadAfterMs },
      "the online store lost this node's newest lease (restored from an older state?): no node is judged until the leases were renewed for deadAfterMs",
    );
    return false;
  }
}
