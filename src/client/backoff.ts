/**
 * Reconnect delays: exponential backoff with full jitter
 * (delay = random(0, min(maxDelayMs, initialDelayMs * factor^attempt))).
 */

export interface ReconnectOptions {
  /** Ceiling of the first delay (attempt 0). Default 500 ms. */
  initialDelayMs: number;
  /** Largest ceiling. Default 30 s. */
  maxDelayMs: number;
  /** Growth of the ceiling per attempt. Default 2. */
  factor: number;
  /**
   * After close 4008 (rate limited repeatedly) the delay is at least this long, plus the usual
   * jittered delay. Default 10 s.
   */
  rateLimitedDelayMs: number;
  /** Consecutive failed attempts before giving up. Default Infinity. */
  maxAttempts: number;
}

export const DEFAULT_RECONNECT: Readonly<ReconnectOptions> = Object.freeze({
  initialDelayMs: 500,
  maxDelayMs: 30_000,
  factor: 2,
  rateLimitedDelayMs: 10_000,
  maxAttempts: Infinity,
});

/** The ceiling of attempt `attempt` (0-based): min(maxDelayMs, initialDelayMs * factor^attempt). */
export function backoffCeiling(attempt: number, options: Pick<ReconnectOptions, 'initialDelayMs' | 'maxDelayMs' | 'factor'>): number {
  const grown = options.initialDelayMs * options.factor ** Math.max(0, attempt);
  const ceiling = Math.min(options.maxDelayMs, Number.isFinite(grown) ? grown : options.maxDelayMs);
  return Math.max(0, ceiling);
}

/**
 * A full-jitter delay for attempt `attempt`: an integer in [0, ceiling]. `random` returns a number
 * in [0, 1) like Math.random; out-of-range values are clamped.
 */
export function backoffDelay(
  attempt: number,
  options: Pick<ReconnectOptions, 'initialDelayMs' | 'maxDelayMs' | 'factor'>,
  random: () => number = Math.random,
): number {
  const ceiling = backoffCeiling(attempt, options);
  const r = random();
  const unit = Number.isFinite(r) ? Math.min(1, Math.max(0, r)) : 0;
  return Math.min(ceiling, Math.floor(unit * ceiling));
}
