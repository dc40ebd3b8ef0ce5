/** `Locks` of a single process: the lock table (`server:lock:<name>` on Redis). */
import type { Locks } from '../../cluster/locks.ts';
import { checkCount, checkTime } from '../../presence/online-paging.ts';

export class MemoryLocks implements Locks {
  private readonly locks = new Map<string, { owner: string; expiresAt: number }>();

  async tryLock(name: string, owner: string, ttlMs: number, now: number): Promise<boolean> {
    checkCount('ttlMs', ttlMs);
    checkTime('now', now);
    checkTime('now + ttlMs', now + ttlMs);
    const lock = this.locks.get(name);
    if (lock && lock.owner !== owner && lock.expiresAt > now) return false;
    this.locks.set(name, { owner, expiresAt: now + ttlMs });
    return true;
  }

  async unlock(name: string, owner: string): Promise<boolean> {
    if (this.locks.get(name)?.owner !== owner) return false;
    this.locks.delete(name);
    return true;
  }
}
