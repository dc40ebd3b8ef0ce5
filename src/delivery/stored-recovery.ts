/**
 * What a session is sent at login from the stored messages: every message of the user's
 * conversations after their position (conversation-positions.ts), as the frames it was first
 * delivered as (the user's own direct messages as echoes, with `to`), then a `recovered` frame
 * saying how many and which conversations have more. The offline replay queues them behind
 * `connected` and ahead of every live frame (offline-replay.ts).
 */
import { parseConversationId } from '../protocol/conversation-ids.ts';
import type { ConversationPositions, MissedMessages } from '../chat/conversation-positions.ts';
import type { StoredMessage } from '../chat/message-store.ts';
import { encodeServerFrame } from '../protocol/frames.ts';
import { KeyedBatchReader } from '../util/keyed-batch-reader.ts';

/** The frame a stored message is delivered as, for `userId`. */
export function storedMessageFrame(message: StoredMessage, userId: string): string {
  const { conversationId: conversation, seq, id, sentAt: ts } = message;
  const content: unknown = JSON.parse(message.content);
  const parsed = parseConversationId(conversation);
  if (parsed?.kind === 'group') {
    const group = parsed.ids[0]!;
    return encodeServerFrame(
      message.sender === null
        ? { type: 'group', group, conversation, seq, content, id, ts }
        : { type: 'group', group, conversation, seq, from: message.sender, content, id, ts },
    );
  }
  const from = message.sender ?? undefined;
  if (from === userId && parsed) {
    // The user's own message: an echo naming the other participant (oneself for a note to self).
    const to = parsed.ids[0] === userId ? parsed.ids[1]! : parsed.ids[0]!;
    return encodeServerFrame({ type: 'message', from, to, content, id, ts, echo: true, conversation, seq });
  }
  return encodeServerFrame(
    from === undefined ? { type: 'message', content, id, ts, conversation, seq } : { type: 'message', from, content, id, ts, conversation, seq },
  );
}

/**
 * Reads what logging-in users missed, many users per database read (keyed-batch-reader.ts): a
 * reconnect storm costs the database a few statements, not one per login.
 */
export class StoredRecovery {
  private readonly reader: KeyedBatchReader<string[]>;

  constructor(
    positions: Pick<ConversationPositions, 'missed'>,
    /** RECOVERY_MAX_MESSAGES: most messages one login is sent. */
    maxMessages: number,
  ) {
    this.reader = new KeyedBatchReader(async (userIds) => {
      const missed = await positions.missed(userIds, maxMessages);
      return new Map(userIds.map((userId) => [userId, framesOf(userId, missed.get(userId))]));
    }, []);
  }

  /** The frames of what the user missed, `recovered` last; none when nothing was missed. */
  read(userId: string): Promise<string[]> {
    return this.reader.read(userId);
  }
}

/** A user's recovered frames and the `recovered` frame closing them; none when nothing was missed. */
function framesOf(userId: string, missed: MissedMessages | undefined): string[] {
  if (!missed || (missed.messages.length === 0 && missed.more.length === 0)) return [];
  const { messages, more } = missed;
  const frames = messages.map((message) => storedMessageFrame(message, userId));
  frames.push(encodeServerFrame(more.length > 0 ? { type: 'recovered', messages: messages.length, more } : { type: 'recovered', messages: messages.length }));
  return frames;
}
