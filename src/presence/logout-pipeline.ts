/**
 * The logout pipeline: the end of a user's logical session, exactly once, never lost.
 *
 * Glossary: "session" means three things in this code base.
 * - A connection: one WebSocket of one user on one node, from the upgrade to the close. Class
 *   `Session` (connection/session.ts), id `session.id`, logged as `sessionId`, held by the node's
 *   `ConnectionManager`.
 * - A logical session: a user's presence, from their first connection to the end of their last
 *   one (after the grace period of LOGOUT_GRACE_MS when it may be a blip), across reconnects and
 *   nodes. Id `logicalSessionId`, kept by the online store; its end is the logout (below).
 * - The PlayerSession row: the database record of one logical session (same id), opened by the
 *   login writer and closed by the logout writer with disconnected_at and the reason.
 *
 * 1. `endConnection` / `forceLogout` make the online-store transition. It is atomic and
 *    compare-and-set on the logical session id, so of all the connections, nodes and REST calls
 *    racing to end a logical session exactly one sees `loggedOut`; that one logs the line. The
 *    same atomic step queues a LogoutRecord in the store's durable pending-logout queue.
 * 2. The writer drains that queue into the database in batches (one round trip per batch) and
 *    acks. A failed write is retried with exponential backoff; the records keep their original
 *    timestamps, and the queue lives in the online store (Redis in a cluster), so neither a
 *    database outage nor a crash of this process loses a logout.
 * 3. If the online store itself is unreachable when a connection ends, the end is kept in memory
 *    and retried until the store answers (a connection that ended is never forgotten).
 *    An end the store answers as stale is usually a logical session already over (replaced,
 *    reaped, logged out over REST: its logout was queued then). But a store that lost data
 *    (Redis restarted empty or from an older snapshot, a promoted replica that missed the login)
 *    no longer knows the logical session, and nobody else will end it. So every stale end is
 *    checked a little later (`confirmEndsAfterMs`): a logical session the store still holds, or
 *    the database already closed, is somebody else's; any other gets its logout written here
 *    directly. A logout deferred for the grace period is checked the same way once the grace is
 *    over: the store may have lost the pending grace with its data, and then nobody expires it.
 *    Should this node die before that check, the check dies with it: so whenever the node
 *    re-asserts its share after the store lost data, these ends go back into the store as
 *    pending graces (`NodeRegistry.reassertGraces`), which any node expires.
 * 4. Redis may also lose the queue itself (a restart without persistence). So the node keeps a
 *    journal of the logouts it produced until it has seen them in the database: its own write
 *    clears them at once; the rest are checked against the database after a grace period and
 *    written directly when missing. Every write is idempotent, so "at least once" into the
 *    database is "exactly once" in effect.
 */
import type { EndSessionInput, EndSessionResult, ForceLogoutResult, PresenceStore } from './presence-store.ts';
import type { LogoutOutbox, LogoutRecord } from './logout-outbox.ts';
import type { PlayerRepository } from './player-repository.ts';
import type { EndReason } from '../connection/session.ts';
import type { ReassertGrace } from '../cluster/node-registry.ts';
import { RateLimitedWarner } from '../connection/rate-limited-warner.ts';
import type { CoreLogger } from '../core-logger.ts';
import { EndOfTurnTask } from '../util/end-of-turn.ts';
import { withTimeout } from '../util/promise-timeout.ts';

export interface LogoutPipelineOptions {
  /** Session ends, kicks, grace expiry (and the lookup of a parked end that came back stale). */
  presence: PresenceStore;
  /** The queue of logouts to write: claimed, acked, retried here. */
  outbox: LogoutOutbox;
  repository: PlayerRepository;
  nodeId: string;
  log: CoreLogger;
  now: () => number;
  batchMax: number;
  retryBaseMs: number;
  retryMaxMs: number;
  /** How long a claimed batch stays hidden from other writers (then it is due again). */
  claimLeaseMs?: number;
  /** Interval of the writer's poll for due retries and records left by other nodes. */
  pollMs?: number;
  /** Called once per logout (after the store transition). */
  onLoggedOut?: (record: LogoutRecord) => void;
  /** Called after each database batch with its size and how long it took. */
  onWritten?: (count: number, elapsedMs: number) => void;
  /** How long a produced logout may stay unconfirmed before the database is checked for it. */
  journalGraceMs?: number;
  /**
   * How long after a stale end (or after a deferred end's grace) the store and the database are
   * asked who ends that logical session (see 3. above). Long enough for every live node to have
   * re-asserted its sessions after the store lost data (NODE_DEAD_AFTER_MS); default the journal grace.
   */
  confirmEndsAfterMs?: number;
  /**
   * LOGOUT_GRACE_MS: a logical session ended by one of `GRACE_REASONS` becomes `reconnecting`
   * for this long before it is logged out (0 = at once).
   */
  graceMs?: number;
}

/**
 * Ends that may be a blip: the client closed or vanished, the socket failed, the node drained.
 * A heartbeat timeout (10 s of silence already), a REST logout and a kick are never delayed.
 */
export const GRACE_REASONS: ReadonlySet<EndReason> = new Set<EndReason>(['closed', 'error', 'shutdown']);

/** Logged when a logout is written late because the store had lost its logical session (step 3). */
export const LATE_CONFIRMED = 'online store lost a session: logout written directly';

/** The part of a connection the pipeline needs. */
export interface EndingConnection {
  userId: string;
  username: string;
  logicalSessionId: string;
  /** The connection's own id (the store ignores a second end of the same connection). */
  id: string;
  epoch: number;
  connectedAt: number;
}

/** One connection's end, as the store must see it (parked in `failedEnds` while it is unreachable). */
export interface ConnectionEnd {
  connection: EndingConnection;
  reason: EndReason;
  at: number;
}

/** Batches of logouts written to the database at once when a backlog is due (see `drain`). */
const WRITERS = 2;

export class LogoutPipeline {
  private readonly failedEnds: ConnectionEnd[] = [];
  /** Parked ends per user (`hasParkedEnd` is asked for every player of the node at a re-assertion). */
  private readonly parkedByUser = new Map<string, number>();
  /** Logouts this node produced, by logical session id, until seen in the database. */
  private readonly journal = new Map<string, { record: LogoutRecord; since: number }>();
  /**
   * Stale and deferred ends (see 3. above), by logical session id, until checked at `dueAt`;
   * `graceUntil`: when the grace the store was given ends (the end's time when there was none).
   */
  private readonly unconfirmedEnds = new Map<string, { end: ConnectionEnd; graceUntil: number; dueAt: number }>();
  /** Logouts to write directly (their queue entry is gone or never existed). */
  private readonly direct: LogoutRecord[] = [];
  private pumping = false;
  private pumpAgain = false;
  /** `writesSettled` callers, resolved when the pump running (or next to run) ends. */
  private readonly settledWaiters: Array<() => void> = [];
  /** The pump at the end of the current turn: logouts of the same turn share a batch. */
  private readonly pumpSoon = new EndOfTurnTask(() => void this.pump());
  private consecutiveFailures = 0;
  private writeBlockedUntil = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** Logouts performed by this node, by reason. */
  readonly logoutsByReason = new Map<string, number>();
  written = 0;
  /** An outage fails every poll; one warning per 10 s per kind is enough. */
  private readonly warner: RateLimitedWarner;

  constructor(private readonly options: LogoutPipelineOptions) {
    this.warner = new RateLimitedWarner(options.log, options.now, 10_000);
  }

  start(): void {
    this.stopped = false;
    this.timer = setInterval(() => void this.tickRetries(), this.options.pollMs ?? 1000);
    this.timer.unref();
    this.schedulePump();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One connection ended. Resolves after the store transition (or after it was parked for retry). */
  async endConnection(connection: EndingConnection, reason: EndReason, at = this.options.now()): Promise<EndSessionResult | undefined> {
    if (!connection.logicalSessionId) return undefined; // never logged in: nothing to end
    const ended: ConnectionEnd = { connection, reason, at };
    try {
      return await this.applyEnd(ended);
    } catch (error) {
      this.park(ended, error);
      return undefined;
    }
  }

  /**
   * Many connections ended at once (the heartbeat timeouts of one watchdog tick): the store
   * transitions go out together (`PresenceStore.endSessions`, one round trip on Redis), each
   * exactly as `endConnection` would make it; ends the store could not take are parked for
   * retry the same way. Resolves after the transitions, results in input order.
   */
  async endConnections(ends: readonly ConnectionEnd[]): Promise<Array<EndSessionResult | undefined>> {
    const live = ends.filter((ended) => ended.connection.logicalSessionId); // never logged in: nothing to end
    let results: ReadonlyArray<EndSessionResult | Error | undefined>;
    try {
      results = live.length === 0 ? [] : await this.options.presence.endSessions(live.map((ended) => this.endInput(ended)));
    } catch (error) {
      results = live.map(() => (error instanceof Error ? error : new Error(String(error))));
    }
    const done = new Map<ConnectionEnd, EndSessionResult>();
    live.forEach((ended, i) => {
      const result = results[i];
      if (result === undefined || result instanceof Error) this.park(ended, result ?? 'no result');
      else {
        this.ended(ended, result);
        done.set(ended, result);
      }
    });
    return ends.map((ended) => done.get(ended));
  }

  /** A session end the store did not take: kept for `retryFailedEnds`. */
  private park(ended: ConnectionEnd, error: unknown): void {
    this.failedEnds.push(ended);
    this.parkedByUser.set(ended.connection.userId, (this.parkedByUser.get(ended.connection.userId) ?? 0) + 1);
    this.options.log.warn(
      { userId: ended.connection.userId, reason: ended.reason, err: errorText(error) },
      'online store unavailable: session end kept for retry',
    );
  }

  /**
   * Logouts another component made in the store (the reaper, a grace expiry, a release of absent
   * players): logged and written. Except those whose logout the database or this node's journal
   * already has: a store that went back in time hands out logical sessions that ended before
   * (a grace that expired, a player who left), and their end is not logged twice. Their queued
   * records are written anyway (a no-op in the database). Resolves once logged.
   */
  async report(records: readonly LogoutRecord[]): Promise<void> {
    if (records.length === 0) return;
    const fresh = records.filter((r) => !this.journal.has(r.logicalSessionId));
    // Database down: everything counts as new (a duplicate line rather than a missing one).
    const closed = await this.options.repository.findClosedSessions(fresh.map((r) => r.logicalSessionId)).catch(() => new Set<string>());
    for (const record of fresh) if (!closed.has(record.logicalSessionId)) this.loggedOut(record);
  }

  /** Whether an end of this user's connection waits for the store (parked while it was unreachable). */
  hasParkedEnd(userId: string): boolean {
    return this.parkedByUser.has(userId);
  }

  /**
   * Logouts already in the database (the standalone recovery wrote them): logged and counted
   * like any other, with nothing left to write.
   */
  reportWritten(records: readonly LogoutRecord[]): void {
    for (const record of records) {
      this.loggedOut(record);
      this.journal.delete(record.logicalSessionId);
    }
  }

  /** Ends the user's logical session whatever their connections (REST logout, kick). */
  async forceLogout(userId: string, reason: EndReason): Promise<ForceLogoutResult> {
    const result = await this.options.presence.forceLogout({ userId, reason, now: this.options.now() });
    if (result.loggedOut && result.record) this.loggedOut(result.record);
    return result;
  }

  /** Logouts not yet written to the database, plus session ends waiting for the store. */
  async pendingCount(): Promise<number> {
    return (await this.options.outbox.countPendingLogouts()) + this.failedEnds.length + this.direct.length;
  }

  /** Logouts this node produced and has not yet seen in the database. */
  get unconfirmed(): number {
    return this.journal.size;
  }

  /**
   * The logouts this node produced that the database does not have yet (journal and direct
   * writes), for a node without Redis to keep across a crash (standalone-recovery.ts).
   */
  unconfirmedRecords(): LogoutRecord[] {
    const records = new Map<string, LogoutRecord>();
    for (const { record } of this.journal.values()) records.set(record.logicalSessionId, record);
    for (const record of this.direct) records.set(record.logicalSessionId, record);
    return [...records.values()];
  }

  get parkedEnds(): number {
    return this.failedEnds.length;
  }

  /**
   * Writes everything due, now. Used by shutdown; resolves when the queue is empty, the
   * database refused a batch, or the deadline passed. Returns how many records are left.
   */
  async flush(deadline: number): Promise<number> {
    this.writeBlockedUntil = 0;
    await this.retryFailedEnds();
    while (this.options.now() < deadline) {
      const progressed = await this.writeBatch(deadline - this.options.now());
      if (!progressed) break;
    }
    // The ends of this node's last connections are checked now: nobody would later.
    while (this.unconfirmedEnds.size > 0 && this.options.now() < deadline && (await this.checkUnconfirmedEnds(Number.POSITIVE_INFINITY))) {
      // one batch per call
    }
    while (this.direct.length > 0 && this.options.now() < deadline && (await this.writeDirect())) {
      // one batch per call
    }
    return this.pendingCount().catch(() => this.failedEnds.length + this.direct.length);
  }

  private async applyEnd(ended: ConnectionEnd): Promise<EndSessionResult> {
    const result = await this.options.presence.endSession(this.endInput(ended));
    this.ended(ended, result);
    return result;
  }

  private endInput({ connection, reason, at }: ConnectionEnd): EndSessionInput {
    return {
      userId: connection.userId,
      nodeId: this.options.nodeId,
      logicalSessionId: connection.logicalSessionId,
      connectionId: connection.id,
      reason,
      now: at,
      graceMs: this.graceFor(reason),
    };
  }

  private graceFor(reason: EndReason): number {
    return GRACE_REASONS.has(reason) ? (this.options.graceMs ?? 0) : 0;
  }

  /** What follows a store transition: the logout, or a logout expected from someone (stale, deferred). */
  private ended(end: ConnectionEnd, result: EndSessionResult): void {
    const { connection, reason } = end;
    if (result.loggedOut && result.record) this.loggedOut(result.record, connection.id);
    else if (result.stale) this.expectLogout(end, 0, end.at);
    else if (result.graceUntil !== undefined) {
      const graceMs = this.graceFor(reason);
      this.expectLogout(end, graceMs, result.graceUntil);
      this.options.log.info(
        { userId: connection.userId, sessionId: connection.id, logicalSessionId: connection.logicalSessionId, reason, graceMs },
        'logout deferred: reconnecting',
      );
    }
  }

  /** `connectionId`: the connection whose end logged the user out, when this node knows it. */
  private loggedOut(record: LogoutRecord, connectionId?: string): void {
    this.journal.set(record.logicalSessionId, { record, since: this.options.now() });
    this.logoutsByReason.set(record.reason, (this.logoutsByReason.get(record.reason) ?? 0) + 1);
    this.options.log.info(
      {
        userId: record.userId,
        ...(connectionId === undefined ? {} : { sessionId: connectionId }),
        reason: record.reason,
        logicalSessionId: record.logicalSessionId,
        sessionDurationMs: record.logoutAt - record.connectedAt,
      },
      'user logged out',
    );
    this.options.onLoggedOut?.(record);
    this.schedulePump();
  }

  /**
   * Logs out the users whose grace period ended (any node may do it; the store makes it atomic).
   * `until` = now by default; the last node of a cluster shutting down passes a far future so no
   * grace is left behind with nobody to expire it.
   */
  async expireGrace(until = this.options.now()): Promise<number> {
    let total = 0;
    for (;;) {
      let records: LogoutRecord[];
      try {
        records = await this.options.presence.expireGrace(until, this.options.batchMax);
      } catch (error) {
        this.warner.warn('grace', { err: errorText(error) }, 'online store unavailable: grace periods not expired');
        return total;
      }
      await this.report(records);
      total += records.length;
      if (records.length < this.options.batchMax) return total;
    }
  }

  private async tickRetries(): Promise<void> {
    await this.retryFailedEnds();
    await this.expireGrace();
    await this.checkJournal();
    await this.checkUnconfirmedEnds(this.options.now());
    await this.writeDirect();
    this.schedulePump();
  }

  private async retryFailedEnds(): Promise<void> {
    while (this.failedEnds.length > 0) {
      const next = this.failedEnds[0]!;
      try {
        await this.applyEnd(next);
      } catch {
        return; // still unreachable; the next tick tries again
      }
      this.failedEnds.shift();
      const left = (this.parkedByUser.get(next.connection.userId) ?? 1) - 1;
      if (left > 0) this.parkedByUser.set(next.connection.userId, left);
      else this.parkedByUser.delete(next.connection.userId);
    }
  }

  /** Someone must write this end's logout: checked `delayMs` + `confirmEndsAfterMs` from now. */
  private expectLogout(end: ConnectionEnd, delayMs: number, graceUntil: number): void {
    const dueAt = this.options.now() + delayMs + (this.options.confirmEndsAfterMs ?? this.options.journalGraceMs ?? 60_000);
    this.unconfirmedEnds.delete(end.connection.logicalSessionId); // re-inserted last: the map stays in due order per delay
    this.unconfirmedEnds.set(end.connection.logicalSessionId, { end, graceUntil, dueAt });
  }

  /**
   * The ends this node still waits to see logged out (deferred for their grace, or answered
   * stale), as the store needs them to recreate what it lost (`NodeRegistry.reassertGraces`):
   * otherwise a store that lost data and then this node's crash would leave them open forever.
   */
  pendingGraces(): ReassertGrace[] {
    const graces: ReassertGrace[] = [];
    for (const { end, graceUntil } of this.unconfirmedEnds.values()) {
      const { connection, reason, at } = end;
      graces.push({
        userId: connection.userId,
        username: connection.username,
        logicalSessionId: connection.logicalSessionId,
        epoch: connection.epoch,
        connectedAt: connection.connectedAt,
        endedAt: at,
        endReason: reason,
        graceUntil: Math.max(at, graceUntil),
      });
    }
    return graces;
  }

  /**
   * Checks one batch of the ends due by `until`. The store still holding the logical session
   * (online, reconnecting, or offline with its logout queued) or the database having it closed
   * means somebody else ends it; any other had its data lost by the store: its logout is written
   * directly, stamped when the connection ended. True when a batch was checked.
   */
  private async checkUnconfirmedEnds(until: number): Promise<boolean> {
    const due: ConnectionEnd[] = [];
    for (const entry of this.unconfirmedEnds.values()) {
      if (due.length >= this.options.batchMax) break;
      if (entry.dueAt <= until) due.push(entry.end);
    }
    if (due.length === 0) return false;
    let held: boolean[];
    let closed: Set<string>;
    try {
      held = await Promise.all(
        due.map(async ({ connection }) => (await this.options.presence.getPlayer(connection.userId))?.logicalSessionId === connection.logicalSessionId),
      );
      closed = await this.options.repository.findClosedSessions(due.filter((_, i) => !held[i]).map((e) => e.connection.logicalSessionId));
    } catch {
      return false; // store or database down: the next tick checks again
    }
    due.forEach(({ connection, reason, at }, i) => {
      this.unconfirmedEnds.delete(connection.logicalSessionId);
      if (held[i] || closed.has(connection.logicalSessionId)) return;
      const record: LogoutRecord = {
        userId: connection.userId,
        username: connection.username,
        logicalSessionId: connection.logicalSessionId,
        nodeId: this.options.nodeId,
        epoch: connection.epoch,
        connectedAt: connection.connectedAt,
        logoutAt: at,
        reason,
      };
      this.options.log.warn({ userId: record.userId, logicalSessionId: record.logicalSessionId }, LATE_CONFIRMED);
      this.direct.push(record);
      this.loggedOut(record, connection.id);
    });
    return true;
  }

  /** Journal entries past the grace: drop those the database has, write the others directly. */
  private async checkJournal(): Promise<void> {
    const cutoff = this.options.now() - (this.options.journalGraceMs ?? 60_000);
    const old: string[] = [];
    for (const [id, entry] of this.journal) {
      if (entry.since > cutoff) break; // insertion order = age order
      old.push(id);
      if (old.length >= this.options.batchMax) break;
    }
    if (old.length === 0) return;
    let closed: Set<string>;
    try {
      closed = await this.options.repository.findClosedSessions(old);
    } catch {
      return; // database down: the writer's retries are already on it
    }
    for (const id of old) {
      const entry = this.journal.get(id);
      if (!entry) continue;
      this.journal.delete(id);
      if (!closed.has(id)) this.direct.push(entry.record);
    }
  }

  /** Writes logouts that are not (or no longer) in the store's queue, one batch. True when it wrote one. */
  private async writeDirect(): Promise<boolean> {
    if (this.direct.length === 0 || this.options.now() < this.writeBlockedUntil) return false;
    const batch = this.direct.splice(0, this.options.batchMax);
    try {
      await this.options.repository.recordLogouts(batch);
      this.written += batch.length;
      for (const r of batch) this.journal.delete(r.logicalSessionId);
      return true;
    } catch (error) {
      this.direct.unshift(...batch);
      this.warner.warn('direct', { count: batch.length, err: errorText(error) }, 'database write of logouts failed: will retry');
      return false;
    }
  }

  /** Coalesces many logouts in the same turn of the event loop into one batch. */
  private schedulePump(): void {
    if (this.stopped) return;
    this.pumpSoon.schedule();
  }

  /**
   * Resolves once the writer has written what is due now (or failed to, and will retry later):
   * the end of a pump started after this call. Stopped: at once.
   */
  writesSettled(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      this.settledWaiters.push(resolve);
      this.schedulePump();
    });
  }

  private async pump(): Promise<void> {
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    this.pumping = true;
    try {
      do {
        this.pumpAgain = false;
        await this.drain();
      } while (this.pumpAgain && !this.stopped);
    } finally {
      this.pumping = false;
      for (const resolve of this.settledWaiters.splice(0)) resolve();
    }
  }

  /**
   * Writes batches while they come back. A full batch may have more due behind it: the next one
   * is claimed and written alongside it (at most WRITERS at once) rather than after its
   * database round trip. 1,000 heartbeat timeouts of one tick are two batches of 500; one after
   * the other they put a claim, a database write and an ack between the first and the last.
   */
  private async drain(): Promise<void> {
    let active = 0;
    const writers: Promise<void>[] = [];
    const writer = async (): Promise<void> => {
      active++;
      try {
        while (!this.stopped && (await this.writeBatch(Infinity, spare))) {
          // keep writing while batches come back
        }
      } finally {
        active--;
      }
    };
    const spare = () => {
      if (active < WRITERS) writers.push(writer());
    };
    writers.push(writer());
    for (let i = 0; i < writers.length; i++) await writers[i];
  }

  /**
   * Claims and writes one batch. True when a batch was written (there may be more). `onFull`:
   * called when the claim came back full, before the batch is written.
   */
  private async writeBatch(timeLeftMs = Infinity, onFull?: () => void): Promise<boolean> {
    const { outbox, repository, batchMax, now, log } = this.options;
    if (now() < this.writeBlockedUntil) return false;
    let batch;
    try {
      batch = await outbox.claimPendingLogouts(batchMax, now(), this.options.claimLeaseMs ?? 30_000);
    } catch (error) {
      this.warner.warn('claim', { err: errorText(error) }, 'online store unavailable: pending logouts not claimed');
      return false;
    }
    if (batch.length === 0) return false;
    if (batch.length >= batchMax) onFull?.();
    const ids = batch.map((p) => p.id);
    const started = now();
    try {
      // A database call that hangs (half-open TCP) must not stall the writer forever.
      await withTimeout(repository.recordLogouts(batch.map((p) => p.record)), Math.min(timeLeftMs, 30_000));
    } catch (error) {
      this.consecutiveFailures++;
      const delay = Math.min(this.options.retryMaxMs, this.options.retryBaseMs * 2 ** (this.consecutiveFailures - 1));
      this.writeBlockedUntil = now() + delay;
      this.warner.warn(
        'write',
        { count: batch.length, retryInMs: delay, attempt: this.consecutiveFailures, err: errorText(error) },
        'database write of logouts failed: will retry',
      );
      await outbox.retryPendingLogouts(ids, now() + delay).catch(() => {
        // The claim lease expires by itself; the records become due again.
      });
      return false;
    }
    this.consecutiveFailures = 0;
    this.written += batch.length;
    for (const p of batch) this.journal.delete(p.record.logicalSessionId);
    this.options.onWritten?.(batch.length, now() - started);
    // The ack also lets the users' offline presence entries expire: their logout is in the database now.
    await outbox.ackPendingLogouts(batch).catch((error: unknown) => {
      // Not acked: they are written again after the lease, which is harmless (idempotent).
      log.warn({ err: errorText(error) }, 'pending logouts written but not acked');
    });
    return true;
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
