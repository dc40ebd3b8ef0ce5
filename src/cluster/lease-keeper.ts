/**
 * Lease renewal off the main event loop. A node serving 10,000 players on a starved CPU can lag
 * by seconds; if its lease were renewed from that loop, the others would reap it while its
 * sockets are alive. A `LeaseKeeper` renews the lease from elsewhere (a worker thread with its
 * own store connection: stores/redis/redis-lease-keeper.ts) every lease interval, for as long as
 * the main loop shows progress within a longer bound (NODE_STALL_LIMIT_MS): a loop stalled past
 * it, or a process frozen whole, renews nothing and is reaped as a dead node.
 *
 * The main thread bumps a shared counter from a timer; `StallGuard` is the keeper's view of it.
 * Renewal outcomes go back to the main thread, where `ClusterMembership` reads them each round
 * (`take`) and does the rest of the round (lapses, re-assertion, fencing, reaping others).
 */

export type LeaseRenewalOutcome =
  | {
      ok: true;
      /** The lease written (cluster clock, ms). */
      at: number;
      /** The generation was fenced (the node was reaped): nothing renewed. */
      fenced: boolean;
      previous: number | null;
      /** The store's record of this node's last lapse (`RenewLeaseResult.lapsedAt`). */
      lapsedAt?: number | null;
    }
  | { ok: false; at: number; error: string };

export interface LeaseKeeper {
  /**
   * Resolves once the keeper can renew (its thread loaded and connected), or after `timeoutMs`
   * with false. The node registers after it: from its first lease on, renewals do not depend on a
   * main loop still busy loading the rest of the app.
   */
  whenReady(timeoutMs: number): Promise<boolean>;
  /** Starts (or resumes, after a fence, with the new generation) renewing every interval. */
  start(generation: string): void;
  /** Outcomes since the last call, oldest first. */
  take(): LeaseRenewalOutcome[];
  /**
   * Whether the keeper renews right now. False before `start`, after a fenced renewal (until the
   * next `start`), and while it is down (crashed, being restarted): the main loop renews itself.
   */
  readonly active: boolean;
  /** Stops renewing; resolves once no renewal can happen any more. */
  stop(): Promise<void>;
}

/**
 * The keeper's judgement of the main loop's progress counter: a renewal is allowed while the
 * counter moved within `stallLimitMs` (on the keeper's monotonic clock).
 */
export class StallGuard {
  private lastValue: number | undefined;
  private lastMoveAt = 0;

  constructor(private readonly stallLimitMs: number) {}

  /** Reads the counter at `monotonicNow`; true while the main loop progressed within the bound. */
  progressing(counter: number, monotonicNow: number): boolean {
    if (counter !== this.lastValue) {
      this.lastValue = counter;
      this.lastMoveAt = monotonicNow;
    }
    return monotonicNow - this.lastMoveAt <= this.stallLimitMs;
  }

  /** How long the counter has not moved (ms). */
  stalledFor(monotonicNow: number): number {
    return monotonicNow - this.lastMoveAt;
  }
}
