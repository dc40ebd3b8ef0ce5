/** `LogoutOutbox` on Redis: `logout:pending` (ids by due time) and `logout:pending:data`. */
import type { LogoutOutbox, PendingLogout } from '../../presence/logout-outbox.ts';
import type { RedisStoreContext } from './redis-store-context.ts';
import { asArray, asString, parsePending } from './redis-online-codec.ts';
import { checkCount, checkTime } from '../../presence/online-paging.ts';

export class RedisLogoutOutbox implements LogoutOutbox {
  constructor(private readonly ctx: RedisStoreContext) {}

  async claimPendingLogouts(limit: number, now: number, leaseMs: number): Promise<PendingLogout[]> {
    checkCount('limit', limit);
    checkTime('now', now);
    checkTime('leaseMs', leaseMs);
    const flat = asArray(
      await this.ctx.run('claimPending', [this.ctx.keys.pending, this.ctx.keys.pendingData], [String(now), limit, String(leaseMs)]),
      'claimPending',
    );
    const claimed: PendingLogout[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) {
      claimed.push(parsePending(asString(flat[i], 'pending id'), asString(flat[i + 1], 'pending data')));
    }
    return claimed;
  }

  async ackPendingLogouts(ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.ctx.run('ackPending', [this.ctx.keys.pending, this.ctx.keys.pendingData], [...new Set(ids)]);
  }

  async retryPendingLogouts(ids: readonly string[], retryAt: number): Promise<void> {
    checkTime('retryAt', retryAt);
    if (ids.length === 0) return;
    await this.ctx.run('retryPending', [this.ctx.keys.pending, this.ctx.keys.pendingData], [String(retryAt), ...new Set(ids)]);
  }

  async countPendingLogouts(): Promise<number> {
    return this.ctx.redis.zcard(this.ctx.keys.pending);
  }
}
