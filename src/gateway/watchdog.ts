/**
 * The one liveness timer of a process. Each tick walks the live sessions once and:
 * - closes every session silent for more than the heartbeat timeout (close 4000, reason timeout);
 * - terminates every session whose socket has not drained for the write timeout (reason slow);
 * - sends each session a WebSocket-level ping every `wsPingIntervalMs` so idle intermediaries
 *   keep the connection open (their pongs count as heartbeats), stamping `session.wsPingSentAt`
 *   so the pong handler can measure the round trip (one number per session, nothing allocated).
 *   Each session's pings start at a random point of its first interval: pinging every session
 *   in the same tick stalled the event loop (15k socket writes, about 150 ms), and every pong
 *   due meanwhile arrived late; spread out, a tick pings only the sessions whose turn it is
 *   (1/25 of them with the defaults).
 * A timer per socket would cost 15k timers; one walk per second over a Map costs microseconds.
 * Pure: `tick(now)` is driven by the plugin's interval, or by a test with a fake clock.
 */
import { CloseCode, closeReason } from '../protocol/close-codes.ts';
import type { Session } from '../connection/session.ts';

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
  /** Random source in [0, 1) for the phase of each session's pings; default Math.random. */
  random?: () => number;
}

export class Watchdog {
  timeouts = 0;
  writeTimeouts = 0;

  private readonly pingClock: () => number;
  private readonly random: () => number;

  constructor(private readonly options: WatchdogOptions) {
    this.pingClock = options.pingClock ?? (() => performance.now());
    this.random = options.random ?? Math.random;
  }

  /** One pass over the sessions at time `now` (ms). */
  tick(now: number): void {
    const { heartbeatTimeoutMs, writeTimeoutMs, wsPingIntervalMs } = this.options;
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
      if (session.wsPingDueAt === 0) session.wsPingDueAt = now + Math.floor(this.random() * wsPingIntervalMs);
      if (now >= session.wsPingDueAt) {
        session.wsPingDueAt = now + wsPingIntervalMs;
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
