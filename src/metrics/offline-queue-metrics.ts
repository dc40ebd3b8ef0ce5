/**
 * Metrics of the offline queue: the bytes all queues of the cluster hold (as this node last saw
 * the total: at its last push or sweep round), and the messages for offline users that were not
 * queued, by reason (a quota, an unknown recipient, the sender's lookup budget).
 */
import type { Registry } from 'prom-client';
import { OFFLINE_REFUSAL_REASONS, type OfflineQueueStats } from '../delivery/offline-queue.ts';
import { gaugeFrom, labeledCounterFrom } from './read-at-scrape.ts';

export function registerOfflineQueueMetrics(registry: Registry, stats: () => OfflineQueueStats | undefined): void {
  gaugeFrom(
    registry,
    'gatehouse_offline_queue_bytes',
    "Bytes held by all offline queues of the cluster (OFFLINE_QUEUE_TOTAL_MAX_BYTES caps players' messages), as last seen by this node",
    () => stats()?.totalBytes,
  );
  labeledCounterFrom(
    registry,
    'gatehouse_offline_queue_refused_total',
    'Messages for offline users not queued, by reason: recipient / sender / cluster (a quota was full), unknown_user (never logged in), lookups (the sender looked up too many unknown ids)',
    'reason',
    () => {
      const s = stats();
      return s && OFFLINE_REFUSAL_REASONS.map((reason, i) => [reason, s.refused[i] ?? 0] as const);
    },
  );
}
