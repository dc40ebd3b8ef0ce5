/**
 * The oldest entries of a sorted set that every bucket has a copy of (the logout outbox, the
 * grace periods): each bucket's own oldest, read with ZRANGEBYSCORE ... WITHSCORES, merged so
 * that the whole answers as one sorted set would: by score, equal scores by member.
 */
import { compareCodePoints } from '../../presence/code-point-order.ts';
import { asNumber } from './redis-online-codec.ts';

export interface BucketEntry {
  bucket: number;
  member: string;
  score: number;
}

/** The first `limit` of the buckets' entries (`flat[b]`: member, score, member, score ...). */
export function oldestAcrossBuckets(flat: ReadonlyArray<readonly string[]>, limit: number): BucketEntry[] {
  const entries: BucketEntry[] = [];
  flat.forEach((pairs, bucket) => {
    for (let i = 0; i + 1 < pairs.length; i += 2) entries.push({ bucket, member: pairs[i]!, score: asNumber(pairs[i + 1], 'sorted set score') });
  });
  entries.sort((a, b) => a.score - b.score || compareCodePoints(a.member, b.member));
  return entries.slice(0, limit);
}

/** Entries by bucket, in their order. */
export function byBucket(entries: readonly BucketEntry[]): Map<number, BucketEntry[]> {
  const grouped = new Map<number, BucketEntry[]>();
  for (const entry of entries) {
    const own = grouped.get(entry.bucket);
    if (own) own.push(entry);
    else grouped.set(entry.bucket, [entry]);
  }
  return grouped;
}
