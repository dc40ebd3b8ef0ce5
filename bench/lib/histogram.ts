/**
 * A small mergeable latency histogram (values in milliseconds). Buckets are 10 µs wide below
 * 1 ms, 50 µs below 10 ms, 500 µs below 100 ms and 5 ms above: percentiles are exact to a few
 * percent, and the JSON form (sparse bucket -> count) is cheap to send between processes.
 */
export interface HistogramJson {
  /** Bucket lower bound in µs -> count. */
  buckets: Record<string, number>;
  count: number;
  sumMs: number;
  maxMs: number;
  minMs: number;
}

function bucketOf(us: number): number {
  if (us < 1_000) return Math.floor(us / 10) * 10;
  if (us < 10_000) return Math.floor(us / 50) * 50;
  if (us < 100_000) return Math.floor(us / 500) * 500;
  return Math.floor(us / 5_000) * 5_000;
}

function widthOf(bucketUs: number): number {
  if (bucketUs < 1_000) return 10;
  if (bucketUs < 10_000) return 50;
  if (bucketUs < 100_000) return 500;
  return 5_000;
}

export class Histogram {
  private readonly buckets = new Map<number, number>();
  count = 0;
  sumMs = 0;
  maxMs = 0;
  minMs = Infinity;

  record(ms: number): void {
    if (!Number.isFinite(ms)) return;
    const v = Math.max(0, ms);
    const b = bucketOf(v * 1000);
    this.buckets.set(b, (this.buckets.get(b) ?? 0) + 1);
    this.count++;
    this.sumMs += v;
    if (v > this.maxMs) this.maxMs = v;
    if (v < this.minMs) this.minMs = v;
  }

  merge(other: HistogramJson): void {
    for (const [key, n] of Object.entries(other.buckets)) {
      const b = Number(key);
      this.buckets.set(b, (this.buckets.get(b) ?? 0) + n);
    }
    this.count += other.count;
    this.sumMs += other.sumMs;
    if (other.count > 0) {
      this.maxMs = Math.max(this.maxMs, other.maxMs);
      this.minMs = Math.min(this.minMs, other.minMs);
    }
  }

  /** The p-th percentile in ms (midpoint of its bucket, clamped to the observed range). */
  percentile(p: number): number | null {
    if (this.count === 0) return null;
    const rank = Math.max(1, Math.ceil((p / 100) * this.count));
    const keys = [...this.buckets.keys()].sort((a, b) => a - b);
    let seen = 0;
    for (const k of keys) {
      seen += this.buckets.get(k) ?? 0;
      if (seen >= rank) {
        const mid = (k + widthOf(k) / 2) / 1000;
        return Math.min(Math.max(mid, this.minMs), this.maxMs);
      }
    }
    return this.maxMs;
  }

  mean(): number | null {
    return this.count === 0 ? null : this.sumMs / this.count;
  }

  toJSON(): HistogramJson {
    const buckets: Record<string, number> = {};
    for (const [k, n] of this.buckets) buckets[String(k)] = n;
    return { buckets, count: this.count, sumMs: this.sumMs, maxMs: this.maxMs, minMs: this.count ? this.minMs : 0 };
  }

  static from(json: HistogramJson): Histogram {
    const h = new Histogram();
    h.merge(json);
    return h;
  }
}
