/**
 * The offline queue on Redis: one list per user, `<prefix>websocket:queue:<userId>`, each
 * element `<id> <queuedAt> <frame>` (the id and time first, so the scripts find an entry without
 * decoding JSON). Push, read and ack each touch several things (append + trim + expiry; scan +
 * trim), so each is one Lua script in ./lua/offline/: atomic, one round trip.
 */
import type { Redis } from 'ioredis';
import { RedisKeys } from './keys.ts';
import { defineScripts, type RunScript } from './scripts.ts';
import { checkOfflineEntry, checkOfflineLimits, type OfflineEntry, type OfflineQueue, type OfflineQueueLimits } from '../../delivery/offline-queue.ts';

export interface RedisOfflineQueueOptions extends OfflineQueueLimits {
  /** Owned by the caller: `close()` leaves it open. Must not use ioredis' own `keyPrefix`. */
  redis: Redis;
  /** Prepended to every key (REDIS_KEY_PREFIX); default none. */
  keyPrefix?: string;
}

/** Parses `<id> <queuedAt> <frame>`; null for anything else (never written by this class). */
export function decodeOfflineEntry(raw: string): OfflineEntry | null {
  const a = raw.indexOf(' ');
  const b = a < 0 ? -1 : raw.indexOf(' ', a + 1);
  if (a <= 0 || b < 0) return null;
  const queuedAt = Number(raw.slice(a + 1, b));
  if (!Number.isSafeInteger(queuedAt)) return null;
  return { id: raw.slice(0, a), queuedAt, frame: raw.slice(b + 1) };
}

export class RedisOfflineQueue implements OfflineQueue {
  readonly limits: OfflineQueueLimits;
  private readonly redis: Redis;
  private readonly keys: RedisKeys;
  private readonly run: RunScript;

  constructor(options: RedisOfflineQueueOptions) {
    checkOfflineLimits(options);
    if (options.redis.options.keyPrefix) throw new Error('RedisOfflineQueue: use the keyPrefix option of the queue, not of the ioredis client');
    this.limits = { max: options.max, ttlMs: options.ttlMs };
    this.redis = options.redis;
    this.keys = new RedisKeys(options.keyPrefix ?? '');
    this.run = defineScripts(options.redis);
  }

  /** `websocket:queue:<userId>` (ARCHITECTURE.md). */
  key(userId: string): string {
    return this.keys.offlineQueue(userId);
  }

  async push(userId: string, entry: OfflineEntry): Promise<number> {
    checkOfflineEntry(entry);
    if (this.limits.max === 0) return 0;
    const reply = await this.run('offlinePush', [this.key(userId)], [`${entry.id} ${entry.queuedAt} ${entry.frame}`, this.limits.max, this.limits.ttlMs]);
    return Number(reply);
  }

  async read(userId: string, now: number): Promise<OfflineEntry[]> {
    const reply = await this.run('offlineRead', [this.key(userId)], [now - this.limits.ttlMs]);
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
    return Number(await this.run('offlineAck', [this.key(userId)], [id]));
  }

  async length(userId: string): Promise<number> {
    return this.redis.llen(this.key(userId));
  }

  async close(): Promise<void> {}
}
