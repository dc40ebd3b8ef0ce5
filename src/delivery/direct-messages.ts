/**
 * Direct messages and server pushes to one user: delivered to every live session of the user in
 * the cluster (Router), or, while the user has none, stored in their offline queue and replayed
 * by their next session (OfflineReplay). With SESSION_POLICY=multi the sender's other sessions
 * get an echo of what was sent.
 */
import { randomUUID } from 'node:crypto';
import type { Bus } from '../cluster/bus.ts';
import type { OfflineQueue, OfflineQuota } from './offline-queue.ts';
import type { KnownUsers, KnownVerdict } from './known-users.ts';
import type { PresenceStore } from '../presence/presence-store.ts';
import type { ConnectionManager } from '../connection/connection-manager.ts';
import type { GatewayCounters } from '../gateway/gateway-counters.ts';
import type { CoreLogger } from '../core-logger.ts';
import type { OfflineReplay } from './offline-replay.ts';
import { encodeError, encodeServerFrame, type ClientMessageFrame, type ServerAckFrame, type ServerMessageFrame } from '../protocol/frames.ts';
import { RateLimitedWarner } from '../connection/rate-limited-warner.ts';
import type { Router } from './router.ts';
import type { Session } from '../connection/session.ts';
import { ackFrame, type SessionCounts } from './acks.ts';
import type { MessageWriter } from '../chat/message-writer.ts';
import type { ConversationSequencer } from '../chat/conversation-sequencer.ts';
import { directConversationId } from '../protocol/conversation-ids.ts';

/**
 * A message for an offline user that was not queued: `unknown_user` (nobody the gateway knows:
 * never logged in), or `quota_<which>` (offline-queue.ts; `quota_lookups`: the sender asked
 * about too many ids the cache did not know, known-users.ts).
 */
export type QueueRefusal = 'unknown_user' | `quota_${OfflineQuota | 'lookups'}`;

/**
 * Outcome of a delivery to a user (`POST /api/users/:userId/messages` answers it; the sender's
 * ack carries the first four): `delivered` (a live session's send queue took it), `queued` (in
 * the offline queue), `dropped` (live sessions, none took it), `unconfirmed` (handed to the
 * user's node, no receipt in time), `offline` (offline queue off), `unavailable` (not sent), or a
 * refusal of the offline queue.
 */
export type PushResult = 'delivered' | 'queued' | 'dropped' | 'unconfirmed' | 'offline' | 'unavailable' | QueueRefusal;

/** Statuses a sender's ack carries (the others are error frames). */
const ACKED: ReadonlySet<PushResult> = new Set(['delivered', 'queued', 'dropped', 'unconfirmed']);
const isAcked = (result: PushResult): result is Exclude<ServerAckFrame['status'], 'sent' | 'stored'> => ACKED.has(result);

/** Human text of a refusal; a QUOTA_EXCEEDED text starts with the quota's name and a colon. */
export function refusalText(result: QueueRefusal, userId: string): string {
  switch (result) {
    case 'unknown_user':
      return `user ${userId} is unknown (never logged in): nothing was queued`;
    case 'quota_recipient':
      return `recipient: the offline queue of ${userId} is full (OFFLINE_QUEUE_MAX / OFFLINE_QUEUE_MAX_BYTES), try again once they read it`;
    case 'quota_sender':
      return 'sender: you queued too many messages for offline users lately (OFFLINE_QUEUE_SENDER_MAX / _BYTES per OFFLINE_QUEUE_TTL_S)';
    case 'quota_cluster':
      return 'cluster: the offline queues of the cluster are full (OFFLINE_QUEUE_TOTAL_MAX_BYTES), try again later';
    case 'quota_lookups':
      return 'lookups: too many messages to users this node had to look up, slow down';
  }
}

export interface DirectMessagesOptions {
  nodeId: string;
  multiSession: boolean;
  router: Router;
  replay: OfflineReplay;
  connections: ConnectionManager;
  store: Pick<PresenceStore, 'getPlayer'>;
  bus: Bus;
  /** Absent or `limits.max` = 0: USER_OFFLINE instead of queueing. */
  queue?: OfflineQueue | undefined;
  /** Who may be queued for (absent: anyone, e.g. unit tests without a database). */
  knownUsers?: KnownUsers | undefined;
  /**
   * MESSAGE_PERSISTENCE=on: players' messages are stored first (a seq of their direct
   * conversation), then delivered; one that no live session took is `stored`, for the
   * recipient's next session, instead of going to the offline queue. Absent: today's path.
   */
  writer?: MessageWriter | undefined;
  /**
   * With the writer: numbers direct messages before they are stored (Redis), so they are
   * delivered at once and stored behind; the ack follows the commit. Absent (the embedded
   * default): the database numbers them, and they are delivered once durable.
   */
  sequencer?: ConversationSequencer | undefined;
  counters: GatewayCounters;
  log: CoreLogger;
  now: () => number;
}

export class DirectMessages {
  private readonly warner: RateLimitedWarner;

  constructor(private readonly options: DirectMessagesOptions) {
    this.warner = new RateLimitedWarner(options.log, options.now, 10_000);
  }

  /**
   * A `message` frame from a session: delivered or queued, acked with what became of it, echoed.
   * The ack waits for the receipts of the recipient's other nodes (at most the receipt timeout).
   */
  async fromSession(session: Session, frame: ClientMessageFrame, now: number): Promise<void> {
    const { counters, replay, router, multiSession } = this.options;
    counters.messagesIn++;
    const { writer, sequencer } = this.options;
    if (writer && sequencer) return this.deliverAndStore(session, frame, now, writer, sequencer);
    if (writer) return this.storeAndDeliver(session, frame, now, writer);
    const message: ServerMessageFrame = { type: 'message', from: session.userId, content: frame.content, id: randomUUID(), ts: now };
    const counts: SessionCounts = { sessions: 0, dropped: 0 };
    // A message to oneself goes to one's other sessions, not back to the sending one (with none,
    // it is `dropped`: nobody to give it to, and the user is online, so it is not queued).
    const result = await this.deliverOrQueue(frame.to, message, frame.to === session.userId ? session.id : undefined, counts, session.id, session.userId);
    if (isAcked(result)) {
      if (result === 'delivered') counters.messagesOut++; // a queued or dropped message reached no session (yet)
      replay.sendControl(session, encodeServerFrame(ackFrame(frame.id ?? message.id, result, counts)));
      // The sender's other devices see what was sent from this one (multi only: replace has none).
      // Not for a message nobody took: the echo shows what the recipient got.
      if (multiSession && frame.to !== session.userId && result !== 'dropped') {
        void router.deliver(session.userId, encodeServerFrame({ ...message, to: frame.to, echo: true }), { exceptSessionId: session.id, receipts: false });
      }
    } else if (result === 'offline') {
      replay.sendControl(session, encodeError('USER_OFFLINE', `user ${frame.to} is offline`, frame.id));
    } else if (result === 'unknown_user') {
      replay.sendControl(session, encodeError('UNKNOWN_USER', refusalText(result, frame.to), frame.id));
    } else if (result !== 'unavailable') {
      replay.sendControl(session, encodeError('QUOTA_EXCEEDED', refusalText(result, frame.to), frame.id));
    } else {
      replay.sendControl(session, encodeError('NOT_AVAILABLE', "the recipient's node cannot be reached, try again", frame.id));
    }
  }

  /**
   * A player's message with persistence on: only to a user the gateway knows (an invented id
   * stores nothing), stored, then delivered to every live session of the recipient with its
   * conversation and seq; acked `delivered` when a session took it, else `stored` (the
   * recipient's next session recovers it). Nothing is sent before the row is durable.
   */
  private async storeAndDeliver(session: Session, frame: ClientMessageFrame, now: number, writer: MessageWriter): Promise<void> {
    const { counters, replay, router, multiSession } = this.options;
    const reply = (text: string) => replay.sendControl(session, text);
    const to = frame.to;
    if (await this.refusedRecipient(session, frame)) return;
    const id = randomUUID();
    const conversation = directConversationId(session.userId, to);
    const written = writer.write({ conversationId: conversation, id, sender: session.userId, content: JSON.stringify(frame.content), sentAt: now });
    if (!written) return void reply(encodeError('NOT_AVAILABLE', 'too many messages are waiting to be stored, nothing was sent; try again', frame.id));
    let seq: number;
    try {
      seq = await written;
    } catch (error) {
      this.warner.warn('message-store', { err: (error as Error).message }, 'message not stored: database unavailable');
      return void reply(encodeError('NOT_AVAILABLE', 'the message could not be stored, nothing was sent; try again', frame.id));
    }
    const message: ServerMessageFrame = { type: 'message', from: session.userId, content: frame.content, id, ts: now, conversation, seq };
    const live = await router.deliver(to, encodeServerFrame(message), { exceptSessionId: to === session.userId ? session.id : undefined, owner: session.id });
    const delivered = live.status === 'delivered';
    if (delivered) counters.messagesOut++;
    const ack = ackFrame(frame.id ?? id, delivered ? 'delivered' : 'stored', live);
    reply(encodeServerFrame({ ...ack, conversation, seq }));
    if (multiSession && to !== session.userId) {
      void router.deliver(session.userId, encodeServerFrame({ ...message, to, echo: true }), { exceptSessionId: session.id, receipts: false });
    }
  }

  /**
   * A player's message with persistence on and a sequencer: only to a known user, numbered in
   * its direct conversation, delivered at once with that seq (and echoed), and stored behind
   * (messages/s in batches); the ack follows the commit: `delivered` when a live session took
   * it, else `stored`; `NOT_STORED` when the database kept failing (it reached live sessions
   * only). A recipient that no session of was found may have logged in meanwhile and read its
   * recovery before the commit: the message is delivered once more after it (a duplicate at
   * most, which the SDK drops by id and seq).
   */
  private async deliverAndStore(
    session: Session,
    frame: ClientMessageFrame,
    now: number,
    writer: MessageWriter,
    sequencer: ConversationSequencer,
  ): Promise<void> {
    const { counters, replay, router, multiSession } = this.options;
    const reply = (text: string) => replay.sendControl(session, text);
    const to = frame.to;
    if (await this.refusedRecipient(session, frame)) return;
    if (writer.full) return void reply(encodeError('NOT_AVAILABLE', 'too many messages are waiting to be stored, nothing was sent; try again', frame.id));
    const conversation = directConversationId(session.userId, to);
    let seq: number;
    try {
      seq = await sequencer.next(conversation);
    } catch (error) {
      this.warner.warn('message-seq', { err: (error as Error).message }, 'message not numbered: online store unavailable');
      return void reply(encodeError('NOT_AVAILABLE', 'the message could not be numbered, nothing was sent; try again', frame.id));
    }
    const id = randomUUID();
    const durable = writer.writeNumbered({
      conversationId: conversation,
      seq,
      id,
      sender: session.userId,
      content: JSON.stringify(frame.content),
      sentAt: now,
    });
    if (!durable) return void reply(encodeError('NOT_AVAILABLE', 'too many messages are waiting to be stored, nothing was sent; try again', frame.id));
    const message: ServerMessageFrame = { type: 'message', from: session.userId, content: frame.content, id, ts: now, conversation, seq };
    const text = encodeServerFrame(message);
    const except = to === session.userId ? session.id : undefined;
    let live = await router.deliver(to, text, { exceptSessionId: except, owner: session.id });
    if (multiSession && to !== session.userId) {
      void router.deliver(session.userId, encodeServerFrame({ ...message, to, echo: true }), { exceptSessionId: session.id, receipts: false });
    }
    let stored: boolean;
    try {
      stored = await durable;
    } catch (error) {
      this.warner.warn('message-store', { err: (error as Error).message }, 'message delivered but not stored: database unavailable');
      return void reply(
        encodeError('NOT_STORED', `delivered to ${live.status === 'delivered' ? 'live sessions' : 'no session'} but not stored: send it again`, frame.id),
      );
    }
    if (!stored) {
      this.warner.warn('message-seq-taken', { conversation, seq }, 'message not stored: its seq was handed out twice (the counter was lost)');
      return void reply(encodeError('NOT_STORED', 'its seq was taken by another message, it was not stored: send it again', frame.id));
    }
    if (live.status !== 'delivered') live = await router.deliver(to, text, { exceptSessionId: except, owner: session.id });
    const delivered = live.status === 'delivered';
    if (delivered) counters.messagesOut++;
    const ack = ackFrame(frame.id ?? id, delivered ? 'delivered' : 'stored', live);
    reply(encodeServerFrame({ ...ack, conversation, seq }));
  }

  /** Refuses (answering the sender) a message to a user the gateway does not know, or cannot look up now. */
  private async refusedRecipient(session: Session, frame: ClientMessageFrame): Promise<boolean> {
    const { knownUsers, replay } = this.options;
    const to = frame.to;
    if (!knownUsers || to === session.userId) return false;
    let verdict: KnownVerdict | 'unavailable';
    try {
      verdict = await knownUsers.check(to, session.userId);
    } catch {
      verdict = 'unavailable' as const;
    }
    if (verdict === 'known') return false;
    const reply = (text: string) => replay.sendControl(session, text);
    if (verdict === 'unknown') reply(encodeError('UNKNOWN_USER', `user ${to} is unknown (never logged in): nothing was stored`, frame.id));
    else if (verdict === 'busy') reply(encodeError('QUOTA_EXCEEDED', refusalText('quota_lookups', to), frame.id));
    else reply(encodeError('NOT_AVAILABLE', 'the recipient cannot be looked up right now, nothing was sent; try again', frame.id));
    return true;
  }

  /** A server push (admin API): live, or queued while the user is offline. */
  async push(userId: string, content: unknown): Promise<{ id: string; status: PushResult } & SessionCounts> {
    const message: ServerMessageFrame = { type: 'message', server: true, content, id: randomUUID(), ts: this.options.now() };
    const counts: SessionCounts = { sessions: 0, dropped: 0 };
    const status = await this.deliverOrQueue(userId, message, undefined, counts);
    return { id: message.id, status, ...counts };
  }

  /**
   * Delivers to every session of the user, or stores it in their offline queue: a player's
   * message (`from` set) in the player lane, a server push in the server lane. Only for a known
   * user, and only within the queue's quotas; otherwise refused (counted by reason), nothing
   * stored. `counts` gets the live sessions that took it or refused it; `owner` (the sending
   * session) bounds the receipts it may wait for.
   */
  private async deliverOrQueue(
    userId: string,
    message: ServerMessageFrame,
    exceptSessionId?: string,
    counts?: SessionCounts,
    owner?: string,
    from?: string,
  ): Promise<PushResult> {
    const { router, queue, knownUsers } = this.options;
    const live = await router.deliver(userId, encodeServerFrame(message), { exceptSessionId, owner });
    if (counts) {
      counts.sessions = live.sessions;
      counts.dropped = live.dropped;
    }
    const result = live.status;
    if (result !== 'offline') return result;
    if (!queue || queue.limits.max === 0) return 'offline';
    try {
      // A message to oneself needs no lookup: whoever sends it is known.
      const verdict = knownUsers && from !== userId ? await knownUsers.check(userId, from) : 'known';
      if (verdict !== 'known') {
        queue.stats.count(verdict === 'busy' ? 'lookups' : 'unknown_user');
        return verdict === 'busy' ? 'quota_lookups' : 'unknown_user';
      }
      const pushed = await queue.push(userId, { id: message.id, frame: encodeServerFrame({ ...message, offline: true }), queuedAt: message.ts, from });
      if (!pushed.queued) {
        queue.stats.count(pushed.quota);
        return `quota_${pushed.quota}`;
      }
    } catch (error) {
      this.warner.warn('offline-queue', { userId, err: (error as Error).message }, 'offline queue unavailable');
      return 'unavailable';
    }
    void this.nudgeIfOnline(userId);
    return 'queued';
  }

  /**
   * The user may have come online between the presence read and the push, and their new session
   * may have fetched the queue before the push landed: tell their sessions to look again.
   */
  private async nudgeIfOnline(userId: string): Promise<void> {
    const { store, bus, log, connections, replay, nodeId } = this.options;
    try {
      if (connections.countOf(userId) > 0) replay.resume(connections.sessionsOf(userId) ?? []);
      const presence = await store.getPlayer(userId);
      if (presence?.status !== 'online') return;
      for (const [node, count] of Object.entries(presence.nodes)) {
        if (node !== nodeId && count > 0) await bus.publish(node, { kind: 'offline', userId });
      }
    } catch (error) {
      log.warn({ userId, err: (error as Error).message }, 'offline replay nudge not sent (the next session replays it)');
    }
  }
}
