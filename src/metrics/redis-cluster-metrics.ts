/**
 * Per-shard metrics of a Redis Cluster (REDIS_CLUSTER_NODES): whether each primary answers, how
 * many of the deployment's buckets it serves (the spread of the load), and how many slots the
 * cluster serves. One probe per scrape (cluster-health.ts), shared by the three gauges.
 */
import { Gauge, type Registry } from 'prom-client';
import type { RedisClusterHealth } from '../stores/redis/cluster-health.ts';

export function registerRedisClusterMetrics(registry: Registry, probe: () => Promise<RedisClusterHealth | undefined> | undefined): void {
  // The collects of one scrape start in the same turn: they share the probe in flight.
  let inflight: Promise<RedisClusterHealth | undefined> | undefined;
  const health = (): Promise<RedisClusterHealth | undefined> => {
    if (inflight) return inflight;
    const started = probe()?.catch(() => undefined) ?? Promise.resolve(undefined);
    inflight = started;
    void started.finally(() => {
      if (inflight === started) inflight = undefined;
    });
    return started;
  };
  new Gauge({
    name: 'gatehouse_redis_cluster_primary_up',
    help: 'Per primary of the Redis Cluster: 1 when it answered PING during this scrape, 0 otherwise',
    labelNames: ['primary'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const shard of (await health())?.shards ?? []) this.set({ primary: shard.primary }, shard.up ? 1 : 0);
    },
  });
  new Gauge({
    name: 'gatehouse_redis_cluster_primary_buckets',
    help: 'Per primary of the Redis Cluster: buckets of the deployment (REDIS_BUCKETS) whose slot it serves; players, rooms and queues spread with them',
    labelNames: ['primary'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const shard of (await health())?.shards ?? []) this.set({ primary: shard.primary }, shard.buckets);
    },
  });
  new Gauge({
    name: 'gatehouse_redis_cluster_slots_ok',
    help: 'Slots the Redis Cluster serves (CLUSTER INFO cluster_slots_ok; 16384 when all); 0 when no primary answered',
    registers: [registry],
    async collect() {
      this.set((await health())?.slotsOk ?? 0);
    },
  });
}
