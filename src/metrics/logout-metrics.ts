/**
 * Metrics of the logout pipeline: logouts by reason, logouts not yet in the database, rows
 * written, and the latency from the end of a logical session (`LogoutRecord.logoutAt`) to its
 * database write. The latency is observed by the instrumented repository when a
 * `recordLogouts` call succeeds, so it covers the batch writer and the direct writes alike.
 */
import type { Registry } from 'prom-client';
import type { LogoutPipeline } from '../presence/logout-pipeline.ts';
import type { LogoutRecord } from '../presence/logout-outbox.ts';
import { BucketHistogram, registerHistogram } from './bucket-histogram.ts';
import { counterFrom, gaugeFrom, labeledCounterFrom, within } from './read-at-scrape.ts';

export type LogoutView = Pick<LogoutPipeline, 'logoutsByReason' | 'written' | 'pendingCount'>;

/** Seconds: a healthy writer lands a logout within milliseconds; an outage holds it for minutes. */
export const LOGOUT_LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900];

/** How long a scrape waits for the pending-logout count (an online-store call). */
const PENDING_TIMEOUT_MS = 1000;

export interface LogoutMetrics {
  /** A `recordLogouts` batch was written at `writtenAt` (ms since the epoch). */
  observeWritten(records: readonly LogoutRecord[], writtenAt: number): void;
}

export function registerLogoutMetrics(registry: Registry, pipeline: () => LogoutView | undefined): LogoutMetrics {
  labeledCounterFrom(
    registry,
    'gatehouse_logouts_total',
    'Logouts performed by this node, by reason (closed, timeout, logout, kicked, slow, error, shutdown, node_lost)',
    'reason',
    () => pipeline()?.logoutsByReason,
  );
  counterFrom(registry, 'gatehouse_logouts_written_total', 'Logouts written to the database by this node', () => pipeline()?.written);
  gaugeFrom(
    registry,
    'gatehouse_logouts_pending',
    'Logouts not yet written to the database (cluster-wide queue in the online store) plus session ends waiting for the store; absent when the store does not answer within 1 s',
    async () => {
      const view = pipeline();
      return view ? within(view.pendingCount(), PENDING_TIMEOUT_MS) : undefined;
    },
  );
  const latency = new BucketHistogram(LOGOUT_LATENCY_BUCKETS);
  registerHistogram(registry, {
    name: 'gatehouse_logout_latency_seconds',
    help: 'From the end of a logical session to its logout row written in the database',
    series: () => [[{}, latency]],
  });
  return {
    observeWritten(records, writtenAt) {
      for (const record of records) latency.observe(Math.max(0, writtenAt - record.logoutAt) / 1000);
    },
  };
}
