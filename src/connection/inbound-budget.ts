/**
 * What a session may make this node read and parse (PROTOCOL.md "Inbound budget"), enforced.
 * Each session's RateLimiter counts frames and bytes per one-second window; here a session
 * whose frame was refused stops being read: its socket is paused until the window ends, so the
 * node neither reads, unmasks nor UTF-8-validates what it keeps sending (TCP flow control pushes
 * back on the sender), and frames/s within the limit can no longer be made arbitrarily expensive
 * (8 sessions sending 45 frames/s of 498 KB nested JSON had bystanders' pongs waiting 13 s).
 *
 * The refused frames of a window are told in one RATE_LIMITED error frame when it ends (its
 * `count`), not one error per frame (a 5 s flood used to get 35,563 error frames back).
 *
 * Costs: nothing per frame beyond the limiter's numbers; a Map entry and one timer per session
 * while it is paused (only sessions over their budget), none otherwise. A paused session's own
 * pings wait with the rest of its frames: a pause ends with its window, so at most about one
 * second, far below the heartbeat timeout. The watchdog's stall credit is untouched: it only
 * ever credits the node's own lateness, and a paused session is not late, it is not read.
 */
import type { RateVerdict } from './rate-limiter.ts';
import type { Session } from './session.ts';

/** Timers, injectable so a test drives them with a fake clock. */
export interface InboundTimers {
  set(fn: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

const realTimers: InboundTimers = {
  set: (fn, ms) => {
    const timer = setTimeout(fn, ms);
    // A paused flooder never keeps the process alive.
    timer.unref();
    return timer;
  },
  clear: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

export interface InboundBudgetOptions {
  /**
   * A session's limited window ended, `refused` frames refused in it: its one RATE_LIMITED
   * error frame. Called only for a session still open, just before its socket reads again.
   */
  onWindowEnd(session: Session, refused: number): void;
  timers?: InboundTimers;
}

/** A window never lasts longer: bounds a pause whatever the clock did. */
const MAX_PAUSE_MS = 1000;

interface Pause {
  timer: unknown;
  refused: number;
}

/** One per node: only the sessions paused right now have state here. */
export class InboundBudget {
  private readonly paused = new Map<Session, Pause>();
  private readonly timers: InboundTimers;

  constructor(private readonly options: InboundBudgetOptions) {
    this.timers = options.timers ?? realTimers;
  }

  /** Sessions whose socket is paused now. */
  get pausedSessions(): number {
    return this.paused.size;
  }

  isPaused(session: Session): boolean {
    return this.paused.has(session);
  }

  /**
   * Counts one inbound frame of `bytes` (its text length) at `now` (the session's limiter's
   * clock). 'limited' and 'close' refuse the frame; the first refusal of a window pauses the
   * session's socket until the window ends ('close': the caller closes the session; the pause
   * still ends with the window, so the close handshake can be read).
   */
  admit(session: Session, bytes: number, now: number): RateVerdict {
    const verdict = session.limiter.hit(now, bytes);
    if (verdict === 'ok') return verdict;
    const pause = this.paused.get(session);
    if (pause) pause.refused++;
    else this.pause(session, now);
    return verdict;
  }

  /** The session ended: no more timer for it, and its socket reads again (a close handshake may wait on it). */
  sessionClosed(session: Session): void {
    const pause = this.paused.get(session);
    if (!pause) return;
    this.timers.clear(pause.timer);
    this.paused.delete(session);
    resumeSocket(session);
  }

  private pause(session: Session, now: number): void {
    try {
      session.socket.pause();
    } catch {
      // The socket is going; its close event ends the session.
    }
    const wait = Math.min(Math.max(session.limiter.windowEndsAt - now, 0), MAX_PAUSE_MS);
    const timer = this.timers.set(() => this.windowEnded(session), wait);
    this.paused.set(session, { timer, refused: 1 });
  }

  private windowEnded(session: Session): void {
    const pause = this.paused.get(session);
    if (!pause) return;
    this.paused.delete(session);
    // Told before the socket reads again: the error comes ahead of the answers to what follows.
    if (session.isOpen) this.options.onWindowEnd(session, pause.refused);
    resumeSocket(session);
  }
}

function resumeSocket(session: Session): void {
  try {
    session.socket.resume();
  } catch {
    // The socket is going; its close event ends the session.
  }
}
