/**
 * Where stored chat messages live (PostgreSQL or the embedded database): every conversation has
 * a sequence, 1, 2, 3, ... with no repeat. `append` hands the numbers out in the transaction
 * that makes the messages durable (no gap); `appendNumbered` stores messages numbered before
 * (conversation-sequencer.ts: delivered first, stored behind), where a number whose message never
 * came is a gap. Direct conversations remember their two participants (to find a user's
 * conversations when they come back); groups have their members (group-store.ts).
 */

/** A message to store. */
export interface NewMessage {
  /** protocol/conversation-ids.ts */
  conversationId: string;
  /** The server message id (what the recipients see as `id`). */
  id: string;
  /** The sending userId; null for a server push. */
  sender: string | null;
  /** The content as JSON text, exactly as delivered. */
  content: string;
  /** ms since the epoch. */
  sentAt: number;
}

export interface StoredMessage extends NewMessage {
  seq: number;
}

/**
 * A page of one conversation, always answered in ascending seq: `after` → the first `limit`
 * messages with seq > after; `before` → the last `limit` with seq < before; both → within
 * (after, before), the first `limit`; neither → the newest `limit`.
 */
export interface HistoryQuery {
  before?: number | undefined;
  after?: number | undefined;
  limit: number;
}

export interface MessageStore {
  /**
   * Stores the messages in one transaction and returns their seqs, in input order. Messages of
   * one conversation get consecutive seqs in the order given. A direct conversation created here
   * records its two participants. Resolved = durable; rejected = nothing stored.
   */
  append(messages: readonly NewMessage[]): Promise<number[]>;
  /**
   * Stores messages that carry their seq already, in one transaction, and moves each
   * conversation's last seq up to the highest stored. Per message, in input order: true = its row
   * is durable (stored now, or by an earlier try of the same batch: same id), false = that seq
   * of the conversation holds another message (the counter handed it out twice after it was
   * lost), and this one was not stored. Rejected = nothing stored.
   */
  appendNumbered(messages: readonly StoredMessage[]): Promise<boolean[]>;
  /** The highest seq a conversation has (0: no message yet, or no such conversation). */
  lastSeq(conversationId: string): Promise<number>;
  /** A page of a conversation (empty when it does not exist). */
  page(conversationId: string, query: HistoryQuery): Promise<StoredMessage[]>;
  /**
   * Retention: deletes messages sent before `cutoffMs` and those beyond the newest
   * `keepPerConversation` of their conversation, at most `limit` rows; returns how many went.
   * Sequences never restart: a pruned conversation continues where it was.
   */
  prune(cutoffMs: number, keepPerConversation: number, limit: number): Promise<number>;
}
