/**
 * The one clock of the cluster. Leases, locks, reaping, grace expiry, pending-logout scheduling
 * and logout stamps are compared across nodes, so they must not be read from each node's own
 * wall clock: a node whose clock is 8 s behind would look dead to the others every second.
 *
 * In cluster mode the clock is Redis server time: every lease renewal also samples Redis `TIME`,
 * and `now()` answers the last good sample plus the *monotonic* time elapsed since it
 * (`process.hrtime`, never stepped, and the same in every thread of the process, so a worker's
 * samples are valid on the main thread). A node whose wall clock is off by a minute, or is
 * stepped at runtime, reads the same time as a correct one.
 *
 * Sample choice: the server read `TIME` somewhere between sending and receiving, so the midpoint
 * is the estimate and half the round trip its error. A kept sample's error grows with the time
 * since it was taken (the monotonic clock may run a little fast or slow: `DRIFT`); a new sample
 * replaces it when its own error is no larger, so samples delayed by a busy event loop or a slow
 * network are ignored unless nothing better came for a while. A sample that contradicts the kept
 * one beyond both errors (the Redis primary changed, with another clock) is taken at once.
 *
 * Without samples (memory mode: no Redis; or before the first one) it is the local wall clock.
 * The whole cluster then is this one process, so its own clock is the cluster's.
 */

/** One reading of the server's clock, bracketed by the monotonic clock. */
export interface ClockSample {
  /** Monotonic ms when the request was sent. */
  sentAt: number;
  /** Monotonic ms when the reply arrived. */
  receivedAt: number;
  /** The server's time (ms since epoch, fractions allowed) read in between. */
  serverTime: number;
}

/** How fast the monotonic clock may drift from the server's (NTP slews by up to 500 ppm). */
export const DRIFT = 500e-6;

/** Monotonic milliseconds shared by every thread of the process (CLOCK_MONOTONIC). */
export function monotonicMs(): number {
  const [s, ns] = process.hrtime();
  return s * 1000 + ns / 1e6;
}

interface Anchor {
  /** Server time at `mono`. */
  server: number;
  mono: number;
  /** Error bound of `server` when it was taken (ms). */
  error: number;
}

/** The error bound of `anchor`'s server time carried forward to monotonic `mono`: it grows with the drift. */
function errorAt(anchor: Anchor, mono: number): number {
  return anchor.error + DRIFT * Math.max(0, mono - anchor.mono);
}

export interface ClusterClockOptions {
  monotonic?: () => number;
  /** The local wall clock (for memory mode and for the offset). */
  wall?: () => number;
}

export class ClusterClock {
  private anchor: Anchor | undefined;
  private readonly monotonic: () => number;
  private readonly wall: () => number;
  /** Samples taken / kept (for tests and logs). */
  samples = 0;
  accepted = 0;

  constructor(options: ClusterClockOptions = {}) {
    this.monotonic = options.monotonic ?? monotonicMs;
    this.wall = options.wall ?? Date.now;
  }

  /** ms since epoch on the cluster's clock. Bound, so it can be passed around as `now`. */
  readonly now = (): number => {
    const anchor = this.anchor;
    if (!anchor) return this.wall();
    return Math.round(anchor.server + (this.monotonic() - anchor.mono));
  };

  /** Whether a server sample has been taken (cluster mode once synced). */
  get synced(): boolean {
    return this.anchor !== undefined;
  }

  /** Cluster clock minus the local wall clock (ms): how far this host's clock is off. */
  offsetMs(): number {
    return this.anchor ? this.now() - this.wall() : 0;
  }

  /** Error bound (ms) of `now()` at this moment; Infinity before the first sample. */
  errorMs(): number {
    return this.anchor ? errorAt(this.anchor, this.monotonic()) : Number.POSITIVE_INFINITY;
  }

  /** Offers a sample; returns whether it was kept. */
  addSample(sample: ClockSample): boolean {
    const rtt = sample.receivedAt - sample.sentAt;
    if (!(rtt >= 0) || !Number.isFinite(sample.serverTime)) return false;
    this.samples++;
    const candidate: Anchor = { server: sample.serverTime, mono: sample.sentAt + rtt / 2, error: rtt / 2 };
    const current = this.anchor;
    if (current) {
      const currentError = errorAt(current, candidate.mono);
      const predicted = current.server + (candidate.mono - current.mono);
      // 1 ms of slack for TIME's truncation and rounding.
      const contradicts = Math.abs(predicted - candidate.server) > currentError + candidate.error + 1;
      if (!contradicts && candidate.error > currentError) return false;
    }
    this.anchor = candidate;
    this.accepted++;
    return true;
  }

  /** Reads the server's clock once through `serverTime` (e.g. Redis TIME) and offers the sample. */
  async sync(serverTime: () => Promise<number>): Promise<boolean> {
    return this.addSample(await readServerClock(serverTime, this.monotonic));
  }
}

/** One reading of the server's clock through `serverTime`, bracketed by the monotonic clock. */
export async function readServerClock(serverTime: () => Promise<number>, monotonic: () => number = monotonicMs): Promise<ClockSample> {
  const sentAt = monotonic();
  const time = await serverTime();
  return { sentAt, receivedAt: monotonic(), serverTime: time };
}

/** Redis `TIME` reply ([seconds, microseconds] as strings) in ms. */
export function redisTimeMs(reply: readonly [string | number, string | number]): number {
  return Number(reply[0]) * 1000 + Number(reply[1]) / 1000;
}
