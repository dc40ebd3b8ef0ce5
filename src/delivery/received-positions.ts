/**
 * `received` frames: a client saying it has every stored message of a conversation up to a seq.
 * Taken only for a conversation the session takes part in (a direct conversation of its user,
 * or a group whose room it is in: no database read), then written in batches (position-writer.ts).
 * Anything else is ignored without an answer: the frame has no id and nothing to refuse.
 */
import { isDirectParticipant, parseConversationId } from '../protocol/conversation-ids.ts';
import type { PositionWriter } from '../chat/position-writer.ts';
import type { Session } from '../connection/session.ts';
import type { ClientReceivedFrame } from '../protocol/frames.ts';
import type { RoomService } from './room-service.ts';

export class ReceivedPositions {
  constructor(
    private readonly writer: PositionWriter,
    private readonly rooms: RoomService,
  ) {}

  fromSession(session: Session, frame: ClientReceivedFrame): void {
    const parsed = parseConversationId(frame.conversation);
    if (!parsed) return;
    const takesPart = parsed.kind === 'dm' ? isDirectParticipant(parsed, session.userId) : this.rooms.registry.has(session, frame.conversation);
    if (takesPart) this.writer.advance(session.userId, frame.conversation, frame.seq);
  }
}
