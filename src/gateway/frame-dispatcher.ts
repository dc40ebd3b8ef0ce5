/**
 * The path of one inbound frame of an open session: the rate limit, the ping answered from its
 * text (every client, every second), then the parse and the handler of each frame type. Every
 * answer (pong, ack, error) goes through the offline replay's gate, so that after `connected`
 * the replay comes first and everything else follows in order.
 */
import { CloseCode, closeReason } from '../protocol/close-codes.ts';
import type { DirectMessages } from '../delivery/direct-messages.ts';
import { FrameIn, type GatewayCounters } from './gateway-counters.ts';
import type { OfflineReplay } from '../delivery/offline-replay.ts';
import { canonicalPingTs, encodeError, encodePong, encodePongText, parseFrameJson, pongTail, type ClientFrame } from '../protocol/frames.ts';
import type { RateLimitedWarner } from '../connection/rate-limited-warner.ts';
import type { RoomService } from '../delivery/room-service.ts';
import type { Session } from '../connection/session.ts';

export interface FrameDispatcherDeps {
  maxContentBytes: number;
  counters: GatewayCounters;
  warner: RateLimitedWarner;
  replay: OfflineReplay;
  messages: DirectMessages;
  rooms: RoomService;
}

export class FrameDispatcher {
  /** The millisecond of the last pong, and the end of its text (see answerPing). */
  private pongTailMs = -1;
  private pongTail = '';

  constructor(private readonly deps: FrameDispatcherDeps) {}

  /** Handles one frame of an open session; `now` is the clock reading of its arrival. */
  handle(session: Session, data: string, binary: boolean, now: number): void {
    const { counters } = this.deps;
    const verdict = session.limiter.hit(now);
    if (verdict !== 'ok') {
      counters.rateLimited++;
      counters.framesInByType[FrameIn.RateLimited]!++;
      if (verdict === 'close') {
        session.close(CloseCode.RATE_LIMITED, closeReason(CloseCode.RATE_LIMITED), 'kicked');
        return;
      }
      this.deps.warner.warn(session.id, { userId: session.userId, sessionId: session.id }, 'rate limited');
      this.reply(session, encodeError('RATE_LIMITED', 'too many frames per second'));
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
    const { counters, messages, rooms, replay } = this.deps;
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
    }
  }

  /** Pongs and errors are control frames: they overtake the bulk queued for a flooded client. */
  private reply(session: Session, frame: string): void {
    this.deps.replay.sendControl(session, frame);
  }
}
