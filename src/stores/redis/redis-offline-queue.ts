/**
 * The offline queue on Redis: one list per user, `<prefix>websocket:queue:<userId>`, each
 * element `<id> <queuedAt> <origin> <frame>` (the id, time and lane first, so the scripts find an
 * entry without decoding JSON), with its lane counters in `websocket:queue-meta:<userId>`, the
 * sender windows in `websocket:queue-sender:<userId>`, and the cluster total in
 * `websocket:queue-total` (+ the per-queue share in `websocket:queue-bytes`, for the sweep).
 * Push, read and ack each touch several of them, so each is one Lua script in ./lua/offline/
 * (shared bookkeeping in ./lua/lib/offline-lanes.lua): atomic, one round trip.
 */
import type { Redis } from 'ioredis';
import { RedisKeys } from './keys.ts';
import { defineScripts, type RunScript } from './scripts.ts';
import {
  checkOfflineEntry,
  checkOfflineLimits,
  decodeOfflineEntry,
  encodeOfflineEntry,
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
  redis: Redis;
  /** Prepended to every key (REDIS_KEY_PREFIX); default none. */
  keyPrefix?: string;
}

/** Fields of `websocket:queue-bytes` per sweep script call. */
const SWEEP_BATCH = 500;

export class RedisOfflineQueue implements OfflineQueue {
  readonly limits: OfflineQueueLimits;
  readonly stats = new OfflineQueueStats();
  private readonly redis: Redis;
  private readonly keys: RedisKeys;
  private readonly run: RunScript;

  constructor(options: RedisOfflineQueueOptions) {
    this.limits = offlineLimits(options);
    checkOfflineLimits(this.limits);
    if (options.redis.options.keyPrefix) throw new Error('RedisOfflineQueue: use the keyPrefix option of the queue, not of the ioredis client');
    this.redis = options.redis;
    this.keys = new RedisKeys(options.keyPrefix ?? '');
    this.run = defineScripts(options.redis);
  }

  /** `websocket:queue:<userId>` (ARCHITECTURE.md). */
  key(userId: string): string {
    return this.keys.offlineQueue(userId);
  }

  /** The keys of push/read/ack, in their scripts' KEYS order. */
  private queueKeys(userId: string): string[] {
    return [this.key(userId), this.keys.offlineQueueMeta(userId), this.keys.offlineQueueTotal, this.keys.offlineQueueBytes];
  }

  async push(userId: string, entry: OfflineEntry): Promise<OfflinePushResult> {
    checkOfflineEntry(entry);
    const l = this.limits;
    if (l.max === 0) return { queued: false, quota: 'recipient' };
    const keys = this.queueKeys(userId);
    if (entry.from !== undefined) keys.push(this.keys.offlineQueueSender(entry.from));
    const reply = await this.run('offlinePush', keys, [
      userId,
      encodeOfflineEntry(entry),
      l.max,
      l.maxBytes,
      l.ttlMs,
      entry.queuedAt - l.ttlMs,
      l.senderMax,
      l.senderMaxBytes,
      l.totalMaxBytes,
    ]);
    if (!Array.isArray(reply) || reply.length !== 2) throw new Error('offline-push: unexpected reply');
    this.stats.totalBytes = Number(reply[1]);
    const [outcome] = reply as [unknown, unknown];
    if (typeof outcome === 'number') return { queued: true, length: outcome };
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
    const total = Number((await this.redis.get(this.keys.offlineQueueTotal)) ?? 0);
    this.stats.totalBytes = total;
    return total;
  }

  /**
   * Walks `websocket:queue-bytes` with HSCAN (a cursor: other nodes keep pushing meanwhile) and
   * lets sweep.lua drop the fields of queues whose key expired, 500 at a time, each batch atomic.
   */
  async sweep(): Promise<number> {
    let cursor = '0';
    let gone = 0;
    do {
      const [next, flat] = await this.redis.hscan(this.keys.offlineQueueBytes, cursor, 'COUNT', SWEEP_BATCH);
      cursor = next;
      const userIds: string[] = [];
      for (let i = 0; i < flat.length; i += 2) userIds.push(flat[i]!);
      if (userIds.length === 0) continue;
      const reply = await this.run('offlineSweep', [this.keys.offlineQueueTotal, this.keys.offlineQueueBytes, ...userIds.map((u) => this.key(u))], userIds);
      if (!Array.isArray(reply)) throw new Error('offline-sweep: unexpected reply');
      gone += Number(reply[0]);
      this.stats.totalBytes = Number(reply[1]);
    } while (cursor !== '0');
    await this.totalBytes();
    return gone;
  }

  async close(): Promise<void> {}
}
