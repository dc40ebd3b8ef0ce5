/**
 * The database side of logins, batched. Every login refreshes its user row and a new logical
 * session gets its PlayerSession row; one statement per login would cost a node restart (its
 * players all reconnect elsewhere within seconds) thousands of round trips, and with the embedded
 * database that CPU is the gateway's own (PGlite: about 1.3 ms for a statement of one login, 44 µs
 * per login in a statement of 500). A login waits up to `lingerMs` for others to share its
 * statement (at most `batchMax` each), and logins arriving while a statement is in flight go out
 * together in the next: the slower the database answers, the larger the batches. Without the
 * wait a fast PostgreSQL answers each statement before the next turn's logins arrive, and a
 * reconnect storm of 3,000 logins became 379 statements of ~8 (Prisma: ~1 ms of CPU each,
 * ~15 % of the node's CPU during the storm in a --cpu-prof, this stop).
 *
 * Nothing here is retried: a login write that fails loses nothing durable, because the logout
 * write upserts the user and session rows it needs (player-repository.ts).
 */
import type { LoginWrite, PlayerRepository } from './player-repository.ts';
import type { CoreLogger } from '../core-logger.ts';
import { RateLimitedWarner } from '../connection/rate-limited-warner.ts';
import { EndOfTurnTask } from '../util/end-of-turn.ts';

export interface LoginWriterOptions {
  repository: PlayerRepository;
  log: CoreLogger;
  now: () => number;
  /** Logins per statement. */
  batchMax: number;
  /** How long a login waits for others to share its statement (0: the end of the turn). */
  lingerMs: number;
}

export class LoginWriter {
  private pending: LoginWrite[] = [];
  /** The start at the end of the current turn (no linger): logins of the same turn share a statement. */
  private readonly startSoon = new EndOfTurnTask(() => void this.start());
  /** The start after the linger. */
  private lingerTimer: NodeJS.Timeout | undefined;
  /** The write loop while it runs; it ends once nothing is pending. */
  private draining: Promise<void> | undefined;
  /** Set by flush(): the loop stops lingering between statements. */
  private urgent = false;
  /** A database outage fails every batch: one warning per 10 s is enough. */
  private readonly warner: RateLimitedWarner;
  /** Logins written, and batches that failed (for tests and stats). */
  written = 0;
  failed = 0;

  constructor(private readonly options: LoginWriterOptions) {
    this.warner = new RateLimitedWarner(options.log, options.now, 10_000);
  }

  /** Queues a login for the next batch; never throws, never waits. */
  write(login: LoginWrite): void {
    this.pending.push(login);
    this.schedule();
  }

  private schedule(): void {
    // A running write loop takes it after its current statement.
    if (this.draining) return;
    if (this.options.lingerMs <= 0) {
      this.startSoon.schedule();
    } else if (!this.lingerTimer) {
      this.lingerTimer = setTimeout(() => void this.start(), this.options.lingerMs);
      // Never what keeps a process alive: shutdown flushes explicitly.
      this.lingerTimer.unref();
    }
  }

  /** Writes everything queued so far (and what comes in meanwhile) without lingering; resolves when it is written (or failed). */
  flush(): Promise<void> {
    this.urgent = true;
    return this.start();
  }

  private start(): Promise<void> {
    this.startSoon.cancel();
    clearTimeout(this.lingerTimer);
    this.lingerTimer = undefined;
    this.draining ??= this.drain().finally(() => {
      this.draining = undefined;
      this.urgent = false;
      // A login queued in the microtasks between the loop's last check and here.
      if (this.pending.length > 0) this.schedule();
    });
    return this.draining;
  }

  /**
   * One statement at a time, in order: the database sees logins in the order they happened.
   * Between two statements that are not full it lingers too, so that a storm's logins are
   * written in a few large statements rather than many of the few that arrived meanwhile.
   */
  private async drain(): Promise<void> {
    const { repository, batchMax, lingerMs } = this.options;
    while (this.pending.length > 0) {
      const part = this.pending;
      // The first batchMax stay in `part`; the rest waits for the next statement.
      this.pending = part.splice(batchMax);
      try {
        await repository.recordLogins(part);
        this.written += part.length;
      } catch (error) {
        this.failed++;
        this.warner.warn('login', { count: part.length, err: (error as Error).message }, 'database login write failed');
      }
      if (lingerMs > 0 && !this.urgent && this.pending.length > 0 && this.pending.length < batchMax) {
        await new Promise((resolve) => setTimeout(resolve, lingerMs));
      }
    }
  }
}
