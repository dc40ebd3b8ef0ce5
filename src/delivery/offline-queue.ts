/**
 * The offline queue: direct messages and server pushes addressed to a user with no live session
 * anywhere, kept until a session of the user replays them and the client acknowledges them.
 * Two implementations share this contract (test/stores/offline-queue.contract.ts):
 * `MemoryOfflineQueue` (one process) and `RedisOfflineQueue` (a cluster).
 *
 * Model (Redis key `websocket:queue:<userId>`, a list; the memory queue mirrors it):
 * - Entries are appended at the tail in arrival order; only the newest `max` are kept.
 * - Every entry expires `ttlMs` after it was queued; the whole queue (the Redis key) expires
 *   `ttlMs` after its newest entry, so an abandoned queue costs nothing for long.
 * - Acknowledgements are cumulative: acking an entry removes it and every entry before it.
 *   Removals therefore only ever take a prefix of the queue (ack, trim to `max`, expiry), which
 *   is what lets a session resume a replay "after the last id it was sent".
 */

export interface OfflineEntry {
  /** Server message id: what the client acknowledges. No spaces (a UUID). */
  id: string;
  /** The encoded server frame exactly as replayed (it carries `"offline":true`). */
  frame: string;
  /** ms since the Unix epoch when it was queued; it expires `ttlMs` later. */
  queuedAt: number;
}

export interface OfflineQueueLimits {
  /** OFFLINE_QUEUE_MAX: entries kept per user (the newest); 0 = the queue is off. */
  max: number;
  /** OFFLINE_QUEUE_TTL_S in ms: lifetime of an entry, and of the queue after its newest entry. */
  ttlMs: number;
}

export interface OfflineQueue {
  readonly limits: OfflineQueueLimits;

  /**
   * Appends one entry, drops the oldest beyond `max`, and (re)sets the queue's expiry to `ttlMs`
   * from now. Returns the queue length afterwards. Atomic. With `max` = 0 it stores nothing.
   */
  push(userId: string, entry: OfflineEntry): Promise<number>;

  /**
   * The entries not yet expired at `now` (queuedAt + ttlMs > now), oldest first. Expired entries
   * at the head are removed on the way.
   */
  read(userId: string, now: number): Promise<OfflineEntry[]>;

  /**
   * Cumulative acknowledgement: removes the entry `id` and every entry queued before it. Returns
   * how many entries were removed; 0 (nothing changes) when `id` is not in the queue (already
   * acknowledged, trimmed, expired, or never queued). Atomic.
   */
  ack(userId: string, id: string): Promise<number>;

  /** Entries currently stored (expired ones included until a read removes them). */
  length(userId: string): Promise<number>;

  close(): Promise<void>;
}

/** Throws a RangeError for an entry that the Redis encoding could not hold faithfully. */
export function checkOfflineEntry(entry: OfflineEntry): void {
  if (entry.id.length === 0 || /\s/.test(entry.id)) throw new RangeError(`offline entry id must be non-empty without spaces, got ${JSON.stringify(entry.id)}`);
  if (!Number.isSafeInteger(entry.queuedAt) || entry.queuedAt < 0) throw new RangeError(`queuedAt must be an integer number of ms, got ${entry.queuedAt}`);
}

/** Throws a RangeError for limits no implementation accepts. */
export function checkOfflineLimits(limits: OfflineQueueLimits): void {
  if (!Number.isInteger(limits.max) || limits.max < 0) throw new RangeError(`max must be an integer >= 0, got ${limits.max}`);
  if (!Number.isInteger(limits.ttlMs) || limits.ttlMs < 1) throw new RangeError(`ttlMs must be a positive integer, got ${limits.ttlMs}`);
}
