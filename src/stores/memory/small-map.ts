/**
 * A string-keyed map for the memory store's per-user fields (`n:<nodeId>` counts, `c:<nodeId>`
 * connection ids), where nearly every user has exactly one entry: that entry lives in two fields
 * of this object, and a real Map appears only with the second key. Two Maps per online user cost
 * about 500 bytes (the Map objects and their hash tables); this costs a few dozen. Iteration
 * order is unspecified (the callers turn it into objects, or look for a maximum).
 */
export class SmallMap<V> {
  private key: string | undefined;
  private value: V | undefined;
  private more: Map<string, V> | undefined;

  static of<V>(key: string, value: V): SmallMap<V> {
    const map = new SmallMap<V>();
    map.set(key, value);
    return map;
  }

  get(key: string): V | undefined {
    return key === this.key ? this.value : this.more?.get(key);
  }

  set(key: string, value: V): this {
    if (key === this.key || (this.key === undefined && !this.more?.has(key))) {
      this.key = key;
      this.value = value;
    } else {
      (this.more ??= new Map()).set(key, value);
    }
    return this;
  }

  delete(key: string): boolean {
    if (key === this.key) {
      this.key = undefined;
      this.value = undefined;
      return true;
    }
    const deleted = this.more?.delete(key) ?? false;
    if (this.more?.size === 0) this.more = undefined;
    return deleted;
  }

  *keys(): Generator<string> {
    for (const [key] of this) yield key;
  }

  *[Symbol.iterator](): Generator<[string, V]> {
    if (this.key !== undefined) yield [this.key, this.value as V];
    if (this.more) yield* this.more;
  }
}
