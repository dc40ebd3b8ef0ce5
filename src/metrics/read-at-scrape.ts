/**
 * prom-client counters and gauges whose value is read from the gateway's own plain counters
 * when Prometheus scrapes (`collect`), instead of being incremented on the hot path. A frame
 * costs the gateway one `++` on a field; the metric pays a read per scrape.
 */
import { Counter, type Registry } from 'prom-client';
import { registerCustomMetric } from './custom-metric.ts';

/** Reads a number; undefined when its source does not exist (yet). */
export type Read = () => number | undefined;
/** Reads label value -> number pairs (e.g. a Map of counts by close code). */
export type ReadLabeled = () => Iterable<readonly [string | number, number]> | undefined;

/** A monotonic count kept elsewhere, exposed as a Prometheus counter. */
export function counterFrom(registry: Registry, name: string, help: string, read: Read): void {
  new Counter({
    name,
    help,
    registers: [registry],
    collect() {
      this.reset();
      const value = read();
      if (value !== undefined && value > 0) this.inc(value);
    },
  });
}

/** Monotonic counts per label value, exposed as a Prometheus counter with one label. */
export function labeledCounterFrom(registry: Registry, name: string, help: string, label: string, read: ReadLabeled): void {
  new Counter({
    name,
    help,
    labelNames: [label],
    registers: [registry],
    collect() {
      this.reset();
      for (const [key, value] of read() ?? []) {
        if (value > 0) this.inc({ [label]: String(key) }, value);
      }
    },
  });
}

/** A current value, exposed as a Prometheus gauge; no sample while it cannot be read. */
export function gaugeFrom(registry: Registry, name: string, help: string, read: () => number | undefined | Promise<number | undefined>): void {
  registerCustomMetric(registry, {
    name,
    help,
    type: 'gauge',
    async samples() {
      const value = await read();
      return value === undefined || Number.isNaN(value) ? [] : [{ value, labels: {} }];
    },
  });
}

/** Resolves to the promise's value, or undefined when it rejects or takes longer than `ms`. */
export { within } from '../util/promise-timeout.ts';
