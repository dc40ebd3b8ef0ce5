/**
 * The offline queue of a single process, mirroring the Redis keys of redis-offline-queue.ts
 * entry for entry and counter for counter (see offline-queue.ts for the model). The key-level
 * expiry of Redis (PEXPIRE) is mirrored by an `expiresAt` per queue and per sender window on the
 * injected clock, swept now and then so abandoned queues do not accumulate in memory. The total
 * is exact here: an expired queue's bytes are subtracted the moment it is found expired.
 */
import {
  checkOfflineEntry,
  checkOfflineLimits,
  offlineEntryBytes,
  offlineLimits,
  OfflineQueueStats,
  type OfflineEntry,
  type OfflineLimitsInput,
  type OfflinePushResult,
  type OfflineQueue,
  type OfflineQueueLimits,
} from '../../delivery/offline-queue.ts';

interface Stored {
  entry: OfflineEntry;
  bytes: number;
}

interface UserQueue {
  entries: Stored[];
  /** Like the Redis key's PEXPIRE: ttlMs after the newest push, on `now()`. */
  expiresAt: number;
  /** Like `websocket:queue-meta:<userId>`: count and bytes per lane. */
  playerCount: number;
  playerBytes: number;
  serverCount: number;
  serverBytes: number;
}

/** Like `websocket:queue-sender:<userId>`: what a sender queued in its current window. */
interface SenderWindow {
  count: number;
  bytes: number;
  expiresAt: number;
}

/** `max` and `ttlMs` are required; a quota left out is unbounded (offlineLimits). */
export interface MemoryOfflineQueueOptions extends OfflineLimitsInput {
  /** Clock of the key-level expiry (Redis uses its own); default Date.now. */
  now?: () => number;
}

export class MemoryOfflineQueue implements OfflineQueue {
  readonly limits: OfflineQueueLimits;
  readonly stats = new OfflineQueueStats();
  private readonly queues = new Map<string, UserQueue>();
  private readonly senders = new Map<string, SenderWindow>();
  private readonly now: () => number;
  private total = 0;
  private lastSweep = 0;

  constructor(options: MemoryOfflineQueueOptions) {
    this.limits = offlineLimits(options);
    checkOfflineLimits(this.limits);
    this.now = options.now ?? Date.now;
    this.stats.totalBytes = 0;
  }

  async push(userId: string, entry: OfflineEntry): Promise<OfflinePushResult> {
    checkOfflineEntry(entry);
    const limits = this.limits;
    if (limits.max === 0) return { queued: false, quota: 'recipient' };
    const now = this.now();
    this.sweepNow(now, false);
    const queue = this.live(userId, now) ?? { entries: [], expiresAt: 0, playerCount: 0, playerBytes: 0, serverCount: 0, serverBytes: 0 };
    this.dropExpiredHead(queue, entry.queuedAt - limits.ttlMs);
    const bytes = offlineEntryBytes(entry);
    const refuse = (quota: OfflinePushResult & { queued: false }) => {
      if (queue.entries.length === 0) this.queues.delete(userId);
      return quota;
    };
    if (entry.from !== undefined) {
      if (queue.playerCount + 1 > limits.max || queue.playerBytes + bytes > limits.maxBytes) return refuse({ queued: false, quota: 'recipient' });
      let window = this.senders.get(entry.from);
      if (window && window.expiresAt <= now) window = undefined; // a new window opens with this message
      if ((window?.count ?? 0) + 1 > limits.senderMax || (window?.bytes ?? 0) + bytes > limits.senderMaxBytes)
        return refuse({ queued: false, quota: 'sender' });
      if (this.total + bytes > limits.totalMaxBytes) return refuse({ queued: false, quota: 'cluster' });
      if (!window) this.senders.set(entry.from, (window = { count: 0, bytes: 0, expiresAt: now + limits.ttlMs }));
      window.count++;
      window.bytes += bytes;
      queue.playerCount++;
      queue.playerBytes += bytes;
    } else {
      if (bytes > limits.maxBytes) return refuse({ queued: false, quota: 'recipient' });
      queue.serverCount++;
      queue.serverBytes += bytes;
    }
    queue.entries.push({ entry: { ...entry }, bytes });
    this.total += bytes;
    // The server lane keeps its newest pushes: the oldest of that lane go, never a player's.
    while (queue.serverCount > limits.max || queue.serverBytes > limits.maxBytes) {
      const index = queue.entries.findIndex((s) => s.entry.from === undefined);
      this.remove(queue, index, index + 1);
    }
    queue.expiresAt = now + limits.ttlMs;
    this.queues.set(userId, queue);
    this.stats.totalBytes = this.total;
    return { queued: true, length: queue.entries.length };
  }

  async read(userId: string, now: number): Promise<OfflineEntry[]> {
    const queue = this.live(userId, this.now());
    if (!queue) return [];
    const cutoff = now - this.limits.ttlMs;
    // Same walk as offline-read.lua: drop the expired prefix, skip any later expired entry.
    this.dropExpiredHead(queue, cutoff);
    if (queue.entries.length === 0) this.queues.delete(userId);
    return queue.entries.filter((s) => s.entry.queuedAt > cutoff).map((s) => ({ ...s.entry }));
  }

  async ack(userId: string, id: string): Promise<number> {
    const queue = this.live(userId, this.now());
    if (!queue) return 0;
    const index = queue.entries.findIndex((s) => s.entry.id === id);
    if (index < 0) return 0;
    this.remove(queue, 0, index + 1);
    if (queue.entries.length === 0) this.queues.delete(userId);
    return index + 1;
  }

  async length(userId: string): Promise<number> {
    return this.live(userId, this.now())?.entries.length ?? 0;
  }

  async totalBytes(): Promise<number> {
    this.sweepNow(this.now(), true);
    return this.total;
  }

  async sweep(): Promise<number> {
    const before = this.total;
    this.sweepNow(this.now(), true);
    return before - this.total;
  }

  async close(): Promise<void> {}

  /** The user's queue unless its key-level expiry passed (then it is gone, as in Redis). */
  private live(userId: string, now: number): UserQueue | undefined {
    const queue = this.queues.get(userId);
    if (queue && queue.expiresAt <= now) {
      this.forget(userId, queue);
      return undefined;
    }
    return queue;
  }

  private forget(userId: string, queue: UserQueue): void {
    this.queues.delete(userId);
    this.total -= queue.playerBytes + queue.serverBytes;
    this.stats.totalBytes = this.total;
  }

  private dropExpiredHead(queue: UserQueue, cutoff: number): void {
    let head = 0;
    while (head < queue.entries.length && queue.entries[head]!.entry.queuedAt <= cutoff) head++;
    if (head > 0) this.remove(queue, 0, head);
  }

  /** Removes entries [from, to) and their share of every counter (sender windows are not given back: they count what was queued). */
  private remove(queue: UserQueue, from: number, to: number): void {
    for (const { entry, bytes } of queue.entries.splice(from, to - from)) {
      if (entry.from === undefined) {
        queue.serverCount--;
        queue.serverBytes -= bytes;
      } else {
        queue.playerCount--;
        queue.playerBytes -= bytes;
      }
      this.total -= bytes;
    }
    this.stats.totalBytes = this.total;
  }

  /** Drops expired queues and sender windows; unless forced, at most once per min(ttl, 60 s) (amortised O(1) per push). */
  private sweepNow(now: number, force: boolean): void {
    if (!force && now - this.lastSweep < Math.min(this.limits.ttlMs, 60_000)) return;
    this.lastSweep = now;
    for (const [userId, queue] of this.queues) if (queue.expiresAt <= now) this.forget(userId, queue);
    for (const [sender, window] of this.senders) if (window.expiresAt <= now) this.senders.delete(sender);
  }
}
