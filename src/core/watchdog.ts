/**
 * The one liveness timer of a process. Each tick walks the live sessions once and:
 * - closes every session silent for more than the heartbeat timeout (close 4000, reason timeout);
 * - terminates every session whose socket has not drained for the write timeout (reason slow);
 * - sends WebSocket-level pings every `wsPingIntervalMs` so idle intermediaries keep the
 *   connection open (their pongs count as heartbeats), stamping `session.wsPingSentAt` so the
 *   pong handler can measure the round trip (one number per session, nothing allocated).
 * A timer per socket would cost 15k timers; one walk per second over a Map costs microseconds.
 * Pure: `tick(now)` is driven by the plugin's interval, or by a test with a fake clock.
 */
import { CloseCode, closeReason } from './close-codes.ts';
import type { Session } from './session.ts';

export interface WatchdogOptions {
  sessions: () => Iterable<Session>;
  heartbeatTimeoutMs: number;
  writeTimeoutMs: number;
  wsPingIntervalMs: number;
  /** Called after a session was closed for silence (metrics, logs). */
  onTimeout?: (session: Session, silentForMs: number) => void;
  onWriteTimeout?: (session: Session) => void;
  /**
   * High-resolution clock stamped on each WebSocket ping (`session.wsPingSentAt`), read again
   * when the pong arrives; default `performance.now`. Separate from `tick(now)`, whose clock
   * may be a test's manual one and has millisecond resolution only.
   */
  pingClock?: () => number;
}

export class Watchdog {
  private lastWsPingAt = 0;
  timeouts = 0;
  writeTimeouts = 0;

  private readonly pingClock: () => number;

  constructor(private readonly options: WatchdogOptions) {
    this.pingClock = options.pingClock ?? (() => performance.now());
  }

  /** One pass over the sessions at time `now` (ms). */
  tick(now: number): void {
    const { heartbeatTimeoutMs, writeTimeoutMs, wsPingIntervalMs } = this.options;
    const pingDue = now - this.lastWsPingAt >= wsPingIntervalMs;
    if (pingDue) this.lastWsPingAt = now;
    for (const session of this.options.sessions()) {
      if (session.state !== 'open') continue;
      const silentFor = now - session.lastHeartbeat;
      if (silentFor > heartbeatTimeoutMs) {
        this.timeouts++;
        session.close(CloseCode.HEARTBEAT_TIMEOUT, closeReason(CloseCode.HEARTBEAT_TIMEOUT), 'timeout');
        this.options.onTimeout?.(session, silentFor);
        continue;
      }
      const stuckSince = session.queue.oldestPendingSince();
      if (stuckSince !== undefined && now - stuckSince > writeTimeoutMs) {
        this.writeTimeouts++;
        // A peer that stopped reading will not read a close frame either.
        session.terminate('slow');
        this.options.onWriteTimeout?.(session);
        continue;
      }
      if (pingDue) {
        try {
          // A ping still unanswered is overwritten: its pong, if it ever comes, measures this one.
          session.wsPingSentAt = this.pingClock();
          session.socket.ping();
        } catch {
          // The socket is closing; its close event ends the session.
        }
      }
    }
  }
}
