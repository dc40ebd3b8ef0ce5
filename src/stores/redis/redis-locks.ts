/** `Locks` on Redis: `server:lock:<name>`, a hash { owner, expiresAt } per lock. */
import type { Locks } from '../../cluster/locks.ts';
import type { RedisStoreContext } from './redis-store-context.ts';
import { asNumber } from './redis-online-codec.ts';
import { checkCount, checkTime } from '../../presence/online-paging.ts';

export class RedisLocks implements Locks {
  constructor(private readonly ctx: RedisStoreContext) {}

  async tryLock(name: string, owner: string, ttlMs: number, now: number): Promise<boolean> {
    const { keys: k, run } = this.ctx;
    checkCount('ttlMs', ttlMs);
    checkTime('now', now);
    checkTime('now + ttlMs', now + ttlMs);
    return asNumber(await run('tryLock', [k.lock(name)], [owner, String(ttlMs), String(now), String(now + ttlMs)]), 'tryLock') === 1;
  }

  async unlock(name: string, owner: string): Promise<boolean> {
    const { keys: k, run } = this.ctx;
    return asNumber(await run('unlock', [k.lock(name)], [owner]), 'unlock') === 1;
  }
}
