/**
 * The offline queue on Redis: one list per user, `<prefix>websocket:queue:<userId>`, each
 * element `<id> <queuedAt> <origin> <frame>` (the id, time and lane first, so the scripts find an
 * entry without decoding JSON), with its lane counters in `websocket:queue-meta:<userId>`, the
 * sender windows in `websocket:queue-sender:<userId>`, and the total in `websocket:queue-total`
 * (+ the per-queue share in `websocket:queue-bytes`, for the sweep).
 * Push, read and ack each touch several of them, so each is one Lua script in ./lua/offline/
 * (shared bookkeeping in ./lua/lib/offline-lanes.lua): atomic, one round trip.
 *
 * With REDIS_BUCKETS > 1 (buckets.ts) a queue, its meta and its bucket's total and shares are in
 * the user's bucket: the total is per bucket, each capped at OFFLINE_QUEUE_TOTAL_MAX_BYTES /
 * REDIS_BUCKETS (so each shard's memory is bounded), and a sender's window, in the sender's own
 * bucket, is counted first by its own script (reserve-sender.lua) and given back when the push
 * is refused: a message then costs two round trips.
 */
import { RedisKeys } from './keys.ts';
import { perBucket } from './bucket-pipelines.ts';
import { defineScripts, type RedisClient, type RunScript } from './scripts.ts';
import {
  checkOfflineEntry,
  checkOfflineLimits,
  decodeOfflineEntry,
  encodeOfflineEntry,
  offlineEntryBytes,
  OFFLINE_QUOTAS,
  offlineLimits,
  OfflineQueueStats,
  type OfflineEntry,
  type OfflineLimitsInput,
  type OfflinePushResult,
  type OfflineQueue,
  type OfflineQueueLimits,
  type OfflineQuota,
} from '../../delivery/offline-queue.ts';

export { decodeOfflineEntry };

/** `max` and `ttlMs` are required; a quota left out is unbounded (offlineLimits). */
export interface RedisOfflineQueueOptions extends OfflineLimitsInput {
  /** Owned by the caller: `close()` leaves it open. Must not use ioredis' own `keyPrefix`. */
  redis: RedisClient;
  /** Prepended to every key (REDIS_KEY_PREFIX); default none. */
  keyPrefix?: string;
  /** REDIS_BUCKETS (buckets.ts); default 1. The same in every process of a deployment. */
  buckets?: number;
}

/** Fields of `websocket:queue-bytes` per sweep script call. */
const SWEEP_BATCH = 500;

export class RedisOfflineQueue implements OfflineQueue {
  readonly limits: OfflineQueueLimits;
  readonly stats = new OfflineQueueStats();
  private readonly redis: RedisClient;
  private readonly keys: RedisKeys;
  private readonly run: RunScript;
  /** The bytes one bucket's queues may hold together. */
  private readonly bucketMaxBytes: number;
  /** Each bucket's total as this node last saw it; `stats.totalBytes` is their sum. */
  private readonly bucketTotals: number[];
  private seenTotal = 0;

  constructor(options: RedisOfflineQueueOptions) {
    this.limits = offlineLimits(options);
    checkOfflineLimits(this.limits);
    if (options.redis.options.keyPrefix) throw new Error('RedisOfflineQueue: use the keyPrefix option of the queue, not of the ioredis client');
    this.redis = options.redis;
    this.keys = new RedisKeys(options.keyPrefix ?? '', options.buckets ?? 1);
    this.run = defineScripts(options.redis);
    this.bucketMaxBytes = Math.ceil(this.limits.totalMaxBytes / this.keys.buckets.count);
    this.bucketTotals = this.keys.buckets.all().map(() => 0);
  }

  /** A bucket's total as a script reported it. */
  private seeTotal(b: number, total: number): void {
    this.seenTotal += total - this.bucketTotals[b]!;
    this.bucketTotals[b] = total;
    this.stats.totalBytes = this.seenTotal;
  }

  /** `websocket:queue:<userId>` (ARCHITECTURE.md). */
  key(userId: string): string {
    return this.keys.offlineQueue(userId);
  }

  /** The keys of push/read/ack, in their scripts' KEYS order. */
  private queueKeys(userId: string): string[] {
    const b = this.keys.bucketOf(userId);
    return [this.key(userId), this.keys.offlineQueueMeta(userId), this.keys.offlineQueueTotal(b), this.keys.offlineQueueBytes(b)];
  }

  async push(userId: string, entry: OfflineEntry): Promise<OfflinePushResult> {
    checkOfflineEntry(entry);
    const l = this.limits;
    if (l.max === 0) return { queued: false, quota: 'recipient' };
    const keys = this.queueKeys(userId);
    const element = encodeOfflineEntry(entry);
    const sender = entry.from === undefined ? undefined : this.keys.offlineQueueSender(entry.from);
    // The sender's window in the same step when it shares the recipient's bucket (always with
    // one bucket), else counted first on its own.
    const together = sender !== undefined && this.keys.bucketOf(entry.from!) === this.keys.bucketOf(userId);
    const bytes = offlineEntryBytes(entry);
    if (sender && !together) {
      const counted = await this.run('offlineReserveSender', [sender], [bytes, l.senderMax, l.senderMaxBytes, l.ttlMs]);
      if (Number(counted) !== 1) return { queued: false, quota: 'sender' };
    } else if (sender) {
      keys.push(sender);
    }
    // A push that fails (Redis unreachable) leaves a reservation standing: it only ever
    // refuses early, and expires with the window.
    const reply = await this.run('offlinePush', keys, [
      userId,
      element,
      l.max,
      l.maxBytes,
      l.ttlMs,
      entry.queuedAt - l.ttlMs,
      l.senderMax,
      l.senderMaxBytes,
      this.bucketMaxBytes,
      sender && !together ? 'player' : '',
    ]);
    if (!Array.isArray(reply) || reply.length !== 2) throw new Error('offline-push: unexpected reply');
    this.seeTotal(this.keys.bucketOf(userId), Number(reply[1]));
    const [outcome] = reply as [unknown, unknown];
    if (typeof outcome === 'number') return { queued: true, length: outcome };
    if (sender && !together) await this.run('offlineReleaseSender', [sender], [bytes]);
    if (OFFLINE_QUOTAS.includes(outcome as OfflineQuota)) return { queued: false, quota: outcome as OfflineQuota };
    throw new Error(`offline-push: unexpected outcome ${String(outcome)}`);
  }

  async read(userId: string, now: number): Promise<OfflineEntry[]> {
    const reply = await this.run('offlineRead', this.queueKeys(userId), [userId, now - this.limits.ttlMs]);
    if (!Array.isArray(reply)) throw new Error('offline-read: unexpected reply');
    const entries: OfflineEntry[] = [];
    for (const raw of reply) {
      const entry = typeof raw === 'string' ? decodeOfflineEntry(raw) : null;
      if (entry) entries.push(entry);
    }
    return entries;
  }

  async ack(userId: string, id: string): Promise<number> {
    if (id.length === 0 || /\s/.test(id)) return 0; // cannot be queued
    return Number(await this.run('offlineAck', this.queueKeys(userId), [userId, id]));
  }

  async length(userId: string): Promise<number> {
    return this.redis.llen(this.key(userId));
  }

  async totalBytes(): Promise<number> {
    const k = this.keys;
    const totals = await perBucket<string | null>(this.redis, k, k.buckets.all(), (p, b) => p.get(k.offlineQueueTotal(b)));
    totals.forEach((value, b) => this.seeTotal(b, Number(value ?? 0)));
    return this.seenTotal;
  }

  /**
   * Walks `websocket:queue-bytes` with HSCAN (a cursor: other nodes keep pushing meanwhile) and
   * lets sweep.lua drop the fields of queues whose key expired, 500 at a time, each batch atomic.
   */
  async sweep(): Promise<number> {
    const k = this.keys;
    let gone = 0;
    for (const b of k.buckets.all()) {
      let cursor = '0';
      do {
        const [next, flat] = await this.redis.hscan(k.offlineQueueBytes(b), cursor, 'COUNT', SWEEP_BATCH);
        cursor = next;
        const userIds: string[] = [];
        for (let i = 0; i < flat.length; i += 2) userIds.push(flat[i]!);
        if (userIds.length === 0) continue;
        const reply = await this.run('offlineSweep', [k.offlineQueueTotal(b), k.offlineQueueBytes(b), ...userIds.map((u) => this.key(u))], userIds);
        if (!Array.isArray(reply)) throw new Error('offline-sweep: unexpected reply');
        gone += Number(reply[0]);
      } while (cursor !== '0');
    }
    await this.totalBytes();
    return gone;
  }

  async close(): Promise<void> {}
}
