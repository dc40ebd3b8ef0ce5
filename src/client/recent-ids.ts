/**
 * The server ids of the messages the SDK saw last, to emit each message once: the same message
 * can arrive twice (live while a session logs in and again in its recovery, an offline replay the
 * SDK had no time to acknowledge, a history page and then live). A ring of the last `capacity`
 * ids plus a set of them: O(1) per message, and memory bounded by `capacity` however long the
 * session runs.
 */

export class RecentIds {
  /** The remembered ids in arrival order, the oldest at `next` once the ring is full. */
  private readonly ring: Array<string | undefined>;
  private readonly known = new Set<string>();
  private next = 0;

  /** `capacity` 0 remembers nothing: every id is new (de-duplication off). */
  constructor(private readonly capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity < 0) throw new RangeError(`RecentIds: capacity must be an integer >= 0, got ${capacity}`);
    this.ring = new Array<string | undefined>(capacity);
  }

  /** Remembers `id` (forgetting the oldest when full); false when it is already among the recent ones. */
  addIfNew(id: string): boolean {
    if (this.capacity === 0) return true;
    if (this.known.has(id)) return false;
    const evicted = this.ring[this.next];
    if (evicted !== undefined) this.known.delete(evicted);
    this.ring[this.next] = id;
    this.known.add(id);
    this.next = (this.next + 1) % this.capacity;
    return true;
  }

  /** How many ids are remembered (at most `capacity`). */
  get size(): number {
    return this.known.size;
  }
}
