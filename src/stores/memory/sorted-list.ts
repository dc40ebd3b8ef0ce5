/**
 * A sorted set of values kept in small sorted buckets (the layout of Python's SortedList):
 * insert, delete and "first value after x" cost O(log n + bucket size), and a page walks only
 * the values it returns. The memory online store uses it where Redis uses a sorted set, so
 * `listOnline` and `claimPendingLogouts` never sort the whole population per call, and counting
 * a range (ZLEXCOUNT on Redis) never walks its values.
 */

/** Negative when a < b, 0 when equal, positive when a > b. */
export type Compare<T> = (a: T, b: T) => number;

/** Buckets split above twice this size; small enough that a splice is a short memmove. */
const LOAD = 512;

export class SortedList<T> {
  private buckets: T[][] = [];
  private count = 0;

  constructor(private readonly compare: Compare<T>) {}

  get size(): number {
    return this.count;
  }

  /** Adds the value; false (and no change) when an equal value is already present. */
  insert(value: T): boolean {
    if (this.buckets.length === 0) {
      this.buckets.push([value]);
      this.count = 1;
      return true;
    }
    // The first bucket whose last value is >= value, or the last bucket when value is largest.
    const b = Math.min(this.bucketFor(value), this.buckets.length - 1);
    const bucket = this.buckets[b]!;
    const i = this.lowerBound(bucket, value);
    if (i < bucket.length && this.compare(bucket[i]!, value) === 0) return false;
    bucket.splice(i, 0, value);
    this.count += 1;
    if (bucket.length > 2 * LOAD) this.buckets.splice(b + 1, 0, bucket.splice(LOAD));
    return true;
  }

  /** Removes the value equal to `value`; false when absent. */
  delete(value: T): boolean {
    const b = this.bucketFor(value);
    const bucket = this.buckets[b];
    if (!bucket) return false;
    const i = this.lowerBound(bucket, value);
    if (i >= bucket.length || this.compare(bucket[i]!, value) !== 0) return false;
    bucket.splice(i, 1);
    this.count -= 1;
    if (bucket.length === 0) this.buckets.splice(b, 1);
    return true;
  }

  has(value: T): boolean {
    const bucket = this.buckets[this.bucketFor(value)];
    if (!bucket) return false;
    const i = this.lowerBound(bucket, value);
    return i < bucket.length && this.compare(bucket[i]!, value) === 0;
  }

  /**
   * Values in order, starting strictly after `after` (or at the first value when undefined).
   * The list must not be modified while the iterator is in use.
   */
  valuesAfter(after?: T): Generator<T> {
    return after === undefined ? this.walk(0, 0) : this.walkFrom(after, true);
  }

  /** Values in order, starting at `from` itself when present. Same rule as `valuesAfter`. */
  valuesFrom(from: T): Generator<T> {
    return this.walkFrom(from, false);
  }

  /**
   * How many values v satisfy `from` <= v < `to`. Sums bucket sizes instead of walking values,
   * so counting a range of any size costs O(buckets + log n).
   */
  countBetween(from: T, to: T): number {
    return Math.max(0, this.rank(to) - this.rank(from));
  }

  /** Number of values < value. */
  private rank(value: T): number {
    const b = this.bucketFor(value);
    let before = 0;
    for (let i = 0; i < b; i++) before += this.buckets[i]!.length;
    const bucket = this.buckets[b];
    return bucket ? before + this.lowerBound(bucket, value) : before;
  }

  private walkFrom(value: T, strictlyAfter: boolean): Generator<T> {
    const b = this.bucketFor(value);
    const bucket = this.buckets[b];
    if (!bucket) return this.walk(b, 0);
    return this.walk(b, strictlyAfter ? this.upperBound(bucket, value) : this.lowerBound(bucket, value));
  }

  private *walk(b: number, i: number): Generator<T> {
    for (; b < this.buckets.length; b++, i = 0) {
      const bucket = this.buckets[b]!;
      for (; i < bucket.length; i++) yield bucket[i]!;
    }
  }

  /** Index of the first bucket whose last value is >= value (buckets.length if none). */
  private bucketFor(value: T): number {
    let lo = 0;
    let hi = this.buckets.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const bucket = this.buckets[mid]!;
      if (this.compare(bucket[bucket.length - 1]!, value) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** First index whose value is >= value. */
  private lowerBound(bucket: readonly T[], value: T): number {
    let lo = 0;
    let hi = bucket.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.compare(bucket[mid]!, value) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** First index whose value is > value. */
  private upperBound(bucket: readonly T[], value: T): number {
    let lo = 0;
    let hi = bucket.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.compare(bucket[mid]!, value) <= 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
