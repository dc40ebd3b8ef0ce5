/**
 * One command per bucket, sent as one pipeline per primary: a node's routine work that spans
 * every bucket (renewing its lease copies, listing leases, looking for due logouts and graces,
 * counting) costs Redis a request per shard instead of a request per bucket. With 64 buckets
 * and a request each, an idle node cost a Redis Cluster ~500 requests a second; Redis's cost
 * is mostly per request (reading, parsing, replying), not per command. A Redis Cluster pipeline
 * may only hold keys served by one node, so the buckets are grouped by the primary of their
 * slot as the client last saw the slot map (ioredis follows a MOVED for a whole pipeline). On a
 * single Redis it is one pipeline.
 */
import calculateSlot from 'cluster-key-slot';
import { Cluster, type ChainableCommander } from 'ioredis';
import type { RedisKeys } from './keys.ts';
import type { RedisClient } from './scripts.ts';

/** Adds bucket `b`'s one command to `pipeline`. */
export type BucketCommand = (pipeline: ChainableCommander, b: number) => void;

/** The replies, in the order of `buckets`; rejects with the first error. */
export async function perBucket<T = unknown>(redis: RedisClient, keys: RedisKeys, buckets: readonly number[], add: BucketCommand): Promise<T[]> {
  const groups = new Map<string, number[]>();
  buckets.forEach((b, i) => {
    const owner = redis instanceof Cluster ? (redis.slots[calculateSlot(keys.buckets.tagPart(b))]?.[0] ?? '') : '';
    const group = groups.get(owner);
    if (group) group.push(i);
    else groups.set(owner, [i]);
  });
  const replies = new Array<T>(buckets.length);
  await Promise.all(
    [...groups.values()].map(async (indexes) => {
      const pipeline = redis.pipeline();
      for (const i of indexes) add(pipeline, buckets[i]!);
      const results = (await pipeline.exec()) ?? [];
      indexes.forEach((i, j) => {
        const [error, value] = results[j] ?? [new Error('no reply in the pipeline'), null];
        if (error) throw error;
        replies[i] = value as T;
      });
    }),
  );
  return replies;
}
