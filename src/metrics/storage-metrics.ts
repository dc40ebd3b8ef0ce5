/**
 * Latency and errors of the calls the gateway makes to its stores: the online store (Redis or
 * in-process) and the database (player repository), per method. Fed by `instrument` (a Proxy
 * around each store), so no store implementation knows about metrics.
 */
import type { Registry } from 'prom-client';
import { LabeledHistograms, registerHistogram } from './bucket-histogram.ts';
import type { CallObserver } from './instrument.ts';
import { labeledCounterFrom } from './read-at-scrape.ts';

/** Seconds: Redis answers in a fraction of a millisecond, a Lua script over many keys or a database batch in more. */
export const COMMAND_DURATION_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/** Registers `<prefix>_command_duration_seconds{method}` and `<prefix>_command_errors_total{method}`. */
export function registerStorageMetrics(registry: Registry, prefix: string, what: string): CallObserver {
  const durations = new LabeledHistograms('method', COMMAND_DURATION_BUCKETS);
  const errors = new Map<string, number>();
  registerHistogram(registry, {
    name: `${prefix}_command_duration_seconds`,
    help: `Duration of ${what} calls by method, until their promise settled (successes and failures)`,
    series: function* () {
      for (const [method, histogram] of durations.entries()) yield [{ method }, histogram];
    },
  });
  labeledCounterFrom(registry, `${prefix}_command_errors_total`, `${what} calls that failed, by method`, 'method', () => errors);
  return (method, seconds, ok) => {
    durations.child(method).observe(seconds);
    if (!ok) errors.set(method, (errors.get(method) ?? 0) + 1);
  };
}
