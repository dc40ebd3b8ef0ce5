/**
 * A chore one node of the cluster does at a time, every interval: each node tries a named lock
 * held for one interval (never released early: the next round is due an interval later anyway);
 * the node that gets it does the work, the others may refresh what they read of it. A failed
 * round is logged and tried again at the next one.
 */
import type { Locks } from './locks.ts';
import type { CoreLogger } from '../core-logger.ts';

export interface TurnTakingChoreOptions<T> {
  /** The lock's name: one per chore. */
  lock: string;
  locks: Locks;
  /** This node (the lock's owner). */
  nodeId: string;
  intervalMs: number;
  now: () => number;
  log: CoreLogger;
  /** The log line of a failed round. */
  failure: string;
  /** The chore, on the node whose turn it is; `at` is the round's time. */
  work: (at: number) => Promise<T>;
  /** On the other nodes (optional). */
  notMyTurn?: () => Promise<unknown>;
}

export class TurnTakingChore<T> {
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly options: TurnTakingChoreOptions<T>) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.round(), this.options.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One round: what the work returned, or undefined when another node had the turn or it failed. */
  async round(): Promise<T | undefined> {
    const { lock, locks, nodeId, intervalMs, now, log } = this.options;
    try {
      const at = now();
      if (!(await locks.tryLock(lock, nodeId, intervalMs, at))) {
        await this.options.notMyTurn?.();
        return undefined;
      }
      return await this.options.work(at);
    } catch (error) {
      log.warn({ err: (error as Error).message }, this.options.failure);
      return undefined;
    }
  }
}
