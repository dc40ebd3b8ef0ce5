/**
 * Warnings about one session (dropped messages, rate limiting) at most once per window per
 * session, with a count of what was suppressed, so a misbehaving client cannot flood the log.
 */
import type { CoreLogger } from '../core-logger.ts';

export class RateLimitedWarner {
  private readonly last = new Map<string, { at: number; suppressed: number }>();

  constructor(
    private readonly log: CoreLogger,
    private readonly now: () => number,
    private readonly windowMs: number,
  ) {}

  warn(key: string, fields: object, message: string): void {
    const now = this.now();
    const entry = this.last.get(key);
    if (entry && now - entry.at < this.windowMs) {
      entry.suppressed++;
      return;
    }
    this.log.warn(entry?.suppressed ? { ...fields, suppressed: entry.suppressed } : fields, message);
    this.last.set(key, { at: now, suppressed: 0 });
  }

  /** The session ended: drop its state. */
  forget(key: string): void {
    this.last.delete(key);
  }
}
