/**
 * Coalesces heartbeats into the online store. A ping only assigns `session.lastHeartbeat`
 * (no allocation, no I/O); at most once per interval this walks the sessions and writes the
 * users whose heartbeat moved since the last flush in ONE store call (one Redis command per
 * node per interval, instead of one per ping).
 */
import type { PresenceStore } from './presence-store.ts';
import type { Session } from '../connection/session.ts';
import type { CoreLogger } from '../core-logger.ts';

export interface HeartbeatFlusherOptions {
  store: Pick<PresenceStore, 'flushHeartbeats'>;
  nodeId: string;
  sessions: () => Iterable<Session>;
  intervalMs: number;
  log: CoreLogger;
}

export class HeartbeatFlusher {
  private lastFlushAt = 0;
  private inFlight: Promise<void> | undefined;

  constructor(private readonly options: HeartbeatFlusherOptions) {}

  /** Called from the watchdog tick; flushes when the interval has passed and none is in flight. */
  maybeFlush(now: number): void {
    if (this.inFlight || now - this.lastFlushAt < this.options.intervalMs) return;
    void this.flush(now);
  }

  /** Writes every heartbeat newer than the previous flush. */
  flush(now: number): Promise<void> {
    if (this.inFlight) return this.inFlight;
    const since = this.lastFlushAt;
    const beats = new Map<string, number>();
    for (const session of this.options.sessions()) {
      if (session.state !== 'open' || session.lastHeartbeat <= since) continue;
      const known = beats.get(session.userId);
      if (known === undefined || session.lastHeartbeat > known) beats.set(session.userId, session.lastHeartbeat);
    }
    if (beats.size === 0) {
      this.lastFlushAt = now;
      return Promise.resolve();
    }
    this.inFlight = this.options.store
      .flushHeartbeats(this.options.nodeId, beats)
      .then(
        () => {
          this.lastFlushAt = now;
        },
        (error: unknown) => {
          // Keep lastFlushAt: the next flush carries these heartbeats again.
          this.options.log.warn({ err: (error as Error).message, users: beats.size }, 'heartbeat flush failed');
        },
      )
      .finally(() => {
        this.inFlight = undefined;
      });
    return this.inFlight;
  }
}
