/**
 * The state of a Redis Cluster as this node sees it, for the readiness probe and the metrics:
 * whether the cluster serves every slot (CLUSTER INFO), and per primary whether it answers and
 * how many of the deployment's buckets (buckets.ts) it holds, so a dashboard shows a shard that
 * is down and how the load is spread.
 */
import calculateSlot from 'cluster-key-slot';
import type { Cluster } from 'ioredis';
import { withTimeout } from '../../util/promise-timeout.ts';
import type { BucketLayout } from './buckets.ts';

export interface ShardHealth {
  /** `host:port` of the primary. */
  primary: string;
  /** It answered PING within the timeout. */
  up: boolean;
  /** Buckets of the layout whose slot it serves. */
  buckets: number;
}

export interface RedisClusterHealth {
  /** `ok` when the cluster reports cluster_state:ok and every primary answers. */
  state: 'ok' | 'fail';
  /** CLUSTER INFO's cluster_slots_ok (16384 when every slot is served), 0 when nobody answered. */
  slotsOk: number;
  shards: ShardHealth[];
}

/** Asks every primary the client knows (in parallel, each within `timeoutMs`). */
export async function redisClusterHealth(cluster: Cluster, layout: BucketLayout, timeoutMs: number): Promise<RedisClusterHealth> {
  const primaries = cluster.nodes('master');
  const bucketsOf = new Map<string, number>();
  for (const b of layout.all()) {
    // Every key of the bucket hashes to its tag's slot (`{<tag>}:`; a cluster has 2 buckets or more).
    const owner = cluster.slots[calculateSlot(layout.tagPart(b))]?.[0];
    if (owner) bucketsOf.set(owner, (bucketsOf.get(owner) ?? 0) + 1);
  }
  let info = '';
  const shards = await Promise.all(
    primaries.map(async (node): Promise<ShardHealth> => {
      const primary = `${node.options.host}:${node.options.port}`;
      try {
        await withTimeout(node.ping(), timeoutMs);
        if (!info) info = String(await withTimeout(node.cluster('INFO'), timeoutMs));
        return { primary, up: true, buckets: bucketsOf.get(primary) ?? 0 };
      } catch {
        return { primary, up: false, buckets: bucketsOf.get(primary) ?? 0 };
      }
    }),
  );
  const slotsOk = Number(/cluster_slots_ok:(\d+)/.exec(info)?.[1] ?? 0);
  const ok = /cluster_state:ok/.test(info) && shards.length > 0 && shards.every((shard) => shard.up);
  return { state: ok ? 'ok' : 'fail', slotsOk, shards: shards.sort((a, b) => a.primary.localeCompare(b.primary)) };
}
