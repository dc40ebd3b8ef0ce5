/**
 * The database side of logins, batched. Every login refreshes its user row and a new logical
 * session gets its PlayerSession row; one statement per login would cost a node restart (its
 * players all reconnect elsewhere within seconds) thousands of round trips, and with the embedded
 * database that CPU is the gateway's own: PGlite spends about 1.3 ms on a statement of one login
 * and 45 µs per login in a statement of 500, on the gateway's core. So logins wait `lingerMs`
 * for company and go out as one statement (at most `batchMax` each); logins arriving while a
 * statement is in flight go out together in the next. A reconnect storm of 15k players costs
 * a few hundred statements instead of 15k. The rows are history (the online state lives in the
 * store), so a few milliseconds of delay cost nothing.
 *
 * Nothing here is retried: a login write that fails loses nothing durable, because the logout
 * write upserts the user and session rows it needs (player-repository.ts).
 */
import type { LoginWrite, PlayerRepository } from '../db/player-repository.ts';
import type { CoreLogger } from './logout.ts';
import { RateLimitedWarner } from './rate-limited-warner.ts';

export interface LoginWriterOptions {
  repository: PlayerRepository;
  log: CoreLogger;
  now: () => number;
  /** Logins per statement. */
  batchMax: number;
  /** How long the first login of a batch waits for others (0: the end of the current turn). */
  lingerMs: number;
}

export class LoginWriter {
  private pending: LoginWrite[] = [];
  /** The flush of the next batch, when one is due (a timeout with lingerMs, else an immediate). */
  private lingerTimer: ReturnType<typeof setTimeout> | undefined;
  private immediate: ReturnType<typeof setImmediate> | undefined;
  /** The write loop while it runs; it ends once nothing is pending. */
  private draining: Promise<void> | undefined;
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
    // A running write loop takes it after its current statement.
    if (this.lingerTimer !== undefined || this.immediate !== undefined || this.draining) return;
    const due = () => void this.flush();
    if (this.options.lingerMs > 0) this.lingerTimer = setTimeout(due, this.options.lingerMs);
    else this.immediate = setImmediate(due);
  }

  /** Writes everything queued so far (and what comes in meanwhile); resolves when it is written (or failed). */
  flush(): Promise<void> {
    clearTimeout(this.lingerTimer);
    clearImmediate(this.immediate);
    this.lingerTimer = undefined;
    this.immediate = undefined;
    this.draining ??= this.drain().finally(() => {
      this.draining = undefined;
      // A login queued in the microtasks between the loop's last check and here.
      if (this.pending.length > 0) void this.flush();
    });
    return this.draining;
  }

  /** One statement at a time, in order: the database sees logins in the order they happened. */
  private async drain(): Promise<void> {
    const { repository, batchMax } = this.options;
    while (this.pending.length > 0) {
      const part = this.pending.length <= batchMax ? this.pending : this.pending.slice(0, batchMax);
      this.pending = part === this.pending ? [] : this.pending.slice(batchMax);
      try {
        await repository.recordLogins(part);
        this.written += part.length;
      } catch (error) {
        this.failed++;
        this.warner.warn('login', { count: part.length, err: (error as Error).message }, 'database login write failed');
      }
    }
  }
}
