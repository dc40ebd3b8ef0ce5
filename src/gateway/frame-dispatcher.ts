/**
 * The path of one inbound frame of an open session: the inbound budget (frames and bytes per
 * second; a session over it is refused and not read until its window ends), the ping answered
 * from its text (every client, every second), then the parse and the handler of each frame type. Every
 * answer (pong, ack, error) goes through the offline replay's gate, so that after `connected`
 * the replay comes first and everything else follows in order.
 */
import { CloseCode, closeReason } from '../protocol/close-codes.ts';
import type { DirectMessages } from '../delivery/direct-messages.ts';
import { FrameIn, type GatewayCounters } from './gateway-counters.ts';
import { FrameErrorText } from '../protocol/error-codes.ts';
import type { OfflineReplay } from '../delivery/offline-replay.ts';
import { canonicalPingTs, encodeError, encodePong, encodePongText, parseFrameJson, pongTail, type ClientFrame } from '../protocol/frames.ts';
import type { RateLimitedWarner } from '../connection/rate-limited-warner.ts';
import { InboundBudget, type InboundTimers } from '../connection/inbound-budget.ts';
import type { RoomService } from '../delivery/room-service.ts';
import type { GroupMessages } from '../delivery/group-messages.ts';
import type { ReceivedPositions } from '../delivery/received-positions.ts';
import type { Session } from '../connection/session.ts';

const NO_STORED_CHAT = 'this gateway has no stored chat (groups and history)';

export interface FrameDispatcherDeps {
  maxContentBytes: number;
  counters: GatewayCounters;
  warner: RateLimitedWarner;
  replay: OfflineReplay;
  messages: DirectMessages;
  rooms: RoomService;
  /** Absent without stored chat: `group` and `history` frames are refused NOT_AVAILABLE. */
  groups?: GroupMessages | undefined;
  /** Absent without stored chat: `received` frames are ignored. */
  received?: ReceivedPositions | undefined;
  /** Timers of the inbound budget's pauses (default: real ones). */
  timers?: InboundTimers | undefined;
}

export class FrameDispatcher {
  /** The millisecond of the last pong, and the end of its text (see answerPing). */
  private pongTailMs = -1;
  private pongTail = '';

  /** Sessions over their frames/bytes per second, paused. */
  readonly inbound: InboundBudget;

  constructor(private readonly deps: FrameDispatcherDeps) {
    this.inbound = new InboundBudget({
      // One error frame per limited window, with the count of what it refused.
      onWindowEnd: (session, refused) => this.reply(session, encodeError('RATE_LIMITED', FrameErrorText.RATE_LIMITED, undefined, refused)),
      ...(deps.timers === undefined ? {} : { timers: deps.timers }),
    });
  }

  /** Handles one frame of an open session; `now` is the clock reading of its arrival. */
  handle(session: Session, data: string, binary: boolean, now: number): void {
    const { counters } = this.deps;
    // Before anything reads the text: a session over its budget costs a few numbers per frame.
    const verdict = this.inbound.admit(session, data.length, now);
    if (verdict !== 'ok') {
      counters.rateLimited++;
      counters.framesInByType[FrameIn.RateLimited]!++;
      if (verdict === 'close') {
        session.close(CloseCode.RATE_LIMITED, closeReason(CloseCode.RATE_LIMITED), 'kicked');
        return;
      }
      this.deps.warner.warn(session.id, { userId: session.userId, sessionId: session.id }, 'rate limited');
      return;
    }
    if (binary) {
      counters.framesInByType[FrameIn.Invalid]!++;
      this.reply(session, encodeError('BINARY_NOT_SUPPORTED', 'send JSON text frames'));
      return;
    }
    // The ping of every client every second: answered from its text, without a parse.
    const pingTs = canonicalPingTs(data);
    if (pingTs !== null) {
      this.answerPing(session, pingTs, now);
      return;
    }
    const parsed = parseFrameJson(data, { maxContentBytes: this.deps.maxContentBytes });
    if (!parsed.ok) {
      counters.framesInByType[FrameIn.Invalid]!++;
      this.reply(session, encodeError(parsed.code, parsed.error, parsed.ref));
      return;
    }
    this.dispatch(session, parsed.frame, now);
  }

  /** The pong of a canonical ping, with the `ts` text echoed as sent. */
  private answerPing(session: Session, tsText: string, now: number): void {
    this.deps.counters.framesInByType[FrameIn.Ping]!++;
    // Thousands of pongs share each millisecond: print the clock once per millisecond.
    if (now !== this.pongTailMs) {
      this.pongTailMs = now;
      this.pongTail = pongTail(now);
    }
    this.reply(session, encodePongText(tsText, this.pongTail));
  }

  private dispatch(session: Session, frame: ClientFrame, now: number): void {
    const { counters, messages, rooms, replay, groups } = this.deps;
    const byType = counters.framesInByType;
    switch (frame.type) {
      case 'ping':
        byType[FrameIn.Ping]!++;
        this.reply(session, encodePong(frame.ts, now));
        return;
      case 'message':
        byType[FrameIn.Message]!++;
        void messages.fromSession(session, frame, now);
        return;
      case 'join':
        byType[FrameIn.Join]!++;
        rooms.join(session, frame.room);
        return;
      case 'leave':
        byType[FrameIn.Leave]!++;
        rooms.leave(session, frame.room);
        return;
      case 'room':
        byType[FrameIn.Room]!++;
        void rooms.publish(session, frame);
        return;
      case 'ack':
        byType[FrameIn.Ack]!++;
        replay.ack(session, frame.id);
        return;
      case 'group':
        byType[FrameIn.Group]!++;
        if (groups) void groups.fromSession(session, frame);
        else this.reply(session, encodeError('NOT_AVAILABLE', NO_STORED_CHAT, frame.id));
        return;
      case 'history':
        byType[FrameIn.History]!++;
        if (groups) void groups.history(session, frame);
        else this.reply(session, encodeError('NOT_AVAILABLE', NO_STORED_CHAT, frame.id));
        return;
      case 'received':
        byType[FrameIn.Received]!++;
        this.deps.received?.fromSession(session, frame);
        return;
    }
  }

  /** The session ended: its pause, if any, ends too. */
  sessionClosed(session: Session): void {
    this.inbound.sessionClosed(session);
  }

  /** Pongs and errors are control frames: they overtake the bulk queued for a flooded client. */
  private reply(session: Session, frame: string): void {
    this.deps.replay.sendControl(session, frame);
  }
}
