/** Named, expiring locks: an exclusion aid for idempotent cluster work (the reaper's). */

export interface Locks {
  /**
   * Takes the named lock for `owner` until `now + ttlMs`, or extends it when `owner` already
   * holds it. False while another owner holds an unexpired lock. Expiry is judged on `now`
   * (callers' clocks: keep ttlMs well above clock skew); an exclusion aid for idempotent work such
   * as reaping, not a fencing token.
   */
  tryLock(name: string, owner: string, ttlMs: number, now: number): Promise<boolean>;

  /** Releases the lock if `owner` holds it (expired or not); returns whether it did. */
  unlock(name: string, owner: string): Promise<boolean>;
}
