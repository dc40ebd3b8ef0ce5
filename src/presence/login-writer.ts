/**
 * The database side of logins, batched. Every login refreshes its user row and a new logical
 * session gets its PlayerSession row; one statement per login would cost a node restart (its
 * players all reconnect elsewhere within seconds) thousands of round trips, and with the embedded
 * database that CPU is the gateway's own (PGlite: about 1.3 ms for a statement of one login, 44 µs
 * per login in a statement of 500). Logins of the same turn of the event loop go out as one
 * statement (at most `batchMax` each), and logins arriving while a statement is in flight go out
 * together in the next: the slower the database answers, the larger the batches.
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
}

export class LoginWriter {
  private pending: LoginWrite[] = [];
  /** The flush at the end of the current turn: logins of the same turn share a statement. */
  private readonly flushSoon = new EndOfTurnTask(() => void this.flush());
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
    if (this.draining) return;
    this.flushSoon.schedule();
  }

  /** Writes everything queued so far (and what comes in meanwhile); resolves when it is written (or failed). */
  flush(): Promise<void> {
    this.flushSoon.cancel();
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
    }
  }
}
