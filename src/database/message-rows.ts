/** A row of `messages` as the raw queries read it, and the StoredMessage it is. */
import type { StoredMessage } from '../chat/message-store.ts';

export interface MessageRow {
  conversation_id: string;
  seq: bigint;
  id: string;
  sender: string | null;
  content: string;
  sent_at: Date;
}

export const storedMessage = (row: MessageRow): StoredMessage => ({
  conversationId: row.conversation_id,
  seq: Number(row.seq),
  id: row.id,
  sender: row.sender,
  content: row.content,
  sentAt: row.sent_at.getTime(),
});
