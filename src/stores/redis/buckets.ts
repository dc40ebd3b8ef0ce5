/**
 * How the online stores' data is split into buckets, so that it can spread over the shards of a
 * Redis Cluster (REDIS_BUCKETS). A bucket is a complete, independent copy of the presence layout:
 * its own online set and index, logout outbox, grace set, node players sets, heartbeats and node
 * leases. Every key of a bucket carries the bucket's hash tag, so each script touches a single
 * slot, and a user's logout (hash, online set, outbox entry) stays one atomic step: what made
 * logouts exactly-once on one Redis holds within each bucket.
 *
 * A user belongs to the bucket covering the cluster slot of their userId (slots split into
 * `count` equal ranges), and each bucket's tag is chosen to hash into its own range: with the
 * cluster's slots spread evenly over its primaries (what `redis-cli --cluster create` does), the
 * buckets, and so the users, are spread evenly too. With one bucket (the default on a single
 * Redis) keys carry no tag at all and are named as they always were.
 */
import slotOf from 'cluster-key-slot';

/** Redis Cluster's hash slots. */
export const CLUSTER_SLOTS = 16384;

/**
 * The most buckets a layout may have: each needs a tag found by search in its slot range
 * (about `count` tries each), and more buckets than shards buys nothing.
 */
export const MAX_BUCKETS = 1024;

export class BucketLayout {
  /** `{<tag>}:` per bucket, or the single empty string of the one-bucket layout. */
  private readonly tagParts: readonly string[];

  constructor(readonly count: number) {
    if (!Number.isInteger(count) || count < 1 || count > MAX_BUCKETS) {
      throw new RangeError(`buckets must be an integer from 1 to ${MAX_BUCKETS}, got ${count}`);
    }
    this.tagParts = count === 1 ? [''] : Array.from({ length: count }, (_, b) => `{${tagOf(b, count)}}:`);
  }

  /** The bucket of a user (of any name: a room, a sender) by the slot of the name itself. */
  of(name: string): number {
    return this.count === 1 ? 0 : Math.floor((slotOf(name) * this.count) / CLUSTER_SLOTS);
  }

  /** What every key of bucket `b` starts with (after the key prefix): its hash tag, or nothing. */
  tagPart(b: number): string {
    const part = this.tagParts[b];
    if (part === undefined) throw new RangeError(`no bucket ${b} in a layout of ${this.count}`);
    return part;
  }

  /** 0 .. count - 1. */
  all(): number[] {
    return Array.from({ length: this.count }, (_, b) => b);
  }
}

/** The first tag `<b>.<n>` whose slot lies in bucket b's range of slots. */
function tagOf(b: number, count: number): string {
  const from = Math.ceil((b * CLUSTER_SLOTS) / count);
  const to = Math.ceil(((b + 1) * CLUSTER_SLOTS) / count);
  for (let n = 0; ; n++) {
    const tag = `${b}.${n}`;
    const slot = slotOf(tag);
    if (slot >= from && slot < to) return tag;
  }
}
