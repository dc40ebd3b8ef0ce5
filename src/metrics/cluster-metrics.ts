/**
 * Metrics of this node's place in the cluster: players online cluster-wide (online store),
 * node-to-node bus traffic, the age of this node's lease and the players it reaped from dead
 * nodes. Bus counters exist on both buses (`MemoryBus`, `RedisBus`) but not on the `Bus`
 * interface, so they are read when present.
 */
import { Gauge, type Registry } from 'prom-client';
import type { ClusterMembership } from '../cluster/cluster-membership.ts';
import type { PresenceStore } from '../presence/presence-store.ts';
import { counterFrom, gaugeFrom, labeledCounterFrom, within } from './read-at-scrape.ts';

export type ClusterView = Pick<ClusterMembership, 'lastRenewal' | 'reaped' | 'lapses' | 'rewinds'>;
export interface BusCounters {
  published?: number;
  received?: number;
  malformed?: number;
}

/** How long a scrape waits for the online store's count. */
const STORE_TIMEOUT_MS = 1000;

export interface ClusterSources {
  store: () => Pick<PresenceStore, 'countOnline'> | undefined;
  bus: () => BusCounters | undefined;
  cluster: () => ClusterView | undefined;
  now: () => number;
  /** Cluster clock minus the local wall clock (ms); undefined before the clock exists. */
  clockOffsetMs?: () => number | undefined;
}

export function registerClusterMetrics(registry: Registry, sources: ClusterSources): void {
  // Both gauges below read the same count: the collects of one scrape all start in the same
  // turn of the event loop, so they share the call in flight; the next scrape asks again.
  let inflight: Promise<number | undefined> | undefined;
  const countOnline = (): Promise<number | undefined> => {
    if (inflight) return inflight;
    const store = sources.store();
    if (!store) return Promise.resolve(undefined);
    const count = within(store.countOnline(), STORE_TIMEOUT_MS);
    inflight = count;
    void count.finally(() => {
      if (inflight === count) inflight = undefined;
    });
    return count;
  };
  gaugeFrom(
    registry,
    'gatehouse_online_users',
    'Players online in the whole cluster (online store); absent when the store does not answer within 1 s',
    countOnline,
  );
  new Gauge({
    name: 'gatehouse_online_store_up',
    help: "1 when the online store answered this scrape's count of online players within 1 s, 0 otherwise",
    registers: [registry],
    async collect() {
      this.set((await countOnline()) === undefined ? 0 : 1);
    },
  });
  labeledCounterFrom(registry, 'gatehouse_bus_messages_total', 'Node-to-node bus messages, by direction (out = published, in = received)', 'direction', () => {
    const bus = sources.bus();
    return bus
      ? [
          ['out', bus.published ?? 0],
          ['in', bus.received ?? 0],
        ]
      : undefined;
  });
  counterFrom(registry, 'gatehouse_bus_malformed_messages_total', 'Bus envelopes that could not be decoded and were ignored', () => sources.bus()?.malformed);
  gaugeFrom(registry, 'gatehouse_node_lease_age_seconds', 'Seconds since this node last renewed its lease in the online store', () => {
    const cluster = sources.cluster();
    if (!cluster || cluster.lastRenewal === 0) return undefined;
    return Math.max(0, sources.now() - cluster.lastRenewal) / 1000;
  });
  gaugeFrom(
    registry,
    'gatehouse_clock_offset_seconds',
    "Cluster clock (Redis server time) minus this host's wall clock; 0 without Redis. Leases, locks and logout stamps use the cluster clock: a large value is this host's NTP problem, not the gateway's",
    () => {
      const offset = sources.clockOffsetMs?.();
      return offset === undefined ? undefined : offset / 1000;
    },
  );
  counterFrom(registry, 'gatehouse_reaped_players_total', 'Players of dead nodes logged out (node_lost) by this node', () => sources.cluster()?.reaped);
  counterFrom(
    registry,
    'gatehouse_node_lease_lapses_total',
    "Lapses of this node's own lease (a failed or late renewal, or a lease found taken): while one lasts, the node judges no other node",
    () => sources.cluster()?.lapses,
  );
  counterFrom(
    registry,
    'gatehouse_online_store_rewinds_total',
    "Times the online store was found without this node's newest lease (Redis restored from an older snapshot, or a promoted replica that missed writes): reaping then waits until every node renewed",
    () => sources.cluster()?.rewinds,
  );
}
