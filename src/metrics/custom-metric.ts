/**
 * Registers a metric family whose samples are computed at scrape time by a function. prom-client
 * renders any registered object with `name`, `help`, `type` and an async `get()` returning
 * `{values}` (its own metric classes are such objects). Used for the fixed-bucket histograms and
 * for gauges that have no value when their source cannot be read: such a gauge emits no sample
 * (Prometheus sees the series as absent) rather than a made-up 0 or a NaN.
 */
import type { Metric, Registry } from 'prom-client';

export interface SampleValue {
  value: number;
  labels: Record<string, string | number>;
  /** Sample name when it differs from the family (histogram `_bucket`, `_sum`, `_count`). */
  metricName?: string;
}

export interface CustomMetric {
  name: string;
  help: string;
  type: 'gauge' | 'counter' | 'histogram';
  samples: () => SampleValue[] | Promise<SampleValue[]>;
  reset?: () => void;
}

export function registerCustomMetric(registry: Registry, metric: CustomMetric): void {
  const { name, help, type } = metric;
  const aggregator = type === 'gauge' ? 'omit' : 'sum';
  registry.registerMetric({
    name,
    help,
    type,
    aggregator,
    async get() {
      return { name, help, type, aggregator, values: await metric.samples() };
    },
    reset() {
      metric.reset?.();
    },
  } as unknown as Metric);
}
