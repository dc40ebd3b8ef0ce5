/**
 * Metrics and the dashboard's time series. Registered first (after config): the database and
 * online-store plugins wrap what they create with `app.metrics`' timing observers
 * (src/metrics/instrument.ts), so every component built afterwards (gateway, logout pipeline,
 * cluster membership, routes) goes through the timed objects and nothing is ever swapped. The
 * counters themselves are read from the gateway and the stores at scrape time; nothing here
 * runs per frame.
 */
import fp from 'fastify-plugin';
import { GatewayMetrics } from '../../metrics/metrics.ts';
import { StatsHistory } from '../../metrics/history.ts';
import { within } from '../../metrics/read-at-scrape.ts';
import type { BusCounters } from '../../metrics/cluster-metrics.ts';
import { Cluster } from 'ioredis';
import { BucketLayout } from '../../stores/redis/buckets.ts';
import { redisClusterHealth } from '../../stores/redis/cluster-health.ts';

declare module 'fastify' {
  interface FastifyInstance {
    metrics: GatewayMetrics;
    /** Connections and online players of the last hour, sampled every STATS_HISTORY_INTERVAL_MS. */
    statsHistory: StatsHistory;
  }
}

/** How long a history sample waits for the online store's count. */
const SAMPLE_TIMEOUT_MS = 2000;
/** How long a scrape waits for each primary of a Redis Cluster. */
const CLUSTER_PROBE_TIMEOUT_MS = 1000;

export default fp(
  async (app) => {
    const { config } = app;
    // Every other plugin registers after this one: read their decorations lazily.
    const has = <K extends 'gateway' | 'logoutPipeline' | 'cluster' | 'presence' | 'bus' | 'clusterClock' | 'offlineQueue'>(key: K) =>
      app.hasDecorator(key) ? app[key] : undefined;
    // The cluster clock once the online store made it (lease ages are on it), the local one before.
    const now = () => has('clusterClock')?.now() ?? Date.now();
    const layout = new BucketLayout(config.REDIS_BUCKETS);
    const metrics = new GatewayMetrics({
      nodeId: config.NODE_ID,
      startedAt: now(),
      now,
      gateway: () => has('gateway'),
      logout: () => has('logoutPipeline'),
      cluster: () => has('cluster'),
      bus: () => has('bus') as BusCounters | undefined,
      store: () => has('presence'),
      clockOffsetMs: () => has('clusterClock')?.offsetMs(),
      offlineQueue: () => has('offlineQueue')?.stats,
      redisCluster: () => {
        const redis = app.hasDecorator('redis') ? app.redis : undefined;
        return redis instanceof Cluster ? redisClusterHealth(redis, layout, CLUSTER_PROBE_TIMEOUT_MS) : undefined;
      },
    });
    app.decorate('metrics', metrics);

    const history = new StatsHistory({
      intervalMs: config.STATS_HISTORY_INTERVAL_MS,
      now,
      sample: async () => ({
        connections: has('gateway')?.connections.size ?? 0,
        onlineUsers: (await within(app.presence.countOnline(), SAMPLE_TIMEOUT_MS)) ?? null,
      }),
    });
    app.decorate('statsHistory', history);
    app.addHook('onReady', async () => history.startSampling());
    app.addHook('onClose', async () => history.stopSampling());
  },
  { name: 'metrics', dependencies: ['config'] },
);
