/**
 * The database side of logins, batched. Every login refreshes its user row and a new logical
 * session gets its PlayerSession row; one statement per login would cost a node restart (its
 * players all reconnect elsewhere within seconds) thousands of round trips, and with the embedded
 * database that CPU is the gateway's own. Logins of the same turn of the event loop go out as one
 * statement (at most `batchMax` each).
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
}

export class LoginWriter {
  private pending: LoginWrite[] = [];
  private scheduled = false;
  private writing: Promise<void> = Promise.resolve();
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
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.flush();
    });
  }

  /** Writes everything queued so far; resolves when it is written (or failed). */
  flush(): Promise<void> {
    const batch = this.pending;
    this.pending = [];
    // One batch at a time, in order: the database sees logins in the order they happened.
    this.writing = this.writing.then(() => this.writeAll(batch));
    return this.writing;
  }

  private async writeAll(batch: LoginWrite[]): Promise<void> {
    const { repository, batchMax } = this.options;
    for (let i = 0; i < batch.length; i += batchMax) {
      const part = batch.slice(i, i + batchMax);
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
