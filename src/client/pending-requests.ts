/**
 * The SDK's requests waiting for their answer: messages, group messages and publishes (answered
 * by `ack`), history pages (by `history`), both matched on the client id; joins and leaves (by
 * `joined` / `left`, which carry no id, so in order per room), and pings (by `pong`, matched on
 * `ts`). Each has a timeout; an `error` frame rejects the request it names.
 */
import { FrameErrorCode } from '../protocol/error-codes.ts';
import type {
  ClientFrame,
  ServerAckFrame,
  ServerErrorFrame,
  ServerHistoryFrame,
  ServerJoinedFrame,
  ServerLeftFrame,
  ServerPongFrame,
} from '../protocol/frame-types.ts';
import { MAX_CLIENT_ID_LENGTH } from '../protocol/limits.ts';
import { GatehouseError } from './errors.ts';
import type { Timers } from './types.ts';

/**
 * Error codes without `ref` that answer no particular SDK request: a rate-limited frame (any of
 * them, dropped), or raw input sent through send().
 */
const UNCORRELATED_ERRORS: ReadonlySet<FrameErrorCode> = new Set([FrameErrorCode.RATE_LIMITED, FrameErrorCode.BAD_JSON, FrameErrorCode.BINARY_NOT_SUPPORTED]);

type RequestKind = 'send' | 'history' | 'join' | 'leave';

interface PendingRequest {
  kind: RequestKind;
  room?: string;
  resolve(value: unknown): void;
  reject(error: GatehouseError): void;
  timer: unknown;
}

export interface PendingPing {
  sentAt: number;
  /** Absent for the ping loop's own pings (no promise, no timer: pruned by the loop). */
  resolve?(rtt: number): void;
  reject?(error: GatehouseError): void;
  timer?: unknown;
}

export interface PendingRequestsDeps {
  timers: Timers;
  now: () => number;
  ackTimeoutMs: number;
  /** Sends a frame on the current socket; false when none is open. */
  send(frame: ClientFrame): boolean;
}

export class PendingRequests {
  private readonly requests = new Map<string, PendingRequest>();
  private readonly pings = new Map<number, PendingPing>();
  private pingSeq = 0;

  constructor(private readonly deps: PendingRequestsDeps) {}

  /** Sends `frame` (whose id is `id`) and waits for its answer. */
  request<T>(kind: RequestKind, frame: object, id: string, timeoutMs = this.deps.ackTimeoutMs, room?: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (typeof id !== 'string' || id.length === 0 || id.length > MAX_CLIENT_ID_LENGTH) {
        // The server could not name such an id in an error's `ref`: refuse it here.
        reject(new GatehouseError('BAD_MESSAGE', `id must be 1-${MAX_CLIENT_ID_LENGTH} characters`));
        return;
      }
      if (this.requests.has(id)) {
        reject(new GatehouseError('BAD_MESSAGE', `a request with id ${id} is already pending`, { ref: id }));
        return;
      }
      if (!this.deps.send(frame as ClientFrame)) {
        reject(new GatehouseError('NOT_CONNECTED', 'not connected', { ref: id }));
        return;
      }
      const timer = this.deps.timers.setTimeout(() => {
        this.requests.delete(id);
        reject(new GatehouseError('TIMEOUT', `no answer to ${(frame as { type: string }).type} ${id} within ${timeoutMs} ms`, { ref: id }));
      }, timeoutMs);
      const pending: PendingRequest = { kind, resolve: resolve as (value: unknown) => void, reject, timer };
      if (room !== undefined) pending.room = room;
      this.requests.set(id, pending);
    });
  }

  /** Sends a ping; resolves with the round-trip time in ms. */
  ping(timeoutMs: number): Promise<number> {
    const ts = ++this.pingSeq;
    return new Promise<number>((resolve, reject) => {
      if (!this.deps.send({ type: 'ping', ts })) {
        reject(new GatehouseError('NOT_CONNECTED', 'not connected'));
        return;
      }
      const timer = this.deps.timers.setTimeout(() => {
        this.pings.delete(ts);
        reject(new GatehouseError('TIMEOUT', `no pong within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pings.set(ts, { sentAt: this.deps.now(), resolve, reject, timer });
    });
  }

  /**
   * The ping loop's ping: no promise and no timer per ping (a game pings every second for hours);
   * unanswered ones are forgotten after ackTimeoutMs (the liveness check covers dead links).
   */
  loopPing(): void {
    const now = this.deps.now();
    for (const [ts, ping] of this.pings) {
      if (ping.resolve === undefined && now - ping.sentAt > this.deps.ackTimeoutMs) this.pings.delete(ts);
    }
    const ts = ++this.pingSeq;
    if (this.deps.send({ type: 'ping', ts })) this.pings.set(ts, { sentAt: now });
  }

  /** The ping a pong answers, taken off the list (undefined: not ours, or forgotten). */
  takePing(frame: ServerPongFrame): PendingPing | undefined {
    if (typeof frame.ts !== 'number') return undefined;
    const ping = this.pings.get(frame.ts);
    if (!ping) return undefined;
    this.pings.delete(frame.ts);
    if (ping.timer !== undefined) this.deps.timers.clearTimeout(ping.timer);
    return ping;
  }

  onAck(frame: ServerAckFrame): void {
    this.answerById('send', frame);
  }

  /** A `history` page; true when it answered a pending history() (false: late, or not the SDK's). */
  onHistory(frame: ServerHistoryFrame): boolean {
    return this.answerById('history', frame);
  }

  /** Resolves the pending request of that kind named by the answer's `id`; whether there was one. */
  private answerById(kind: 'send' | 'history', frame: { id?: string | undefined }): boolean {
    const pending = frame.id === undefined ? undefined : this.requests.get(frame.id);
    if (pending?.kind !== kind || frame.id === undefined) return false;
    this.settle(frame.id, pending);
    pending.resolve(frame);
    return true;
  }

  /** `joined` / `left`: the answer to the oldest pending join / leave of that room. */
  onRoomAnswer(kind: 'join' | 'leave', frame: ServerJoinedFrame | ServerLeftFrame): void {
    for (const [id, pending] of this.requests) {
      if (pending.kind === kind && pending.room === frame.room) {
        this.settle(id, pending);
        pending.resolve(frame);
        return;
      }
    }
  }

  onError(frame: ServerErrorFrame): void {
    let entry: [string, PendingRequest] | undefined;
    if (frame.ref !== undefined) {
      const pending = this.requests.get(frame.ref);
      if (pending) entry = [frame.ref, pending];
    } else if (!UNCORRELATED_ERRORS.has(frame.code)) {
      // The join/leave schema has no `id`, so the gateway's refusals of a join (FORBIDDEN,
      // NOT_AVAILABLE) carry no `ref`; the SDK's other frames always get one. Join/leave answers
      // come in frame order: such an error answers the oldest pending join/leave.
      entry = this.oldestRoomRequest();
    }
    if (!entry) return;
    this.settle(entry[0], entry[1]);
    entry[1].reject(new GatehouseError(frame.code, frame.error, { frame, ref: entry[0] }));
  }

  /** The connection ended: every request and ping fails with `error`. */
  rejectAll(error: GatehouseError): void {
    const requests = [...this.requests.values()];
    const pings = [...this.pings.values()];
    this.requests.clear();
    this.pings.clear();
    for (const pending of requests) {
      this.deps.timers.clearTimeout(pending.timer);
      pending.reject(error);
    }
    for (const ping of pings) {
      if (ping.timer !== undefined) this.deps.timers.clearTimeout(ping.timer);
      ping.reject?.(error);
    }
  }

  private settle(id: string, pending: PendingRequest): void {
    this.requests.delete(id);
    this.deps.timers.clearTimeout(pending.timer);
  }

  private oldestRoomRequest(): [string, PendingRequest] | undefined {
    for (const entry of this.requests) {
      if (entry[1].kind === 'join' || entry[1].kind === 'leave') return entry;
    }
    return undefined;
  }
}
