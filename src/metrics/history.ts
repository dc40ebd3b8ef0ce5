/**
 * A small in-memory time series of this node: every `intervalMs` (10 s by default) one point
 * with this node's connections and the cluster's online players, the last hour kept in a ring
 * buffer. The admin dashboard draws its chart from it (GET /api/stats/history). Per node and
 * lost on restart on purpose: long-term history is Prometheus' job (/metrics).
 */

export interface HistoryPoint {
  /** ms since the Unix epoch */
  t: number;
  /** Live WebSocket connections on this node. */
  connections: number;
  /** Players online in the whole cluster; null when the online store did not answer. */
  onlineUsers: number | null;
}

export interface StatsHistoryOptions {
  intervalMs: number;
  /** How far back points are kept (default one hour). */
  keepMs?: number;
  now: () => number;
  /** Reads one sample. Should not throw; a rejection skips the point. */
  sample: () => Promise<Omit<HistoryPoint, 't'>>;
}

export class StatsHistory {
  readonly intervalMs: number;
  readonly capacity: number;
  private readonly ring: HistoryPoint[] = [];
  private start = 0;
  private timer: NodeJS.Timeout | undefined;
  private sampling = false;

  constructor(private readonly options: StatsHistoryOptions) {
    this.intervalMs = options.intervalMs;
    this.capacity = Math.max(1, Math.ceil((options.keepMs ?? 3_600_000) / options.intervalMs));
  }

  /** Samples now, then every interval (the timer does not keep the process alive). */
  startSampling(): void {
    if (this.timer) return;
    void this.sampleNow();
    this.timer = setInterval(() => void this.sampleNow(), this.intervalMs);
    this.timer.unref();
  }

  stopSampling(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Takes one sample (skipped while the previous one is still running). */
  async sampleNow(): Promise<void> {
    if (this.sampling) return;
    this.sampling = true;
    try {
      const t = this.options.now();
      const sample = await this.options.sample();
      this.add({ t, ...sample });
    } catch {
      // no point for this interval; the chart shows a gap
    } finally {
      this.sampling = false;
    }
  }

  /** Appends a point, dropping the oldest beyond capacity. */
  add(point: HistoryPoint): void {
    if (this.ring.length < this.capacity) {
      this.ring.push(point);
      return;
    }
    this.ring[this.start] = point;
    this.start = (this.start + 1) % this.capacity;
  }

  /** The kept points, oldest first (by time, should the clock have stepped back). */
  points(): HistoryPoint[] {
    const ordered = [...this.ring.slice(this.start), ...this.ring.slice(0, this.start)];
    return ordered.sort((a, b) => a.t - b.t);
  }
}
