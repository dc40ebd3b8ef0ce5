/**
 * The one liveness timer of a process. Each tick walks the live sessions once and:
 * - times out every session whose client sent no frame for more than the heartbeat timeout,
 *   not counting the time this node itself was not running (below), and hands it to
 *   `onTimeout` with the moment it timed out (last frame + timeout): the gateway logs it out,
 *   stamped then, and closes it with 4000;
 * - terminates every session whose socket has not drained for the write timeout (reason slow);
 * - sends each session a WebSocket-level ping every `wsPingIntervalMs` so idle intermediaries
 *   keep the connection open, stamping `session.wsPingSentAt` so the pong handler can measure
 *   the round trip (one number per session, nothing allocated). A pong is never liveness: a
 *   socket library answers it even when the game loop that sends `ping` is frozen.
 *   Each session's pings start at a random point of its first interval: pinging every session
 *   in the same tick stalled the event loop (15k socket writes, about 150 ms), and every pong
 *   due meanwhile arrived late; spread out, a tick pings only the sessions whose turn it is
 *   (1/25 of them with the defaults).
 *
 * Node stalls. A tick that comes later than `intervalMs` after the previous one means the node
 * did not run for the late part (SIGSTOP, a long GC, a starved CPU, an event loop lagging): the
 * clients' frames of that time sit unread in the kernel, and on resume this timer runs before
 * they are read (libuv runs due timers before it polls sockets). That silence is the node's, not
 * the clients': the tick that comes late credits its own lateness to every session. Only that
 * tick: by the next one the node has polled its sockets, so the frames buffered during the stall
 * have been read, and a session still silent then is silent for real. Crediting every stall since
 * a session's last frame instead kept a vanished player online for as long as a starved node kept
 * lagging (44 s in the chaos run, with 3 s stalls and 50 ms of run between them); this way a
 * client that really stopped is timed out at most one stall (and one tick) late, and is still
 * stamped last frame + timeout. The frame path writes one number (`lastHeartbeat`), nothing else.
 *
 * A timer per socket would cost 15k timers; one walk per second over a Map costs microseconds.
 * Pure: `tick(now)` is driven by the lifecycle's interval, or by a test with a fake clock.
 */
import { CloseCode, closeReason } from '../protocol/close-codes.ts';
import type { Session } from '../connection/session.ts';

export interface WatchdogOptions {
  sessions: () => Iterable<Session>;
  heartbeatTimeoutMs: number;
  writeTimeoutMs: number;
  wsPingIntervalMs: number;
  /** WATCHDOG_INTERVAL_MS: how often `tick` is meant to run; later than that is a node stall. Default 1000. */
  intervalMs?: number;
  /**
   * A session silent past the timeout, with `at` = its last frame + the timeout (when it timed
   * out, the logout's stamp) and its silence net of node stalls. It must end the session: the
   * gateway drops it from `sessions()` during the walk (safe: a Map iterator skips deleted
   * entries), logs out the tick's timeouts together right after it and closes them with 4000
   * once those logouts are written. Default: close 4000 (reason timeout).
   */
  onTimeout?: (session: Session, at: number, silentForMs: number) => void;
  onWriteTimeout?: (session: Session) => void;
  /**
   * A tick came late by half the heartbeat timeout or more: a stall that alone would have timed
   * out clients pinging on time (logs). Smaller stalls are credited all the same, silently.
   */
  onStall?: (lateMs: number, stalledMs: number) => void;
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
  /** Total ms by which ticks came late since the start: time this node was not running. */
  stalledMs = 0;

  private readonly pingClock: () => number;
  private readonly random: () => number;
  private readonly intervalMs: number;
  private lastTickAt = Number.NaN;
  /** How late the tick now running came (ms, >= 0): the credit every session gets in it. */
  private lateMs = 0;

  constructor(private readonly options: WatchdogOptions) {
    this.pingClock = options.pingClock ?? (() => performance.now());
    this.random = options.random ?? Math.random;
    this.intervalMs = options.intervalMs ?? 1000;
  }

  /** One pass over the sessions at time `now` (ms). */
  tick(now: number): void {
    this.noteStall(now);
    const { heartbeatTimeoutMs, writeTimeoutMs, wsPingIntervalMs } = this.options;
    for (const session of this.options.sessions()) {
      if (session.state !== 'open') continue;
      let silentFor = now - session.lastHeartbeat;
      if (silentFor > heartbeatTimeoutMs) {
        silentFor -= this.lateMs;
        if (silentFor > heartbeatTimeoutMs) {
          this.timeouts++;
          const at = session.lastHeartbeat + heartbeatTimeoutMs;
          if (this.options.onTimeout) this.options.onTimeout(session, at, silentFor);
          else session.close(CloseCode.HEARTBEAT_TIMEOUT, closeReason(CloseCode.HEARTBEAT_TIMEOUT), 'timeout');
          continue;
        }
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

  /** Records how late this tick is: the stall credited to every session in this tick only. */
  private noteStall(now: number): void {
    const late = now - this.lastTickAt - this.intervalMs; // NaN on the first tick
    this.lastTickAt = now;
    this.lateMs = Math.max(late || 0, 0); // NaN (first tick) counts as on time
    if (late > 0) {
      this.stalledMs += late;
      if (late * 2 >= this.options.heartbeatTimeoutMs) this.options.onStall?.(late, this.stalledMs);
    }
  }
}
