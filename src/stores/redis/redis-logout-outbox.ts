/**
 * `LogoutOutbox` on Redis: `logout:pending` (ids by due time) and `logout:pending:data`, one pair
 * per bucket (a logout is queued in its user's bucket, in the step that took the user offline).
 * An ack also sets the expiry of the acked users' `player:online:<userId>` hashes
 * (ack-pending.lua).
 */
import type { LogoutOutbox, PendingLogout, WrittenLogout } from '../../presence/logout-outbox.ts';
import type { RedisStoreContext } from './redis-store-context.ts';
import { asArray, asString, parsePending } from './redis-online-codec.ts';
import { checkCount, checkTime } from '../../presence/online-paging.ts';
import { inDueOrder, oldestDue } from './oldest-across-buckets.ts';
import { perBucket } from './bucket-pipelines.ts';
import { addScript } from './scripts.ts';

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
    const k = this.ctx.keys;
    // The oldest due of every bucket first, so the claim takes the oldest due overall (as one
    // queue would); then each bucket with some of them claims that many in one script, which
    // re-reads its due entries (a writer may have claimed some meanwhile).
    const chosen = await oldestDue(this.ctx.redis, k, (b) => k.pending(b), now, limit);
    return inDueOrder(
      chosen,
      async (b, ids) => {
        const flat = asArray(await this.ctx.run('claimPending', [k.pending(b), k.pendingData(b)], [String(now), ids.length, String(leaseMs)]), 'claimPending');
        const claimed: PendingLogout[] = [];
        for (let j = 0; j + 1 < flat.length; j += 2) claimed.push(parsePending(asString(flat[j], 'pending id'), asString(flat[j + 1], 'pending data')));
        return claimed;
      },
      (pending) => pending.id,
    );
  }

  async ackPendingLogouts(written: readonly WrittenLogout[]): Promise<void> {
    if (written.length === 0) return;
    const k = this.ctx.keys;
    // One script per bucket: each logout is acked in its user's bucket, where it was queued.
    const byBucket = new Map<number, { keys: string[]; args: string[] }>();
    const seen = new Set<string>();
    for (const { id, record } of written) {
      if (seen.has(id)) continue;
      seen.add(id);
      const b = k.bucketOf(record.userId);
      let call = byBucket.get(b);
      if (!call) byBucket.set(b, (call = { keys: [k.pending(b), k.pendingData(b)], args: [String(this.options.offlineTtlMs)] }));
      call.keys.push(k.player(record.userId), k.nodeHeartbeats(record.nodeId, b));
      call.args.push(id, record.userId);
    }
    await Promise.all([...byBucket.values()].map(({ keys, args }) => this.ctx.run('ackPending', keys, args)));
  }

  async retryPendingLogouts(ids: readonly string[], retryAt: number): Promise<void> {
    checkTime('retryAt', retryAt);
    if (ids.length === 0) return;
    const k = this.ctx.keys;
    const unique = [...new Set(ids)];
    // An id names no user, so every bucket is asked; the script ignores ids it does not hold.
    // Retries are rare (the database refused a write).
    await perBucket(this.ctx.redis, k, k.buckets.all(), (p, b) => addScript(p, 'retryPending', [k.pending(b), k.pendingData(b)], [String(retryAt), ...unique]));
  }

  async countPendingLogouts(): Promise<number> {
    const k = this.ctx.keys;
    const counts = await perBucket<number>(this.ctx.redis, k, k.buckets.all(), (p, b) => p.zcard(k.pending(b)));
    return counts.reduce((sum, count) => sum + count, 0);
  }
}
