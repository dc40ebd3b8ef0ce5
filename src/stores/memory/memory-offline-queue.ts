/**
 * The offline queue of a single process, mirroring the Redis list `websocket:queue:<userId>`
 * entry for entry (see offline-queue.ts). The key-level expiry of Redis (PEXPIRE) is mirrored by
 * an `expiresAt` per queue on the injected clock, swept now and then so abandoned queues do not
 * accumulate in memory.
 */
import { checkOfflineEntry, checkOfflineLimits, type OfflineEntry, type OfflineQueue, type OfflineQueueLimits } from '../../delivery/offline-queue.ts';

interface UserQueue {
  entries: OfflineEntry[];
  /** Like the Redis key's PEXPIRE: ttlMs after the newest push, on `now()`. */
  expiresAt: number;
}

export interface MemoryOfflineQueueOptions extends OfflineQueueLimits {
  /** Clock of the key-level expiry (Redis uses its own); default Date.now. */
  now?: () => number;
}

export class MemoryOfflineQueue implements OfflineQueue {
  readonly limits: OfflineQueueLimits;
  private readonly queues = new Map<string, UserQueue>();
  private readonly now: () => number;
  private lastSweep = 0;

  constructor(options: MemoryOfflineQueueOptions) {
    checkOfflineLimits(options);
    this.limits = { max: options.max, ttlMs: options.ttlMs };
    this.now = options.now ?? Date.now;
  }

  async push(userId: string, entry: OfflineEntry): Promise<number> {
    checkOfflineEntry(entry);
    if (this.limits.max === 0) return 0;
    const now = this.now();
    this.sweep(now);
    const queue = this.live(userId, now) ?? { entries: [], expiresAt: 0 };
    this.queues.set(userId, queue);
    queue.entries.push({ ...entry });
    if (queue.entries.length > this.limits.max) queue.entries.splice(0, queue.entries.length - this.limits.max);
    queue.expiresAt = now + this.limits.ttlMs;
    return queue.entries.length;
  }

  async read(userId: string, now: number): Promise<OfflineEntry[]> {
    const queue = this.live(userId, this.now());
    if (!queue) return [];
    const cutoff = now - this.limits.ttlMs;
    // Same walk as offline-read.lua: drop the expired prefix, skip any later expired entry.
    let head = 0;
    while (head < queue.entries.length && queue.entries[head]!.queuedAt <= cutoff) head++;
    if (head > 0) queue.entries.splice(0, head);
    if (queue.entries.length === 0) this.queues.delete(userId);
    return queue.entries.filter((e) => e.queuedAt > cutoff).map((e) => ({ ...e }));
  }

  async ack(userId: string, id: string): Promise<number> {
    const queue = this.live(userId, this.now());
    if (!queue) return 0;
    const index = queue.entries.findIndex((e) => e.id === id);
    if (index < 0) return 0;
    queue.entries.splice(0, index + 1);
    if (queue.entries.length === 0) this.queues.delete(userId);
    return index + 1;
  }

  async length(userId: string): Promise<number> {
    return this.live(userId, this.now())?.entries.length ?? 0;
  }

  async close(): Promise<void> {}

  /** The user's queue unless its key-level expiry passed (then it is gone, as in Redis). */
  private live(userId: string, now: number): UserQueue | undefined {
    const queue = this.queues.get(userId);
    if (queue && queue.expiresAt <= now) {
      this.queues.delete(userId);
      return undefined;
    }
    return queue;
  }

  /** Drops expired queues, at most once per min(ttl, 60 s): amortised O(1) per push. */
  private sweep(now: number): void {
    if (now - this.lastSweep < Math.min(this.limits.ttlMs, 60_000)) return;
    this.lastSweep = now;
    for (const [userId, queue] of this.queues) if (queue.expiresAt <= now) this.queues.delete(userId);
  }
}
