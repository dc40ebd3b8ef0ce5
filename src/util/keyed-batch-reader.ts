/**
 * Reads many keys in one go: the callers of one moment (the logins of a reconnect storm:
 * thousands) wait together while a read is in flight, then go in the next one, at most
 * `maxKeys` a read, so the database sees a few statements, not one per caller. Callers asking
 * for the same key share its answer.
 */
/** Keys per read unless told otherwise: the logins of a storm, 500 users per statement. */
export const KEYS_PER_READ = 500;

interface Waiting<T> {
  resolve: (value: T) => void;
  reject: (error: Error) => void;
}

export class KeyedBatchReader<T> {
  private waiting = new Map<string, Waiting<T>[]>();
  private reading = false;

  constructor(
    /** The answers for `keys` (a key missing from the map gets `fallback`). */
    private readonly readMany: (keys: string[]) => Promise<Map<string, T>>,
    private readonly fallback: T,
    private readonly maxKeys: number = KEYS_PER_READ,
  ) {}

  read(key: string): Promise<T> {
    return new Promise((resolve, reject) => {
      let waiting = this.waiting.get(key);
      if (!waiting) this.waiting.set(key, (waiting = []));
      waiting.push({ resolve, reject });
      if (!this.reading) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.reading = true;
    try {
      while (this.waiting.size > 0) {
        const batch = [...this.waiting].slice(0, this.maxKeys);
        for (const [key] of batch) this.waiting.delete(key);
        try {
          const answers = await this.readMany(batch.map(([key]) => key));
          for (const [key, waiting] of batch) {
            const answer = answers.get(key) ?? this.fallback;
            for (const { resolve } of waiting) resolve(answer);
          }
        } catch (error) {
          for (const [, waiting] of batch) for (const { reject } of waiting) reject(error as Error);
        }
      }
    } finally {
      this.reading = false;
    }
  }
}
