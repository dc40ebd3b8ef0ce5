/**
 * Persistent groups on the wire: a `group` frame is stored (message-writer.ts: batched, a seq of
 * the group's conversation once durable), then fanned out like a room message to the group's
 * room, where every live session of every member is from its login on; the sender's ack says
 * `stored` with the seq. A `history` frame pages a conversation the user takes part in.
 *
 * Membership is checked on the node's own room registry: a session is in its groups' rooms from
 * its login (one database read per login, after `connected`; the login's recovery waits for it,
 * so that a message is either recovered or fanned out to the session), and the admin API moves
 * live sessions in and out when it changes a membership, so a group message costs no lookup.
 */
import { randomUUID } from 'node:crypto';
import { groupConversationId, isDirectParticipant, parseConversationId } from '../protocol/conversation-ids.ts';
import type { GroupStore } from '../chat/group-store.ts';
import type { MessageStore } from '../chat/message-store.ts';
import { DEFAULT_HISTORY_LIMIT, historyMessage, withinPageBytes } from '../chat/history-page.ts';
import type { MessageWriter } from '../chat/message-writer.ts';
import type { Session } from '../connection/session.ts';
import type { RateLimitedWarner } from '../connection/rate-limited-warner.ts';
import type { CoreLogger } from '../core-logger.ts';
import { encodeError, encodeServerFrame, type ClientGroupFrame, type ClientHistoryFrame } from '../protocol/frames.ts';
import type { RoomService } from './room-service.ts';
import { KeyedBatchReader } from '../util/keyed-batch-reader.ts';

export interface GroupMessagesOptions {
  groups: Pick<GroupStore, 'groupsOf' | 'membersOf'>;
  messages: Pick<MessageStore, 'page'>;
  writer: MessageWriter;
  rooms: RoomService;
  /** HISTORY_PAGE_MAX: the largest page of a `history` frame (a larger `limit` is cut to it). */
  historyPageMax: number;
  /** Queues a bulk frame (a history page) through the replay gate. */
  send: (session: Session, frame: string) => boolean;
  /** Queues a control frame (ack, error) through the replay gate. */
  sendControl: (session: Session, frame: string) => boolean;
  warner: RateLimitedWarner;
  log: CoreLogger;
  now: () => number;
}

export class GroupMessages {
  /** Per session still entering its groups' rooms: its `group` frames wait for it. */
  private readonly entering = new Map<Session, Promise<void>>();
  /** The groups of logging-in users, many users per read (a reconnect storm: a few statements). */
  private readonly groupsAtLogin: KeyedBatchReader<string[]>;

  constructor(private readonly options: GroupMessagesOptions) {
    this.groupsAtLogin = new KeyedBatchReader((userIds) => options.groups.groupsOf(userIds), []);
  }

  /** A session logged in: it enters the rooms of its groups (a failure is logged; it can still read history). */
  sessionOpened(session: Session): void {
    const entered = this.enterGroups(session).finally(() => {
      if (this.entering.get(session) === entered) this.entering.delete(session);
    });
    this.entering.set(session, entered);
  }

  /** Resolves once the session is in its groups' rooms (on every node's bus: their messages reach it live). */
  entered(session: Session): Promise<void> {
    return this.entering.get(session) ?? Promise.resolve();
  }

  sessionClosed(session: Session): void {
    this.entering.delete(session);
  }

  /** A membership changed (admin API, here or on another node): this node's sessions of the user follow. */
  membershipChanged(sessions: Iterable<Session>, groupId: string, member: boolean): void {
    const room = groupConversationId(groupId);
    for (const session of sessions) {
      // Still opening: its login reads its groups after the change was written.
      if (session.state !== 'open') continue;
      const apply = () => {
        if (member) void this.options.rooms.enter(session, room);
        else this.options.rooms.exit(session, room);
      };
      // Entering its groups: their read may predate the change, so the change goes after it.
      const entering = this.entering.get(session);
      if (entering) void entering.then(apply);
      else apply();
    }
  }

  /** A `group` frame: members only; stored, fanned out, acked `stored` with its seq. */
  async fromSession(session: Session, frame: ClientGroupFrame): Promise<void> {
    const { rooms, writer, sendControl, now } = this.options;
    await this.entering.get(session);
    const room = groupConversationId(frame.group);
    if (!rooms.registry.has(session, room)) {
      sendControl(session, encodeError('NOT_IN_GROUP', `you are not a member of group ${frame.group}`, frame.id));
      return;
    }
    const id = randomUUID();
    const ts = now();
    const written = writer.write({ conversationId: room, id, sender: session.userId, content: JSON.stringify(frame.content), sentAt: ts });
    if (!written) {
      sendControl(session, encodeError('NOT_AVAILABLE', 'too many messages are waiting to be stored, nothing was sent; try again', frame.id));
      return;
    }
    let seq: number;
    try {
      seq = await written;
    } catch (error) {
      this.options.warner.warn('group-store', { group: frame.group, err: (error as Error).message }, 'group message not stored: database unavailable');
      sendControl(session, encodeError('NOT_AVAILABLE', 'the message could not be stored, nothing was sent; try again', frame.id));
      return;
    }
    const encoded = encodeServerFrame({ type: 'group', group: frame.group, conversation: room, seq, from: session.userId, content: frame.content, id, ts });
    try {
      await rooms.fanOut(room, encoded, session);
    } catch (error) {
      // Stored all the same: the members on other nodes find it in the history.
      this.options.warner.warn('group-publish', { group: frame.group, err: (error as Error).message }, 'group message stored, not published: bus unreachable');
    }
    sendControl(session, encodeServerFrame({ type: 'ack', id: frame.id ?? id, status: 'stored', conversation: room, seq }));
  }

  /** A `history` frame: a page of a conversation the user takes part in. */
  async history(session: Session, frame: ClientHistoryFrame): Promise<void> {
    const { messages, sendControl, historyPageMax } = this.options;
    const parsed = parseConversationId(frame.conversation);
    const unknown = () => sendControl(session, encodeError('UNKNOWN_CONVERSATION', `${frame.conversation} is not a conversation of yours`, frame.id));
    if (!parsed) return void unknown();
    try {
      if (parsed.kind === 'dm' ? !isDirectParticipant(parsed, session.userId) : !(await this.isMember(session, frame.conversation, parsed.ids[0]!))) {
        return void unknown();
      }
      const page = await messages.page(frame.conversation, {
        before: frame.before,
        after: frame.after,
        limit: Math.min(frame.limit ?? DEFAULT_HISTORY_LIMIT, historyPageMax),
      });
      const answer = {
        type: 'history' as const,
        conversation: frame.conversation,
        messages: withinPageBytes(page, frame.after === undefined).map(historyMessage),
      };
      if (!this.options.send(session, encodeServerFrame(frame.id === undefined ? answer : { ...answer, id: frame.id }))) {
        sendControl(session, encodeError('NOT_AVAILABLE', 'your send queue is full: the history page was dropped; try again', frame.id));
      }
    } catch (error) {
      this.options.warner.warn('history', { conversation: frame.conversation, err: (error as Error).message }, 'history not read: database unavailable');
      sendControl(session, encodeError('NOT_AVAILABLE', 'the history cannot be read right now; try again', frame.id));
    }
  }

  /**
   * Whether the session's user is a member of the group: in its room (membership as the session
   * follows it, no read), or else in the database (the login's read of its groups may have failed).
   */
  private async isMember(session: Session, room: string, groupId: string): Promise<boolean> {
    await this.entering.get(session);
    if (this.options.rooms.registry.has(session, room)) return true;
    return (await this.options.groups.membersOf(groupId))?.includes(session.userId) === true;
  }

  private async enterGroups(session: Session): Promise<void> {
    const { rooms, log } = this.options;
    let ids: string[];
    try {
      ids = await this.groupsAtLogin.read(session.userId);
    } catch (error) {
      log.warn({ userId: session.userId, err: (error as Error).message }, 'groups not read at login: the session gets no live group messages');
      return;
    }
    if (session.state !== 'open') return;
    await Promise.all(ids.map((groupId) => rooms.enter(session, groupConversationId(groupId))));
  }
}
