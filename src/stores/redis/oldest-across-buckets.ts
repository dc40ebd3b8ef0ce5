/**
 * The oldest entries of a sorted set that every bucket has a copy of (the logout outbox, the
 * grace periods): each bucket's own oldest, read with ZRANGEBYSCORE ... WITHSCORES, merged so
 * that the whole answers as one sorted set would: by score, equal scores by member.
 */
import { compareCodePoints } from '../../presence/code-point-order.ts';
import { asNumber } from './redis-online-codec.ts';
import { perBucket } from './bucket-pipelines.ts';
import type { RedisKeys } from './keys.ts';
import type { RedisClient } from './scripts.ts';
import { groupBy } from '../../util/group-by.ts';

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

/**
 * The `limit` oldest entries due by `now` (score <= now) of the sorted set `keyOf(b)` that every
 * bucket has: each bucket's own `limit` oldest, read in one pipeline per primary, merged.
 */
export async function oldestDue(redis: RedisClient, keys: RedisKeys, keyOf: (b: number) => string, now: number, limit: number): Promise<BucketEntry[]> {
  const due = await perBucket<string[]>(redis, keys, keys.buckets.all(), (p, b) =>
    p.zrangebyscore(keyOf(b), '-inf', String(now), 'WITHSCORES', 'LIMIT', 0, limit),
  );
  return oldestAcrossBuckets(due, limit);
}

/**
 * Runs `work` for each bucket holding some of `chosen` (all at once, each with its members in
 * order) and returns everything they produced in the order of `chosen`, by each item's member
 * (`memberOf`; one not among them goes last): the due entries are handled per bucket, answered
 * as one queue would.
 */
export async function inDueOrder<T>(
  chosen: readonly BucketEntry[],
  work: (b: number, members: string[]) => Promise<T[]>,
  memberOf: (item: T) => string,
): Promise<T[]> {
  const order = new Map(chosen.map((entry, i) => [entry.member, i]));
  const done = await Promise.all(
    [...groupBy(chosen, (entry) => entry.bucket)].map(([b, entries]) =>
      work(
        b,
        entries.map((entry) => entry.member),
      ),
    ),
  );
  const rank = (item: T) => order.get(memberOf(item)) ?? chosen.length;
  return done.flat().sort((a, b) => rank(a) - rank(b));
}
