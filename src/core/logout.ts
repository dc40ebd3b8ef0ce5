/**
 * performLogout: the end of a user's logical session, exactly once, never lost.
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
 */
import type { EndSessionResult, ForceLogoutResult, LogoutRecord, OnlineStore } from '../online/online-store.ts';
import type { PlayerRepository } from '../db/player-repository.ts';
import type { EndReason } from './session.ts';
import { RateLimitedWarner } from './rate-limited-warner.ts';

/** The pino-compatible subset the core logs through. */
export interface CoreLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface LogoutPipelineOptions {
  store: OnlineStore;
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
}

/** The part of a connection the pipeline needs. */
export interface EndingConnection {
  userId: string;
  logicalSessionId: string;
}

interface FailedEnd {
  userId: string;
  logicalSessionId: string;
  reason: EndReason;
  at: number;
}

export class LogoutPipeline {
  private readonly failedEnds: FailedEnd[] = [];
  private pumping = false;
  private pumpAgain = false;
  private pumpScheduled = false;
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
    const ended: FailedEnd = { userId: connection.userId, logicalSessionId: connection.logicalSessionId, reason, at };
    try {
      return await this.applyEnd(ended);
    } catch (error) {
      this.failedEnds.push(ended);
      this.options.log.warn({ userId: ended.userId, reason, err: errorText(error) }, 'online store unavailable: session end kept for retry');
      return undefined;
    }
  }

  /** Ends the user's logical session whatever their connections (REST logout, kick). */
  async forceLogout(userId: string, reason: EndReason): Promise<ForceLogoutResult> {
    const result = await this.options.store.forceLogout({ userId, reason, now: this.options.now() });
    if (result.loggedOut && result.record) this.loggedOut(result.record);
    return result;
  }

  /** Logouts not yet written to the database, plus session ends waiting for the store. */
  async pendingCount(): Promise<number> {
    return (await this.options.store.countPendingLogouts()) + this.failedEnds.length;
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
    return this.pendingCount().catch(() => this.failedEnds.length);
  }

  private async applyEnd(ended: FailedEnd): Promise<EndSessionResult> {
    const result = await this.options.store.endSession({
      userId: ended.userId,
      nodeId: this.options.nodeId,
      logicalSessionId: ended.logicalSessionId,
      reason: ended.reason,
      now: ended.at,
    });
    if (result.loggedOut && result.record) this.loggedOut(result.record);
    return result;
  }

  private loggedOut(record: LogoutRecord): void {
    this.logoutsByReason.set(record.reason, (this.logoutsByReason.get(record.reason) ?? 0) + 1);
    this.options.log.info(
      {
        userId: record.userId,
        reason: record.reason,
        logicalSessionId: record.logicalSessionId,
        sessionDurationMs: record.logoutAt - record.connectedAt,
      },
      'user logged out',
    );
    this.options.onLoggedOut?.(record);
    this.schedulePump();
  }

  private async tickRetries(): Promise<void> {
    await this.retryFailedEnds();
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
    }
  }

  /** Coalesces many logouts in the same turn of the event loop into one batch. */
  private schedulePump(): void {
    if (this.pumpScheduled || this.stopped) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      void this.pump();
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
        while (!this.stopped && (await this.writeBatch())) {
          // keep writing while full batches come back
        }
      } while (this.pumpAgain && !this.stopped);
    } finally {
      this.pumping = false;
    }
  }

  /** Claims and writes one batch. True when a batch was written (there may be more). */
  private async writeBatch(timeLeftMs = Infinity): Promise<boolean> {
    const { store, repository, batchMax, now, log } = this.options;
    if (now() < this.writeBlockedUntil) return false;
    let batch;
    try {
      batch = await store.claimPendingLogouts(batchMax, now(), this.options.claimLeaseMs ?? 30_000);
    } catch (error) {
      this.warner.warn('claim', { err: errorText(error) }, 'online store unavailable: pending logouts not claimed');
      return false;
    }
    if (batch.length === 0) return false;
    const ids = batch.map((p) => p.id);
    const started = now();
    try {
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
      await store.retryPendingLogouts(ids, now() + delay).catch(() => {
        // The claim lease expires by itself; the records become due again.
      });
      return false;
    }
    this.consecutiveFailures = 0;
    this.written += batch.length;
    this.options.onWritten?.(batch.length, now() - started);
    await store.ackPendingLogouts(ids).catch((error: unknown) => {
      // Not acked: they are written again after the lease, which is harmless (idempotent).
      log.warn({ err: errorText(error) }, 'pending logouts written but not acked');
    });
    return true;
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** A database call that hangs (half-open TCP) must not stall the writer forever. */
function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  if (!Number.isFinite(ms)) return promise;
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), Math.max(1, ms));
    }),
  ]).finally(() => clearTimeout(timer));
}
