/**
 * Metrics and the dashboard's time series. Registered after the database and online-store
 * plugins and before the gateway: it replaces `app.onlineStore` and `app.players` with timed
 * proxies (src/metrics/instrument.ts), so every component built afterwards (gateway, logout
 * pipeline, cluster membership, routes) goes through them. The counters themselves are read
 * from the gateway at scrape time; nothing here runs per frame.
 */
import fp from 'fastify-plugin';
import { GatewayMetrics } from '../../metrics/metrics.ts';
import { instrument } from '../../metrics/instrument.ts';
import { StatsHistory } from '../../metrics/history.ts';
import { within } from '../../metrics/read-at-scrape.ts';
import type { BusCounters } from '../../metrics/cluster-metrics.ts';

declare module 'fastify' {
  interface FastifyInstance {
    metrics: GatewayMetrics;
    /** Connections and online players of the last hour, sampled every STATS_HISTORY_INTERVAL_MS. */
    statsHistory: StatsHistory;
  }
}

/** How long a history sample waits for the online store's count. */
const SAMPLE_TIMEOUT_MS = 2000;

export default fp(
  async (app) => {
    const { config } = app;
    const now = () => Date.now();
    // The gateway plugin registers after this one: read its decorations lazily.
    const has = <K extends 'gateway' | 'logoutPipeline' | 'cluster'>(key: K) => (app.hasDecorator(key) ? app[key] : undefined);
    const metrics = new GatewayMetrics({
      nodeId: config.NODE_ID,
      startedAt: now(),
      now,
      gateway: () => has('gateway'),
      logout: () => has('logoutPipeline'),
      cluster: () => has('cluster'),
      bus: () => app.bus as BusCounters,
      store: () => app.onlineStore,
    });
    app.onlineStore = instrument(app.onlineStore, metrics.observeStoreCall);
    app.players = instrument(app.players, metrics.observeDbCall);
    // The room directory lives in the online store too (Redis in a cluster): its calls are
    // online-store calls, named roomDirectory.<method>.
    if (app.hasDecorator('roomDirectory')) {
      app.roomDirectory = instrument(app.roomDirectory, (method, seconds, ok, args) =>
        metrics.observeStoreCall(`roomDirectory.${method}`, seconds, ok, args),
      );
    }
    // The cross-node route reads the online store too (one script on Redis): its calls are timed
    // as online-store calls named ownerPublisher.publishToOwners.
    app.ownerPublisher = instrument(app.ownerPublisher, (method, seconds, ok, args) =>
      metrics.observeStoreCall(`ownerPublisher.${method}`, seconds, ok, args),
    );
    app.decorate('metrics', metrics);

    const history = new StatsHistory({
      intervalMs: config.STATS_HISTORY_INTERVAL_MS,
      now,
      sample: async () => ({
        connections: has('gateway')?.connections.size ?? 0,
        onlineUsers: (await within(app.onlineStore.countOnline(), SAMPLE_TIMEOUT_MS)) ?? null,
      }),
    });
    app.decorate('statsHistory', history);
    app.addHook('onReady', async () => history.startSampling());
    app.addHook('onClose', async () => history.stopSampling());
  },
  { name: 'metrics', dependencies: ['config', 'database', 'online-store'] },
);
