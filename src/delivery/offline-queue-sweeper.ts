/**
 * Keeps the offline queues' cluster total honest: a queue whose Redis key expired as a whole
 * took its bytes away without any script seeing it, so its share stays in the total until a
 * sweep subtracts it (OfflineQueue.sweep). One node at a time sweeps, under a named lock held
 * for one interval (never released early: the next sweep is due an interval later anyway);
 * every node refreshes its view of the total (the `gatehouse_offline_queue_bytes` gauge) on the
 * same beat. A failed round is logged and tried again at the next one.
 */
import type { Locks } from '../cluster/locks.ts';
import type { CoreLogger } from '../core-logger.ts';
import type { OfflineQueue } from './offline-queue.ts';

export const OFFLINE_SWEEP_LOCK = 'offline-queue-sweep';

export interface OfflineQueueSweeperOptions {
  queue: OfflineQueue;
  locks: Locks;
  /** This node (the lock's owner). */
  nodeId: string;
  intervalMs: number;
  now: () => number;
  log: CoreLogger;
}

export class OfflineQueueSweeper {
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly options: OfflineQueueSweeperOptions) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.round(), this.options.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One round: sweeps if this node got the lock; returns the bytes subtracted (undefined: another node's turn, or failed). */
  async round(): Promise<number | undefined> {
    const { queue, locks, nodeId, intervalMs, now, log } = this.options;
    try {
      if (!(await locks.tryLock(OFFLINE_SWEEP_LOCK, nodeId, intervalMs, now()))) {
        await queue.totalBytes();
        return undefined;
      }
      const gone = await queue.sweep();
      if (gone > 0) log.info({ bytes: gone }, 'offline queue sweep: expired queues taken out of the total');
      return gone;
    } catch (error) {
      log.warn({ err: (error as Error).message }, 'offline queue sweep failed (next round retries)');
      return undefined;
    }
  }
}
