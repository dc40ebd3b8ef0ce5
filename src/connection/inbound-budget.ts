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
 * A heavy frame (HEAVY_FRAME_CHARS or more) admitted within the budget also stops its session's
 * reads, until the event loop's next turn: reading resumes once the other sockets' frames that
 * arrived meanwhile (pings, above all) have been handled. A session's budget arrives all at once
 * when its window opens (4 frames of 60 KB back to back held every ping of that moment ~5 ms,
 * the bystanders' pong p99 of the hostile bench 2-6x its baseline); one heavy frame a turn
 * makes the node take turns between sessions, so one session costs the others at most one
 * frame's work at a time.
 *
 * Costs: nothing per frame beyond the limiter's numbers; a Map entry and one timer per session
 * while it is paused (only sessions over their budget), none otherwise; per heavy frame a Set
 * entry until the next turn, one setImmediate per turn for all of them. A paused session's own
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
  /** Runs `fn` on the event loop's next turn, after the I/O that is ready now (setImmediate). */
  nextTurn(fn: () => void): void;
}

const realTimers: InboundTimers = {
  set: (fn, ms) => {
    const timer = setTimeout(fn, ms);
    // A paused flooder never keeps the process alive.
    timer.unref();
    return timer;
  },
  clear: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
  nextTurn: (fn) => setImmediate(fn),
};

/**
 * Frame text (characters) from which a frame yields its session's turn: 16 KiB, well above a
 * game's frames (pings, inputs, chat lines: tens to hundreds of bytes), so they never pay for it.
 */
export const HEAVY_FRAME_CHARS = 16 * 1024;

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
  /** Sessions that sent a heavy frame this turn: they read again on the next. */
  private readonly yielded = new Set<Session>();
  private resumeScheduled = false;
  private readonly timers: InboundTimers;
  private readonly resumeYielded = (): void => {
    this.resumeScheduled = false;
    for (const session of this.yielded) {
      // Still over its budget: its window's end resumes it.
      if (!this.paused.has(session)) resumeSocket(session);
    }
    this.yielded.clear();
  };

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
    if (verdict === 'ok') {
      if (bytes >= HEAVY_FRAME_CHARS) this.yieldTurn(session);
      return verdict;
    }
    const pause = this.paused.get(session);
    if (pause) pause.refused++;
    else this.pause(session, now);
    return verdict;
  }

  /** Sessions whose reads wait for the next turn after a heavy frame. */
  get yieldedSessions(): number {
    return this.yielded.size;
  }

  /** The session ended: no more timer for it, and its socket reads again (a close handshake may wait on it). */
  sessionClosed(session: Session): void {
    this.yielded.delete(session);
    const pause = this.paused.get(session);
    if (!pause) return;
    this.timers.clear(pause.timer);
    this.paused.delete(session);
    resumeSocket(session);
  }

  private yieldTurn(session: Session): void {
    if (this.yielded.has(session)) return;
    try {
      session.socket.pause();
    } catch {
      return; // The socket is going; its close event ends the session.
    }
    this.yielded.add(session);
    if (!this.resumeScheduled) {
      this.resumeScheduled = true;
      this.timers.nextTurn(this.resumeYielded);
    }
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
