/**
 * Keeps the stored messages within their retention: older than MESSAGE_RETENTION_DAYS, or beyond
 * the newest MESSAGE_RETENTION_COUNT of their conversation, they are deleted. One node at a time
 * (a turn-taking chore), in bounded batches so that one round never holds the database for long;
 * a round that filled its batches goes on at the next one. Sequences are not affected: a
 * conversation continues where it was.
 */
import type { Locks } from '../cluster/locks.ts';
import { TurnTakingChore } from '../cluster/turn-taking-chore.ts';
import type { CoreLogger } from '../core-logger.ts';
import type { MessageStore } from './message-store.ts';

export const RETENTION_SWEEP_LOCK = 'message-retention';
/** Rows one delete statement removes at most, and statements per round. */
const DELETE_BATCH = 5000;
const BATCHES_PER_ROUND = 10;

export interface RetentionSweeperOptions {
  messages: Pick<MessageStore, 'prune'>;
  locks: Locks;
  nodeId: string;
  intervalMs: number;
  retentionMs: number;
  keepPerConversation: number;
  now: () => number;
  log: CoreLogger;
}

export class RetentionSweeper extends TurnTakingChore<number> {
  constructor(options: RetentionSweeperOptions) {
    const { messages, retentionMs, keepPerConversation, log } = options;
    super({
      ...options,
      lock: RETENTION_SWEEP_LOCK,
      failure: 'message retention round failed (next round retries)',
      work: async (at) => {
        let deleted = 0;
        for (let batch = 0; batch < BATCHES_PER_ROUND; batch++) {
          const gone = await messages.prune(at - retentionMs, keepPerConversation, DELETE_BATCH);
          deleted += gone;
          if (gone < DELETE_BATCH) break;
        }
        if (deleted > 0) log.info({ deleted }, 'message retention: old messages deleted');
        return deleted;
      },
    });
  }
}
