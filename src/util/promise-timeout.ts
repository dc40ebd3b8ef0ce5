/**
 * Bounds the wait for a promise: a database or Redis call over a half-open TCP connection may
 * never settle, and a health probe, a stats request, a metrics scrape or the logout writer must
 * not hang with it. The promise itself is not cancelled (nothing here can); its result is simply
 * no longer awaited.
 */

/**
 * The promise's outcome, or a rejection with `timed out after <ms> ms` once `ms` have passed
 * (at least 1 ms). A non-finite `ms` (no deadline) returns the promise itself.
 */
export function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  if (!Number.isFinite(ms)) return promise;
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), Math.max(1, ms));
    }),
  ]).finally(() => clearTimeout(timer));
}

/** The promise's value, or undefined when it rejects or takes longer than `ms`. */
export function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  return withTimeout(promise, ms).catch(() => undefined);
}
