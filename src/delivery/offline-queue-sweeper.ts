/**
 * Keeps the offline queues' cluster total honest: a queue whose Redis key expired as a whole
 * took its bytes away without any script seeing it, so its share stays in the total until a
 * sweep subtracts it (OfflineQueue.sweep). One node at a time sweeps (a turn-taking chore);
 * every node refreshes its view of the total (the `gatehouse_offline_queue_bytes` gauge) on the
 * same beat. A round returns the bytes subtracted.
 */
import type { Locks } from '../cluster/locks.ts';
import { TurnTakingChore } from '../cluster/turn-taking-chore.ts';
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

export class OfflineQueueSweeper extends TurnTakingChore<number> {
  constructor(options: OfflineQueueSweeperOptions) {
    const { queue, log } = options;
    super({
      ...options,
      lock: OFFLINE_SWEEP_LOCK,
      failure: 'offline queue sweep failed (next round retries)',
      notMyTurn: () => queue.totalBytes(),
      work: async () => {
        const gone = await queue.sweep();
        if (gone > 0) log.info({ bytes: gone }, 'offline queue sweep: expired queues taken out of the total');
        return gone;
      },
    });
  }
}
