/**
 * A fixed-bucket histogram that costs nothing but a few comparisons per observation: no label
 * hashing and no allocation (prom-client's `Histogram.observe` builds a closure and a label key
 * on every call). Used where observations come from hot paths: WebSocket pong round trips,
 * online-store and database calls. `registerHistogram` exposes a family of them in a
 * prom-client registry, read at scrape time.
 */
import type { Registry } from 'prom-client';
import { registerCustomMetric, type SampleValue } from './custom-metric.ts';

export class BucketHistogram {
  /** Upper bounds, ascending; an implicit +Inf bucket follows. */
  readonly bounds: readonly number[];
  /** Observations per bucket (not cumulative); the last slot is +Inf. */
  private readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(bounds: readonly number[]) {
    for (let i = 1; i < bounds.length; i++) {
      if (!(bounds[i]! > bounds[i - 1]!)) throw new Error('histogram bounds must be strictly ascending');
    }
    this.bounds = [...bounds];
    this.counts = new Float64Array(bounds.length + 1);
  }

  /** Counts one value in the first bucket whose bound is >= value (Prometheus `le`). */
  observe(value: number): void {
    const bounds = this.bounds;
    const n = bounds.length;
    let i = 0;
    while (i < n && value > bounds[i]!) i++;
    this.counts[i]!++;
    this.sum += value;
    this.count++;
  }

  /** Cumulative counts per bound, then +Inf (= count): what Prometheus `_bucket` lines carry. */
  cumulative(): number[] {
    const out: number[] = [];
    let running = 0;
    for (let i = 0; i < this.counts.length; i++) {
      running += this.counts[i]!;
      out.push(running);
    }
    return out;
  }

  reset(): void {
    this.counts.fill(0);
    this.sum = 0;
    this.count = 0;
  }
}

/** Histograms of one metric, one per value of a single label (e.g. `method`). */
export class LabeledHistograms {
  private readonly children = new Map<string, BucketHistogram>();

  constructor(
    readonly labelName: string,
    private readonly bounds: readonly number[],
  ) {}

  /** The histogram of one label value, created on first use (label values must be bounded). */
  child(value: string): BucketHistogram {
    let histogram = this.children.get(value);
    if (!histogram) {
      histogram = new BucketHistogram(this.bounds);
      this.children.set(value, histogram);
    }
    return histogram;
  }

  entries(): IterableIterator<[string, BucketHistogram]> {
    return this.children.entries();
  }

  reset(): void {
    for (const histogram of this.children.values()) histogram.reset();
  }
}

export interface HistogramFamily {
  name: string;
  help: string;
  /** The series at scrape time, each with its labels. */
  series: () => Iterable<[Record<string, string>, BucketHistogram]>;
  /** Runs before each read (e.g. to rebuild a snapshot histogram). */
  collect?: () => void;
}

/** Registers a histogram family in a prom-client registry, read at scrape time. */
export function registerHistogram(registry: Registry, family: HistogramFamily): void {
  const { name } = family;
  registerCustomMetric(registry, {
    name,
    help: family.help,
    type: 'histogram',
    samples() {
      family.collect?.();
      const values: SampleValue[] = [];
      for (const [labels, histogram] of family.series()) {
        const cumulative = histogram.cumulative();
        histogram.bounds.forEach((bound, i) => {
          values.push({ metricName: `${name}_bucket`, labels: { ...labels, le: String(bound) }, value: cumulative[i]! });
        });
        values.push({ metricName: `${name}_bucket`, labels: { ...labels, le: '+Inf' }, value: histogram.count });
        values.push({ metricName: `${name}_sum`, labels, value: histogram.sum });
        values.push({ metricName: `${name}_count`, labels, value: histogram.count });
      }
      return values;
    },
    reset() {
      for (const [, histogram] of family.series()) histogram.reset();
    },
  });
}
