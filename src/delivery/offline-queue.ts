/**
 * The offline queue: direct messages and server pushes addressed to a user with no live session
 * anywhere, kept until a session of the user replays them and the client acknowledges them.
 * Two implementations share this contract (test/stores/offline-queue.contract.ts):
 * `MemoryOfflineQueue` (one process) and `RedisOfflineQueue` (a cluster).
 *
 * Model (Redis list `websocket:queue:<userId>`; the memory queue mirrors it):
 * - Two lanes in one list, in arrival order: the player lane (messages of users, `from` set) and
 *   the server lane (admin pushes, no `from`). Each lane of each recipient is bounded on its own
 *   by `max` entries and `maxBytes` bytes, so no amount of player messages can evict a push.
 * - A player message that does not fit is refused, never stored by evicting another message:
 *   - `recipient`: the recipient's player lane is full (count or bytes);
 *   - `sender`: the sender queued `senderMax` messages or `senderMaxBytes` bytes (to anyone)
 *     within the current window of `ttlMs` (a fixed window opened by its first queued message);
 *   - `cluster`: every offline queue together holds `totalMaxBytes` or more.
 *   So what one sender can make the store hold is bounded whatever it sends.
 * - A server push always gets in: when its lane is full the oldest pushes of that lane go (the
 *   admin is trusted and the newest push wins, as before the lanes existed). The cluster cap
 *   does not refuse it (its lane is bounded per recipient), though its bytes count in the total.
 * - Replay order is arrival order across both lanes. Acknowledgements are cumulative: acking an
 *   entry removes it and every entry (of either lane) queued before it. Entries are only ever
 *   appended at the tail, so whatever a client has been sent is never preceded by a later entry
 *   and a cumulative ack never removes a message the client did not get; removals in the middle
 *   (an evicted push) only take entries away, and a session resumes a replay by the ids it was
 *   already sent (offline-replay.ts), not by position.
 * - Every entry expires `ttlMs` after it was queued (pushes and reads drop the expired head); the
 *   whole queue (the Redis key) expires `ttlMs` after its newest entry, so an abandoned queue
 *   costs nothing for long.
 *
 * Sizes: an entry costs `offlineEntryBytes` (its stored element plus a fixed overhead, so that a
 * flood of empty messages is accounted for too); the lane byte caps, the sender quota and the
 * cluster total all count in those units.
 */

export interface OfflineEntry {
  /** Server message id: what the client acknowledges. No spaces (a UUID). */
  id: string;
  /** The encoded server frame exactly as replayed (it carries `"offline":true`). */
  frame: string;
  /** ms since the Unix epoch when it was queued; it expires `ttlMs` later. */
  queuedAt: number;
  /** The sending user (player lane, quotas apply); absent: a server push (server lane). */
  from?: string | undefined;
}

export interface OfflineQueueLimits {
  /** OFFLINE_QUEUE_MAX: entries per recipient and lane; 0 = the queue is off. */
  max: number;
  /** OFFLINE_QUEUE_TTL_S in ms: lifetime of an entry, of the queue after its newest entry, and the sender quota's window. */
  ttlMs: number;
  /** OFFLINE_QUEUE_MAX_BYTES: bytes per recipient and lane. */
  maxBytes: number;
  /** OFFLINE_QUEUE_SENDER_MAX: player messages one sender may queue per window of ttlMs. */
  senderMax: number;
  /** OFFLINE_QUEUE_SENDER_MAX_BYTES: bytes one sender may queue per window of ttlMs. */
  senderMaxBytes: number;
  /** OFFLINE_QUEUE_TOTAL_MAX_BYTES: bytes all offline queues together may hold before player messages are refused. */
  totalMaxBytes: number;
}

/** Which quota refused a player message (also the `reason` label of the refusal metric). */
export type OfflineQuota = 'recipient' | 'sender' | 'cluster';
export const OFFLINE_QUOTAS: readonly OfflineQuota[] = ['recipient', 'sender', 'cluster'];

/** What became of a push. */
export type OfflinePushResult = { queued: true; length: number } | { queued: false; quota: OfflineQuota };

/**
 * Why a message for an offline user was not queued, counted for the metric
 * `gatehouse_offline_queue_refused_total{reason}`: a quota, or `unknown_user` (the recipient
 * never logged in), or `lookups` (the sender asked about too many unknown ids).
 */
export type OfflineRefusalReason = OfflineQuota | 'unknown_user' | 'lookups';
export const OFFLINE_REFUSAL_REASONS: readonly OfflineRefusalReason[] = ['recipient', 'sender', 'cluster', 'unknown_user', 'lookups'];

/** Counters read by the metrics at scrape time; one per queue object (i.e. per node). */
export class OfflineQueueStats {
  /** Refusals by reason, in OFFLINE_REFUSAL_REASONS order. */
  readonly refused = new Float64Array(OFFLINE_REFUSAL_REASONS.length);
  /** Bytes held by all offline queues of the cluster, as last seen (a push, a sweep); undefined until then. */
  totalBytes: number | undefined;

  count(reason: OfflineRefusalReason): void {
    this.refused[OFFLINE_REFUSAL_REASONS.indexOf(reason)]!++;
  }

  refusedBy(reason: OfflineRefusalReason): number {
    return this.refused[OFFLINE_REFUSAL_REASONS.indexOf(reason)]!;
  }
}

export interface OfflineQueue {
  readonly limits: OfflineQueueLimits;
  readonly stats: OfflineQueueStats;

  /**
   * Appends one entry to its lane if the quotas let it in (see the model above), drops the
   * expired head, evicts the oldest server pushes beyond their lane's bounds, and (re)sets the
   * queue's expiry to `ttlMs` from now. Atomic. With `max` = 0 nothing is stored (`recipient`).
   */
  push(userId: string, entry: OfflineEntry): Promise<OfflinePushResult>;

  /**
   * The entries not yet expired at `now` (queuedAt + ttlMs > now), oldest first, both lanes.
   * Expired entries at the head are removed on the way.
   */
  read(userId: string, now: number): Promise<OfflineEntry[]>;

  /**
   * Cumulative acknowledgement: removes the entry `id` and every entry queued before it. Returns
   * how many entries were removed; 0 (nothing changes) when `id` is not in the queue (already
   * acknowledged, evicted, expired, or never queued). Atomic.
   */
  ack(userId: string, id: string): Promise<number>;

  /** Entries currently stored, both lanes (expired ones included until a read removes them). */
  length(userId: string): Promise<number>;

  /**
   * Bytes held by all offline queues (the cluster total the `cluster` quota is judged on).
   * Redis: queues whose key expired are subtracted by `sweep`, so between sweeps it may be high.
   */
  totalBytes(): Promise<number>;

  /**
   * Reconciles the total with the queues that expired as a whole (their bytes never went through
   * a script). Idempotent; run by one node at a time (offline-queue-sweeper.ts). Returns the
   * bytes it subtracted.
   */
  sweep(): Promise<number>;

  close(): Promise<void>;
}

/** Bytes counted per entry on top of its element: the list node, the lane and quota bookkeeping. */
export const OFFLINE_ENTRY_OVERHEAD_BYTES = 64;

/**
 * The stored element: `<id> <queuedAt> <origin> <frame>`, origin `@<from>` (player lane) or `!`
 * (server lane). Ids, times and user ids hold no spaces, so the scripts find the fields without
 * decoding JSON. Elements written before the lanes existed (`<id> <queuedAt> <frame>`, the frame
 * a JSON object) still decode, as server-lane entries.
 */
export function encodeOfflineEntry(entry: OfflineEntry): string {
  return `${entry.id} ${entry.queuedAt} ${entry.from === undefined ? '!' : `@${entry.from}`} ${entry.frame}`;
}

/** Parses an element; null for anything this code never writes. */
export function decodeOfflineEntry(raw: string): OfflineEntry | null {
  const a = raw.indexOf(' ');
  const b = a < 0 ? -1 : raw.indexOf(' ', a + 1);
  if (a <= 0 || b < 0) return null;
  const queuedAt = Number(raw.slice(a + 1, b));
  if (!Number.isSafeInteger(queuedAt)) return null;
  const id = raw.slice(0, a);
  const origin = raw.charAt(b + 1);
  if (origin !== '!' && origin !== '@') return { id, queuedAt, frame: raw.slice(b + 1) }; // before lanes
  const c = raw.indexOf(' ', b + 1);
  if (c < 0) return null;
  const frame = raw.slice(c + 1);
  return origin === '!' ? { id, queuedAt, frame } : { id, queuedAt, frame, from: raw.slice(b + 2, c) };
}

/** What an entry counts for in every byte bound (its element's UTF-8 length plus the overhead). */
export function offlineEntryBytes(entry: OfflineEntry): number {
  return Buffer.byteLength(encodeOfflineEntry(entry), 'utf8') + OFFLINE_ENTRY_OVERHEAD_BYTES;
}

/** Throws a RangeError for an entry that the Redis encoding could not hold faithfully. */
export function checkOfflineEntry(entry: OfflineEntry): void {
  if (entry.id.length === 0 || /\s/.test(entry.id)) throw new RangeError(`offline entry id must be non-empty without spaces, got ${JSON.stringify(entry.id)}`);
  if (!Number.isSafeInteger(entry.queuedAt) || entry.queuedAt < 0) throw new RangeError(`queuedAt must be an integer number of ms, got ${entry.queuedAt}`);
  if (entry.from !== undefined && (entry.from.length === 0 || /\s/.test(entry.from))) {
    throw new RangeError(`offline entry sender must be non-empty without spaces, got ${JSON.stringify(entry.from)}`);
  }
}

/** Limits as given to a queue's constructor: `max` and `ttlMs` required, a quota left out is unbounded. */
export type OfflineLimitsInput = Pick<OfflineQueueLimits, 'max' | 'ttlMs'> & Partial<Omit<OfflineQueueLimits, 'max' | 'ttlMs'>>;

/** Limits with defaults for what a caller leaves out (tests, tools): no quota beyond `max`. */
export function offlineLimits(limits: OfflineLimitsInput): OfflineQueueLimits {
  const unbounded = Number.MAX_SAFE_INTEGER;
  return {
    max: limits.max,
    ttlMs: limits.ttlMs,
    maxBytes: limits.maxBytes ?? unbounded,
    senderMax: limits.senderMax ?? unbounded,
    senderMaxBytes: limits.senderMaxBytes ?? unbounded,
    totalMaxBytes: limits.totalMaxBytes ?? unbounded,
  };
}

/** Throws a RangeError for limits no implementation accepts. */
export function checkOfflineLimits(limits: OfflineQueueLimits): void {
  if (!Number.isInteger(limits.max) || limits.max < 0) throw new RangeError(`max must be an integer >= 0, got ${limits.max}`);
  if (!Number.isInteger(limits.ttlMs) || limits.ttlMs < 1) throw new RangeError(`ttlMs must be a positive integer, got ${limits.ttlMs}`);
  for (const name of ['maxBytes', 'senderMax', 'senderMaxBytes', 'totalMaxBytes'] as const) {
    const value = limits[name];
    if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer, got ${value}`);
  }
}
