/**
 * Where stored chat messages live (PostgreSQL or the embedded database): every conversation has
 * a sequence, 1, 2, 3, ... with no gap and no repeat, handed out in the transaction that makes
 * the messages durable. Direct conversations remember their two participants (to find a user's
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

/** A conversation of a user and how far it goes. */
export interface ConversationPosition {
  conversationId: string;
  lastSeq: number;
}

export interface MessageStore {
  /**
   * Stores the messages in one transaction and returns their seqs, in input order. Messages of
   * one conversation get consecutive seqs in the order given. A direct conversation created here
   * records its two participants. Resolved = durable; rejected = nothing stored.
   */
  append(messages: readonly NewMessage[]): Promise<number[]>;
  /** A page of a conversation (empty when it does not exist). */
  page(conversationId: string, query: HistoryQuery): Promise<StoredMessage[]>;
  /** The direct conversations of a user and the conversations of their groups, with their last seq (0: none yet). */
  positionsOf(userId: string): Promise<ConversationPosition[]>;
  /**
   * Retention: deletes messages sent before `cutoffMs` and those beyond the newest
   * `keepPerConversation` of their conversation, at most `limit` rows; returns how many went.
   * Sequences never restart: a pruned conversation continues where it was.
   */
  prune(cutoffMs: number, keepPerConversation: number, limit: number): Promise<number>;
}
