/**
 * Whether this node's event loop is overloaded now, for admission control. A timer that should
 * fire every `intervalMs` measures how late it fires; lateness above `thresholdMs` marks the loop
 * overloaded for the next `holdMs`. In a reconnect storm the count of logins in flight
 * (MAX_PENDING_LOGINS) misses the load that matters most: handshakes waiting in the TCP accept
 * queue and turns spent upgrading sockets are not logins yet, yet they hold every connected
 * player's pong back and make the waiting clients time out. While the loop is late, handshakes
 * are refused at once (503 GW_BUSY, Retry-After), which costs far less than taking them.
 */
const SAMPLE_INTERVAL_MS = 20;
const HOLD_MS = 250;

export class LoopLag {
  private timer: ReturnType<typeof setInterval> | undefined;
  private lastSampleAt = 0;
  private overloadedUntil = Number.NEGATIVE_INFINITY;
  /** Samples later than the threshold since start (how often admission had a reason to refuse). */
  lateSamples = 0;

  constructor(
    /** 0 turns the check off: `overloaded()` is then always false. */
    private readonly thresholdMs: number,
    private readonly now: () => number = () => performance.now(),
    private readonly intervalMs = SAMPLE_INTERVAL_MS,
    private readonly holdMs = HOLD_MS,
  ) {}

  start(): void {
    if (this.thresholdMs <= 0 || this.timer) return;
    this.lastSampleAt = this.now();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One firing of the timer at `at` (what the interval calls; tests call it with a fake clock). */
  sample(at = this.now()): void {
    const late = at - this.lastSampleAt - this.intervalMs;
    this.lastSampleAt = at;
    if (this.thresholdMs > 0 && late > this.thresholdMs) {
      this.lateSamples++;
      this.overloadedUntil = at + this.holdMs;
    }
  }

  overloaded(at = this.now()): boolean {
    return at < this.overloadedUntil;
  }
}
