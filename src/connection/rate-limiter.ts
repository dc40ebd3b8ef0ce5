/**
 * Per-session inbound rate limit of PROTOCOL.md: MAX_MESSAGES_PER_SEC frames and
 * MAX_INBOUND_BYTES_PER_SEC of frame text per one-second window; RATE_LIMIT_STRIKES limited
 * windows in a row close the session (4008).
 *
 * Windows are fixed, one second long, anchored at the limiter's creation (session start):
 * window k covers [start + k*1000, start + (k+1)*1000). Only numbers change per hit: no timers,
 * no allocation.
 */

/** What to do with one inbound frame. */
export type RateVerdict = 'ok' | 'limited' | 'close';

/** Shared by all the limiters of a node: nothing in it is per session. */
export interface RateLimiterOptions {
  /** MAX_MESSAGES_PER_SEC: frames allowed per window. */
  maxPerSecond: number;
  /**
   * MAX_INBOUND_BYTES_PER_SEC: frame text (UTF-16 code units, bytes for ASCII) admitted per
   * window; default unlimited. Frames count, not bytes, decide which frame crosses it: see hit().
   */
  maxBytesPerSecond?: number;
  /** RATE_LIMIT_STRIKES: consecutive limited windows that close the session (>= 1). */
  strikesToClose: number;
  /** Clock in ms (default Date.now). */
  now?: () => number;
}

const WINDOW_MS = 1000;

/**
 * Fixed-window limiter with strikes.
 *
 * - Frames 1..maxPerSecond of a window are 'ok'; every further frame of that window is
 *   'limited' (the frame is refused: answer RATE_LIMITED, keep the connection).
 * - Bytes: a frame is 'ok' while the bytes the window admitted so far are below
 *   maxBytesPerSecond, its own bytes included afterwards; so the frame that crosses the budget
 *   still passes (a frame larger than the whole budget is not refused for ever), and every
 *   further frame of that window is 'limited'. A window admits at most the budget plus one frame.
 *   Refused frames count no bytes: they are not parsed.
 * - A window holding at least one limited frame is a strike. The strike is counted at the
 *   window's first limited frame (that window will necessarily end with a limited frame), so
 *   no timer or later frame is needed to notice it.
 * - A window without limited frames, including a window with no frames at all, resets the
 *   strikes to 0. So does a clock that goes backwards (the window is re-anchored at the new time).
 * - The frame that brings the strikes to strikesToClose, i.e. the first over-limit frame of the
 *   strikesToClose-th consecutive limited window, gets 'close' instead of 'limited'. 'close' is
 *   returned at most once per limiter; afterwards over-limit frames are 'limited' again.
 *   Example (max 50, strikes 5): 51 frames in each of 5 consecutive seconds -> the 51st frame
 *   of the 5th second is 'close'.
 */
export class RateLimiter {
  private windowStart: number;
  private inWindow = 0;
  private bytesInWindow = 0;
  private refusedInWindow = 0;
  private limitedInWindow = false;
  private strikeCount = 0;
  private closed = false;

  /** `options` is kept, not copied: a node's limiters share one object. */
  constructor(private readonly options: RateLimiterOptions) {
    this.windowStart = this.now();
  }

  private now(): number {
    return (this.options.now ?? Date.now)();
  }

  /** Consecutive limited windows so far, the current one included once it has a limited frame. */
  get strikes(): number {
    return this.strikeCount;
  }

  /** Frames counted in the current window (as of the last hit). */
  get count(): number {
    return this.inWindow;
  }

  /** Bytes admitted in the current window (as of the last hit). */
  get bytes(): number {
    return this.bytesInWindow;
  }

  /** Frames refused in the current window (as of the last hit). */
  get refused(): number {
    return this.refusedInWindow;
  }

  /** When the current window ends (clock of `now`): a refused session waits until then. */
  get windowEndsAt(): number {
    return this.windowStart + WINDOW_MS;
  }

  /**
   * Counts one inbound frame of `bytes` and says what to do with it (`now`: the caller's clock
   * reading, to save one).
   */
  hit(now: number = this.now(), bytes = 0): RateVerdict {
    const elapsed = now - this.windowStart;
    if (elapsed >= WINDOW_MS || elapsed < 0) this.roll(now, elapsed);
    if (++this.inWindow <= this.options.maxPerSecond && this.bytesInWindow < (this.options.maxBytesPerSecond ?? Number.POSITIVE_INFINITY)) {
      this.bytesInWindow += bytes;
      return 'ok';
    }
    this.refusedInWindow++;
    if (!this.limitedInWindow) {
      this.limitedInWindow = true;
      if (++this.strikeCount >= Math.max(1, this.options.strikesToClose) && !this.closed) {
        this.closed = true;
        return 'close';
      }
    }
    return 'limited';
  }

  private roll(now: number, elapsed: number): void {
    // The streak survives only if the window just ended was limited and no empty window followed.
    if (!this.limitedInWindow || elapsed >= 2 * WINDOW_MS || elapsed < 0) this.strikeCount = 0;
    this.windowStart = elapsed < 0 ? now : now - (elapsed % WINDOW_MS);
    this.inWindow = 0;
    this.bytesInWindow = 0;
    this.refusedInWindow = 0;
    this.limitedInWindow = false;
  }
}
