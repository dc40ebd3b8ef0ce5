/**
 * How far each user has received each of their conversations, and what they missed: the stored
 * side of recovery. A position only moves forward; with none, a direct conversation is missed
 * from its start and a group from the seq it had when the user joined it (group-store.ts sets
 * that position), so a new member is not sent the group's whole past (the history has it).
 */
import type { StoredMessage } from './message-store.ts';

export interface Position {
  userId: string;
  conversationId: string;
  seq: number;
}

export interface MissedMessages {
  /** Per conversation in seq order, the conversations in id order. */
  messages: StoredMessage[];
  /** Conversations with more missed messages than were returned. */
  more: string[];
}

export interface ConversationPositions {
  /**
   * For each user, the stored messages of their conversations (direct ones and their groups')
   * after their position, at most `maxMessages` per user; users who missed nothing are absent.
   * One call for many users: a reconnect storm reads them in a few round trips.
   */
  missed(userIds: readonly string[], maxMessages: number): Promise<Map<string, MissedMessages>>;
  /** Moves positions forward (a position never moves back); one statement for the batch. */
  advance(positions: readonly Position[]): Promise<void>;
}
