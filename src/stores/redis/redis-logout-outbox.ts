/**
 * `LogoutOutbox` on Redis: `logout:pending` (ids by due time) and `logout:pending:data`. An ack
 * also sets the expiry of the acked users' `player:online:<userId>` hashes (ack-pending.lua).
 */
import type { LogoutOutbox, PendingLogout, WrittenLogout } from '../../presence/logout-outbox.ts';
import type { RedisStoreContext } from './redis-store-context.ts';
import { asArray, asString, parsePending } from './redis-online-codec.ts';
import { checkCount, checkTime } from '../../presence/online-paging.ts';

export interface RedisLogoutOutboxOptions {
  /** How long an offline user's hash is kept once their logout is acked (PRESENCE_OFFLINE_TTL_S). */
  offlineTtlMs: number;
}

export class RedisLogoutOutbox implements LogoutOutbox {
  constructor(
    private readonly ctx: RedisStoreContext,
    private readonly options: RedisLogoutOutboxOptions,
  ) {
    checkCount('offlineTtlMs', options.offlineTtlMs);
  }

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

  async ackPendingLogouts(written: readonly WrittenLogout[]): Promise<void> {
    if (written.length === 0) return;
    const k = this.ctx.keys;
    const keys = [k.pending, k.pendingData];
    const args: string[] = [String(this.options.offlineTtlMs)];
    const seen = new Set<string>();
    for (const { id, record } of written) {
      if (seen.has(id)) continue;
      seen.add(id);
      keys.push(k.player(record.userId), k.nodeHeartbeats(record.nodeId));
      args.push(id, record.userId);
    }
    await this.ctx.run('ackPending', keys, args);
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
