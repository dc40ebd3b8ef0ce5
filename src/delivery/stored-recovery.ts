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

/** Users whose missed messages one read asks for at most. */
const USERS_PER_READ = 500;

interface Waiting {
  resolve: (frames: string[]) => void;
  reject: (error: Error) => void;
}

/**
 * Reads what logging-in users missed, many users per database read: the logins of one moment
 * (a reconnect storm: thousands) wait together while a read is in flight, then go in the next
 * one, so the database sees a few statements, not one per login.
 */
export class StoredRecovery {
  private waiting = new Map<string, Waiting[]>();
  private reading = false;

  constructor(
    private readonly positions: Pick<ConversationPositions, 'missed'>,
    /** RECOVERY_MAX_MESSAGES: most messages one login is sent. */
    private readonly maxMessages: number,
  ) {}

  /** The frames of what the user missed, `recovered` last; none when nothing was missed. */
  read(userId: string): Promise<string[]> {
    return new Promise((resolve, reject) => {
      let waiting = this.waiting.get(userId);
      if (!waiting) this.waiting.set(userId, (waiting = []));
      waiting.push({ resolve, reject });
      if (!this.reading) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.reading = true;
    try {
      while (this.waiting.size > 0) {
        const batch = [...this.waiting].slice(0, USERS_PER_READ);
        for (const [userId] of batch) this.waiting.delete(userId);
        try {
          const missed = await this.positions.missed(
            batch.map(([userId]) => userId),
            this.maxMessages,
          );
          for (const [userId, waiting] of batch) {
            const frames = framesOf(userId, missed.get(userId));
            for (const { resolve } of waiting) resolve(frames);
          }
        } catch (error) {
          for (const [, waiting] of batch) for (const { reject } of waiting) reject(error as Error);
        }
      }
    } finally {
      this.reading = false;
    }
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
