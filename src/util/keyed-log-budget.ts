/**
 * A log budget per key (a client address): at most one line per key per window, the next line
 * telling how many were suppressed meanwhile. Bounded whatever the number of keys: at most
 * `maxKeys` are remembered (least recently logged evicted first), and all keys together get at
 * most `linesPerWindow` lines per window, so an attacker rotating through addresses (an IPv6
 * /64 has plenty) cannot flood the log either. What the global budget and evictions suppress is
 * counted too and reported on the next line that passes (`othersSuppressed`).
 */
export interface LogBudgetSettings {
  windowMs: number;
  maxKeys: number;
  linesPerWindow: number;
  now: () => number;
}

/** A line may be written: with the counts of what was suppressed since the last one. */
export interface LogPass {
  /** This key's lines suppressed since its last line. */
  suppressed: number;
  /** Lines of any key suppressed by the global budget or forgotten with evicted keys. */
  othersSuppressed: number;
}

interface KeyState {
  windowStart: number;
  suppressed: number;
}

export class KeyedLogBudget {
  private readonly keys = new Map<string, KeyState>();
  private globalWindowStart = Number.NEGATIVE_INFINITY;
  private globalLines = 0;
  private othersSuppressed = 0;

  constructor(private readonly settings: LogBudgetSettings) {}

  /** A pass when a line about `key` may be written now; null when it must be suppressed. */
  take(key: string): LogPass | null {
    const { windowMs, maxKeys, linesPerWindow } = this.settings;
    const now = this.settings.now();
    const state = this.keys.get(key);
    if (state && now - state.windowStart < windowMs) {
      state.suppressed++;
      return null;
    }
    if (now - this.globalWindowStart >= windowMs) {
      this.globalWindowStart = now;
      this.globalLines = 0;
    }
    if (this.globalLines >= linesPerWindow) {
      if (state) state.suppressed++;
      else this.othersSuppressed++;
      return null;
    }
    this.globalLines++;
    const pass: LogPass = { suppressed: state?.suppressed ?? 0, othersSuppressed: this.othersSuppressed };
    this.othersSuppressed = 0;
    // Re-inserted: the Map's order is the order of last lines, oldest first.
    this.keys.delete(key);
    this.keys.set(key, { windowStart: now, suppressed: 0 });
    if (this.keys.size > maxKeys) {
      const [oldestKey, oldest] = this.keys.entries().next().value as [string, KeyState];
      this.othersSuppressed += oldest.suppressed;
      this.keys.delete(oldestKey);
    }
    return pass;
  }

  /** Keys remembered (for tests: bounded by maxKeys). */
  get size(): number {
    return this.keys.size;
  }
}
