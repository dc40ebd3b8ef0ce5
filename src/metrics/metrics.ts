/**
 * The metrics of one gateway app, in a registry of its own (several apps in one process, as in
 * the tests, never collide), merged with the process-wide Node.js metrics for the exposition.
 * Everything is read from the gateway's existing counters at scrape time except the few
 * histograms, which are fixed-bucket arrays fed without allocation.
 */
import { Registry } from 'prom-client';
import type { LogoutRecord } from '../presence/logout-outbox.ts';
import { registerClusterMetrics, type BusCounters, type ClusterView } from './cluster-metrics.ts';
import { registerGatewayMetrics, type GatewayView } from './gateway-metrics.ts';
import type { CallObserver } from './instrument.ts';
import { registerLogoutMetrics, type LogoutView } from './logout-metrics.ts';
import { registerNodeInfo } from './node-info.ts';
import { processMetricsRegistry } from './process-metrics.ts';
import { registerStorageMetrics } from './storage-metrics.ts';
import { registerOfflineQueueMetrics } from './offline-queue-metrics.ts';
import type { OfflineQueueStats } from '../delivery/offline-queue.ts';
import type { BucketHistogram } from './bucket-histogram.ts';
import type { PresenceStore } from '../presence/presence-store.ts';
import type { RedisClusterHealth } from '../stores/redis/cluster-health.ts';
import { registerRedisClusterMetrics } from './redis-cluster-metrics.ts';

/** Where the metrics read from; getters, because most sources exist only once the gateway started. */
export interface MetricSources {
  nodeId: string;
  startedAt: number;
  now: () => number;
  gateway: () => GatewayView | undefined;
  logout: () => LogoutView | undefined;
  cluster: () => ClusterView | undefined;
  bus: () => BusCounters | undefined;
  store: () => Pick<PresenceStore, 'countOnline'> | undefined;
  /** Cluster clock minus the local wall clock (ms). */
  clockOffsetMs?: () => number | undefined;
  /** The offline queue's counters (absent: no offline-queue metrics samples). */
  offlineQueue?: () => OfflineQueueStats | undefined;
  /** On a Redis Cluster: a probe of its shards (absent or undefined: no per-shard metrics). */
  redisCluster?: () => Promise<RedisClusterHealth | undefined> | undefined;
}

export class GatewayMetrics {
  /** This app's metrics and the process' Node.js metrics. */
  readonly registry: Registry;
  /** Round trips of the watchdog's WebSocket pings (seconds). */
  readonly pingRtt: BucketHistogram;
  /** Feed of the online stores' timing proxies (`instrument(store, ...)`, online-store plugin). */
  readonly observeStoreCall: CallObserver;
  /** Feed of `instrument(playerRepository, ...)`; also times logouts from session end to row written. */
  readonly observeDbCall: CallObserver;

  constructor(sources: MetricSources) {
    const own = new Registry();
    registerNodeInfo(own, sources.nodeId, sources.startedAt);
    this.pingRtt = registerGatewayMetrics(own, sources.gateway).pingRtt;
    const logouts = registerLogoutMetrics(own, sources.logout);
    registerClusterMetrics(own, {
      store: sources.store,
      bus: sources.bus,
      cluster: sources.cluster,
      now: sources.now,
      ...(sources.clockOffsetMs ? { clockOffsetMs: sources.clockOffsetMs } : {}),
    });
    registerOfflineQueueMetrics(own, () => sources.offlineQueue?.());
    if (sources.redisCluster) registerRedisClusterMetrics(own, sources.redisCluster);
    this.observeStoreCall = registerStorageMetrics(own, 'gatehouse_online_store', 'Online store');
    const observeDb = registerStorageMetrics(own, 'gatehouse_db', 'Database');
    this.observeDbCall = (method, seconds, ok, args) => {
      observeDb(method, seconds, ok, args);
      if (ok && method === 'recordLogouts' && Array.isArray(args[0])) logouts.observeWritten(args[0] as LogoutRecord[], sources.now());
    };
    this.registry = Registry.merge([own, processMetricsRegistry()]);
  }

  /** `text/plain; version=0.0.4; charset=utf-8` */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** The Prometheus text exposition. */
  render(): Promise<string> {
    return this.registry.metrics();
  }
}
