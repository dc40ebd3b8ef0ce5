/**
 * GatehouseClient: the game/chat client of the Gatehouse wire protocol (PROTOCOL.md), for
 * browsers and Node. Connects with a token, pings on the server's heartbeat interval and measures
 * the round trip, reconnects with exponential backoff and full jitter unless the close code says
 * stop, emits a typed event per server frame, and turns acks / error frames into promises.
 *
 * Browser-safe: no Node module is imported; frame types come from the server's own schemas
 * (type-only imports) so the SDK cannot drift from the protocol.
 */
import { closeAdvice, CloseCode } from '../core/close-codes.ts';
import type {
  ClientFrame,
  ServerAckFrame,
  ServerBroadcastFrame,
  ServerConnectedFrame,
  ServerErrorFrame,
  ServerFrame,
  ServerJoinedFrame,
  ServerKickedFrame,
  ServerLeftFrame,
  ServerMessageFrame,
  ServerPongFrame,
  ServerReconnectFrame,
  ServerRoomFrame,
} from '../core/protocol.ts';
import { backoffDelay, DEFAULT_RECONNECT, type ReconnectOptions } from './backoff.ts';
import { TypedEmitter, type ListenerErrorHandler } from './emitter.ts';
import { GatehouseError } from './errors.ts';

// ---- the WebSocket we need ------------------------------------------------------------------

/** The part of the WebSocket API the SDK uses: the browser's, or Node's `ws` package. */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  addEventListener(type: 'open' | 'message' | 'close' | 'error', listener: (event: any) => void): void;
}

/** A WebSocket constructor: `globalThis.WebSocket` in browsers, `WebSocket` from `ws` in Node 20. */
export type WebSocketConstructor = new (url: string) => WebSocketLike;

const OPEN = 1;

// ---- options, events ------------------------------------------------------------------------

/** Timer functions, injectable for deterministic tests. */
export interface Timers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** A value, or a function giving it for each connection attempt (e.g. a fresh token). */
export type Provider<T> = T | (() => T | Promise<T>);

export interface GatehouseClientOptions {
  /** `ws://host:port/ws` or `wss://...`; a function is called before every attempt. */
  url: Provider<string>;
  /** Player JWT, sent as `?token=`; a function is called before every attempt (token refresh). */
  token?: Provider<string>;
  /** Development mode (`AUTH_MODE=none`): sent as `?userId=`. */
  userId?: string;
  /** WebSocket constructor. Default `globalThis.WebSocket`; in Node 20 pass `WebSocket` from `ws`. */
  WebSocket?: WebSocketConstructor;
  /** Ping interval; default the server's `heartbeat.intervalMs` (else 1000). 0 = no ping loop. */
  pingIntervalMs?: number;
  /**
   * No inbound frame for this long while connected = the connection is dead (a half-open TCP
   * connection never closes by itself): it is dropped with 4000 and reconnected. Default the
   * server's `heartbeat.timeoutMs`; 0 = never. Checked by the ping loop, on two ticks in a row
   * (so detection takes up to timeout + 2 intervals).
   */
  livenessTimeoutMs?: number;
  /** Timeout of acks, joins, leaves and pings. Default 5000 ms. */
  ackTimeoutMs?: number;
  /** Backoff settings, or `false` to never reconnect. */
  reconnect?: false | Partial<ReconnectOptions>;
  /**
   * Acknowledge replayed offline messages (`offline: true`) automatically. Default true. Acks are
   * cumulative on the server, so the SDK sends one ack for the last replayed message processed,
   * `autoAckDelayMs` (default 100) after it: a replay of 100 messages costs one or two frames, not
   * 100 (acks count against the server's rate limit).
   */
  autoAck?: boolean;
  autoAckDelayMs?: number;
  /** Random source in [0, 1) for the jitter. Default Math.random. */
  random?: () => number;
  /** Timer functions. Default the global setTimeout / clearTimeout. */
  timers?: Timers;
  /** Monotonic clock in ms for RTTs. Default performance.now (else Date.now). */
  now?: () => number;
  /** Errors thrown by event listeners. Default: rethrown asynchronously. */
  onListenerError?: ListenerErrorHandler;
}

/** Connection states, in the order a connection goes through them. */
export type ConnectionState =
  /** Created, connect() not called yet. */
  | 'idle'
  /** Opening a WebSocket. */
  | 'connecting'
  /** WebSocket open, waiting for the server's `connected` frame. */
  | 'open'
  /** `connected` received: pinging, requests answered. */
  | 'connected'
  /** close() called, waiting for the close handshake. */
  | 'closing'
  /** Lost the connection; waiting `delayMs` before the next attempt. */
  | 'reconnecting'
  /** Stopped for good (close(), a "stop" close code, or no reconnect configured). */
  | 'closed';

/** What the `close` event carries. */
export interface CloseInfo {
  /** WebSocket close code (1006 when the connection failed or was lost without a close frame). */
  code: number;
  reason: string;
  /** Whether the client will try again, after `delayMs`. */
  willReconnect: boolean;
  delayMs: number | undefined;
  /** True when close() ended it. */
  byClient: boolean;
  /** Whether this connection had received `connected`. */
  wasConnected: boolean;
  /** HTTP status of a refused handshake, when the WebSocket implementation tells (Node `ws`). */
  status?: number;
}

/** A server `message` frame; replays from the offline queue carry `offline: true`. */
export type MessageEvent = ServerMessageFrame & { offline?: boolean };

/** The answer to sendTo / publish. */
export interface Ack {
  /** The client id of the frame (generated unless given). */
  id: string;
  /** `delivered` to a live session, or `queued` for an offline recipient. */
  status: ServerAckFrame['status'];
}

export interface GatehouseEvents {
  /** The WebSocket opened (before `connected`). */
  open: { url: string };
  connected: ServerConnectedFrame;
  message: MessageEvent;
  room: ServerRoomFrame;
  broadcast: ServerBroadcastFrame;
  /** Every server `error` frame, including those that also reject a request's promise. */
  error: ServerErrorFrame;
  kicked: ServerKickedFrame;
  /** The server asks to reconnect (drain); the close follows. */
  reconnect: ServerReconnectFrame;
  pong: ServerPongFrame;
  ack: ServerAckFrame;
  joined: ServerJoinedFrame;
  left: ServerLeftFrame;
  /** Every parsed inbound frame, before its typed event (unknown types included). */
  frame: ServerFrame | { type: string; [key: string]: unknown };
  close: CloseInfo;
  /** Round-trip time of a ping, in ms. */
  rtt: number;
  state: { state: ConnectionState; previous: ConnectionState };
}

export interface RequestOptions {
  /** Client message id (≤ 64 characters); generated when absent. */
  id?: string;
  /** Default ackTimeoutMs. */
  timeoutMs?: number;
}

// ---- internals ------------------------------------------------------------------------------

interface PendingRequest {
  kind: 'send' | 'join' | 'leave';
  room?: string;
  resolve(value: unknown): void;
  reject(error: GatehouseError): void;
  timer: unknown;
}

interface PendingPing {
  sentAt: number;
  /** Absent for the ping loop's own pings (no promise, no timer: pruned by the loop). */
  resolve?(rtt: number): void;
  reject?(error: GatehouseError): void;
  timer?: unknown;
}

interface Waiter {
  resolve(frame: ServerConnectedFrame): void;
  reject(error: GatehouseError): void;
}

/** The `ws` package reports refused handshakes as this error text. */
const WS_REFUSED = /Unexpected server response: (\d{3})/;
/** Handshake refusals that retrying with the same credentials cannot fix. */
const FATAL_HANDSHAKE_STATUS: ReadonlySet<number> = new Set([400, 401, 403]);
/** Policy violation: no reconnect, like the table's "stop" codes. */
const POLICY_VIOLATION = 1008;
/** Longest client message id (protocol.ts MAX_CLIENT_ID_LENGTH). */
const MAX_ID_LENGTH = 64;
/** Abnormal closure: what a lost connection reports. */
const ABNORMAL = 1006;
/**
 * Error codes without `ref` that answer no particular SDK request: a rate-limited frame (any of
 * them, dropped), or raw input sent through send().
 */
const UNCORRELATED_ERRORS: ReadonlySet<string> = new Set(['RATE_LIMITED', 'BAD_JSON', 'BINARY_NOT_SUPPORTED']);

let idCounter = 0;

/** A unique client message id: crypto.randomUUID where available, else time + counter + random. */
export function newMessageId(): string {
  const c = (globalThis as { crypto?: { randomUUID?: () => string } }).crypto;
  if (typeof c?.randomUUID === 'function') return c.randomUUID();
  idCounter = (idCounter + 1) % Number.MAX_SAFE_INTEGER;
  return `${Date.now().toString(36)}-${idCounter.toString(36)}-${Math.random().toString(36).slice(2, 12)}`;
}

const defaultTimers: Timers = {
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

const defaultNow = (): number => {
  const perf = (globalThis as { performance?: { now(): number } }).performance;
  return perf ? perf.now() : Date.now();
};

const resolveProvider = async <T>(value: Provider<T>): Promise<T> =>
  typeof value === 'function' ? await (value as () => T | Promise<T>)() : value;

/** Whether a close code (plus what the client knows) means "do not reconnect". */
export function isStopCode(code: number): boolean {
  return code === POLICY_VIOLATION || closeAdvice(code) === 'stop';
}

// ---- the client -----------------------------------------------------------------------------

export class GatehouseClient extends TypedEmitter<GatehouseEvents> {
  private readonly options: GatehouseClientOptions;
  private readonly WS: WebSocketConstructor;
  private readonly reconnectOptions: ReconnectOptions | undefined;
  private readonly ackTimeoutMs: number;
  private readonly timers: Timers;
  private readonly random: () => number;
  private readonly now: () => number;

  private currentState: ConnectionState = 'idle';
  private socket: WebSocketLike | undefined;
  /** Bumped for every attempt and every give-up: stale sockets and stale timers check it. */
  private generation = 0;
  private currentSession: ServerConnectedFrame | undefined;
  private lastRttMs: number | undefined;
  private attempts = 0;
  private reconnectTimer: unknown;
  private pingTimer: unknown;
  private closeTimer: unknown;
  private ackTimer: unknown;
  /** Server id of the last offline replay processed and not yet acknowledged. */
  private unackedOfflineId: string | undefined;
  private lastInboundAt = 0;
  private pingSeq = 0;
  private handshakeStatus: number | undefined;
  private serverReconnectAfterMs: number | undefined;
  private userClosed = false;
  /** The current socket received `connected`. */
  private socketConnected = false;
  private lastClose: CloseInfo | undefined;
  private readonly requests = new Map<string, PendingRequest>();
  private readonly pings = new Map<number, PendingPing>();
  private connectWaiters: Waiter[] = [];
  private closeWaiters: Array<(info: CloseInfo) => void> = [];

  constructor(options: GatehouseClientOptions) {
    super(options.onListenerError);
    const WS = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (!WS) {
      throw new TypeError("GatehouseClient: no global WebSocket; pass { WebSocket } (in Node 20: import WebSocket from 'ws')");
    }
    this.options = options;
    this.WS = WS;
    this.reconnectOptions = options.reconnect === false ? undefined : { ...DEFAULT_RECONNECT, ...options.reconnect };
    this.ackTimeoutMs = options.ackTimeoutMs ?? 5000;
    this.timers = options.timers ?? defaultTimers;
    this.random = options.random ?? Math.random;
    this.now = options.now ?? defaultNow;
  }

  /** Current connection state. */
  get state(): ConnectionState {
    return this.currentState;
  }

  /** The `connected` frame of the current connection (undefined when not connected). */
  get session(): ServerConnectedFrame | undefined {
    return this.currentState === 'connected' ? this.currentSession : undefined;
  }

  /** The last measured round-trip time in ms. */
  get rtt(): number | undefined {
    return this.lastRttMs;
  }

  /** Consecutive reconnect attempts since the last `connected` (reset by it). */
  get reconnectAttempts(): number {
    return this.attempts;
  }

  /** The current WebSocket object (a `ws` WebSocket in Node), for what the SDK does not cover. */
  get rawSocket(): WebSocketLike | undefined {
    return this.socket;
  }

  /**
   * Connects (or, while waiting to reconnect, connects now). Resolves with the next `connected`
   * frame; keeps retrying through failures when reconnecting is on, and rejects with
   * GatehouseError `CLOSED` once the client stops for good (close(), a stop close code, a refused
   * handshake, or any failure with `reconnect: false`).
   */
  connect(): Promise<ServerConnectedFrame> {
    if (this.currentState === 'connected' && this.currentSession) return Promise.resolve(this.currentSession);
    const ready = new Promise<ServerConnectedFrame>((resolve, reject) => this.connectWaiters.push({ resolve, reject }));
    if (this.currentState === 'idle' || this.currentState === 'closed' || this.currentState === 'reconnecting') {
      this.userClosed = false;
      this.clearTimer('reconnectTimer');
      void this.attempt();
    }
    return ready;
  }

  /**
   * Closes for good (no reconnect): pending requests reject with `CLOSED`. Resolves with the close
   * once the close handshake is over (or after ackTimeoutMs if the server does not answer).
   */
  close(code: number = CloseCode.NORMAL, reason = 'client closed'): Promise<CloseInfo> {
    this.userClosed = true;
    this.clearTimer('reconnectTimer');
    const done = new Promise<CloseInfo>((resolve) => this.closeWaiters.push(resolve));
    const socket = this.socket;
    if (socket) {
      if (this.currentState !== 'closing') {
        this.flushOfflineAck();
        this.setState('closing');
        this.stopHeartbeat();
        try {
          socket.close(code, reason);
        } catch {
          // invalid code for this implementation, or already closing: detach below on timeout
        }
        this.closeTimer = this.timers.setTimeout(() => {
          if (this.socket === socket) this.dropSocket(ABNORMAL, 'close handshake timed out');
        }, this.ackTimeoutMs);
      }
    } else if (this.currentState !== 'closed') {
      // Between attempts (or resolving the URL): nothing is open, stop now.
      this.generation++;
      this.finish({ code, reason, willReconnect: false, delayMs: undefined, byClient: true, wasConnected: false });
    } else {
      this.resolveCloseWaiters(this.lastClose ?? { code, reason, willReconnect: false, delayMs: undefined, byClient: true, wasConnected: false });
    }
    return done;
  }

  /**
   * Sends a frame as is (no id, no tracking): a typed client frame, or a raw string. Returns false
   * when no socket is open.
   */
  send(frame: ClientFrame | string): boolean {
    const socket = this.socket;
    if (!socket || socket.readyState !== OPEN) return false;
    socket.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
    return true;
  }

  /** Direct message to a user; resolves with the ack (`delivered` / `queued`). */
  sendTo(userId: string, content: unknown, options: RequestOptions = {}): Promise<Ack> {
    const id = options.id ?? newMessageId();
    return this.request<ServerAckFrame>('send', { type: 'message', to: userId, content, id }, id, options.timeoutMs).then((ack) => ({ id, status: ack.status }));
  }

  /** Publishes to a room (membership required); resolves with the ack. */
  publish(room: string, content: unknown, options: RequestOptions = {}): Promise<Ack> {
    const id = options.id ?? newMessageId();
    return this.request<ServerAckFrame>('send', { type: 'room', room, content, id }, id, options.timeoutMs).then((ack) => ({ id, status: ack.status }));
  }

  /**
   * Joins a room; resolves on `joined`. Memberships belong to a connection: join again after a
   * reconnect (in a `connected` listener).
   */
  join(room: string, options: RequestOptions = {}): Promise<ServerJoinedFrame> {
    const id = options.id ?? newMessageId();
    // `id` is not part of the join schema (unknown fields are ignored): it lets the server name
    // this frame in the `ref` of an error.
    return this.request<ServerJoinedFrame>('join', { type: 'join', room, id }, id, options.timeoutMs, room);
  }

  /** Leaves a room; resolves on `left`. */
  leave(room: string, options: RequestOptions = {}): Promise<ServerLeftFrame> {
    const id = options.id ?? newMessageId();
    return this.request<ServerLeftFrame>('leave', { type: 'leave', room, id }, id, options.timeoutMs, room);
  }

  /** Sends a ping; resolves with the round-trip time in ms (also emitted as `rtt`). */
  ping(timeoutMs: number = this.ackTimeoutMs): Promise<number> {
    const ts = ++this.pingSeq;
    return new Promise<number>((resolve, reject) => {
      if (!this.send({ type: 'ping', ts })) {
        reject(new GatehouseError('NOT_CONNECTED', 'not connected'));
        return;
      }
      const timer = this.timers.setTimeout(() => {
        this.pings.delete(ts);
        reject(new GatehouseError('TIMEOUT', `no pong within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pings.set(ts, { sentAt: this.now(), resolve, reject, timer });
    });
  }

  // ---- requests ---------------------------------------------------------------------------

  private request<T>(kind: PendingRequest['kind'], frame: object, id: string, timeoutMs = this.ackTimeoutMs, room?: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (typeof id !== 'string' || id.length === 0 || id.length > MAX_ID_LENGTH) {
        // The server could not name such an id in an error's `ref`: refuse it here.
        reject(new GatehouseError('BAD_MESSAGE', `id must be 1-${MAX_ID_LENGTH} characters`));
        return;
      }
      if (this.requests.has(id)) {
        reject(new GatehouseError('BAD_MESSAGE', `a request with id ${id} is already pending`, { ref: id }));
        return;
      }
      if (!this.send(frame as ClientFrame)) {
        reject(new GatehouseError('NOT_CONNECTED', 'not connected', { ref: id }));
        return;
      }
      const timer = this.timers.setTimeout(() => {
        this.requests.delete(id);
        reject(new GatehouseError('TIMEOUT', `no answer to ${(frame as { type: string }).type} ${id} within ${timeoutMs} ms`, { ref: id }));
      }, timeoutMs);
      const pending: PendingRequest = { kind, resolve: resolve as (value: unknown) => void, reject, timer };
      if (room !== undefined) pending.room = room;
      this.requests.set(id, pending);
    });
  }

  private settle(id: string, pending: PendingRequest): void {
    this.requests.delete(id);
    this.timers.clearTimeout(pending.timer);
  }

  /** The oldest pending join/leave of a room (the server answers those in order). */
  private roomRequest(kind: 'join' | 'leave', room: string): [string, PendingRequest] | undefined {
    for (const entry of this.requests) {
      if (entry[1].kind === kind && entry[1].room === room) return entry;
    }
    return undefined;
  }

  private rejectAll(error: GatehouseError): void {
    const requests = [...this.requests];
    const pings = [...this.pings.values()];
    this.requests.clear();
    this.pings.clear();
    for (const [, pending] of requests) {
      this.timers.clearTimeout(pending.timer);
      pending.reject(error);
    }
    for (const ping of pings) {
      if (ping.timer !== undefined) this.timers.clearTimeout(ping.timer);
      ping.reject?.(error);
    }
  }

  // ---- connection lifecycle ------------------------------------------------------------------

  private setState(state: ConnectionState): void {
    const previous = this.currentState;
    if (previous === state) return;
    this.currentState = state;
    this.emit('state', { state, previous });
  }

  private async buildUrl(): Promise<string> {
    const url = new URL(await resolveProvider(this.options.url));
    if (this.options.token !== undefined) url.searchParams.set('token', await resolveProvider(this.options.token));
    if (this.options.userId !== undefined) url.searchParams.set('userId', this.options.userId);
    return url.toString();
  }

  private async attempt(): Promise<void> {
    const generation = ++this.generation;
    this.setState('connecting');
    let url: string;
    try {
      url = await this.buildUrl();
    } catch (error) {
      if (generation !== this.generation) return;
      // A failing token/URL provider may recover (e.g. the auth server was down): back off.
      this.connectionEnded(ABNORMAL, `cannot build the URL: ${(error as Error).message}`, false);
      return;
    }
    if (generation !== this.generation || this.userClosed) return;
    let socket: WebSocketLike;
    try {
      socket = new this.WS(url);
    } catch (error) {
      // A malformed URL never gets better: stop.
      this.finish({ code: ABNORMAL, reason: (error as Error).message, willReconnect: false, delayMs: undefined, byClient: false, wasConnected: false });
      return;
    }
    this.socket = socket;
    this.socketConnected = false;
    this.handshakeStatus = undefined;
    this.serverReconnectAfterMs = undefined;
    socket.addEventListener('open', () => {
      if (this.socket !== socket) return;
      this.lastInboundAt = this.now();
      this.setState('open');
      this.emit('open', { url });
    });
    socket.addEventListener('message', (event: { data?: unknown }) => {
      if (this.socket !== socket || typeof event.data !== 'string') return; // binary: not in the protocol
      this.onText(event.data);
    });
    socket.addEventListener('error', (event: { message?: unknown; error?: { message?: unknown } }) => {
      if (this.socket !== socket) return;
      const text = typeof event.message === 'string' ? event.message : event.error?.message;
      const refused = typeof text === 'string' ? WS_REFUSED.exec(text) : null;
      if (refused) this.handshakeStatus = Number(refused[1]);
      // a close event always follows
    });
    socket.addEventListener('close', (event: { code?: number; reason?: string }) => {
      if (this.socket !== socket) return;
      this.socket = undefined;
      const code = typeof event.code === 'number' ? event.code : ABNORMAL;
      this.connectionEnded(code, typeof event.reason === 'string' ? event.reason : '', this.socketConnected);
    });
  }

  /** Detaches the current socket (its later events are ignored) and treats it as closed. */
  private dropSocket(code: number, reason: string): void {
    const socket = this.socket;
    if (!socket) return;
    const wasConnected = this.socketConnected;
    this.socket = undefined;
    try {
      const terminate = (socket as { terminate?: () => void }).terminate;
      if (typeof terminate === 'function') terminate.call(socket);
      // Browsers only accept 1000 and 3000-4999 from a client.
      else if (code === CloseCode.NORMAL || (code >= 3000 && code <= 4999)) socket.close(code, reason);
      else socket.close();
    } catch {
      // already closed
    }
    this.connectionEnded(code, reason, wasConnected);
  }

  /** One connection ended (or one attempt failed): reconnect or finish. */
  private connectionEnded(code: number, reason: string, wasConnected: boolean): void {
    this.stopHeartbeat();
    this.clearTimer('closeTimer');
    // Unacknowledged replays stay queued on the server and come again with the next session.
    this.clearTimer('ackTimer');
    this.unackedOfflineId = undefined;
    const status = this.handshakeStatus;
    this.handshakeStatus = undefined;
    const shownReason = reason || (status !== undefined ? `handshake refused with HTTP ${status}` : '');
    const base = { code, reason: shownReason, byClient: this.userClosed, wasConnected, ...(status !== undefined ? { status } : {}) };
    this.rejectAll(new GatehouseError('CLOSED', `connection closed (${code}${shownReason ? ` ${shownReason}` : ''})`));

    const options = this.reconnectOptions;
    const stop =
      this.userClosed ||
      !options ||
      isStopCode(code) ||
      (status !== undefined && FATAL_HANDSHAKE_STATUS.has(status)) ||
      this.attempts >= options.maxAttempts;
    if (stop) {
      this.finish({ ...base, willReconnect: false, delayMs: undefined });
      return;
    }
    const jitter = backoffDelay(this.attempts, options, this.random);
    let delayMs = jitter;
    if (closeAdvice(code) === 'reconnect-later') delayMs = options.rateLimitedDelayMs + jitter;
    else if (this.serverReconnectAfterMs !== undefined) delayMs = this.serverReconnectAfterMs + jitter;
    this.serverReconnectAfterMs = undefined;
    this.attempts++;
    const info: CloseInfo = { ...base, willReconnect: true, delayMs };
    this.lastClose = info;
    this.setState('reconnecting');
    const generation = ++this.generation;
    this.reconnectTimer = this.timers.setTimeout(() => {
      this.reconnectTimer = undefined;
      if (generation === this.generation && !this.userClosed) void this.attempt();
    }, delayMs);
    this.emit('close', info);
  }

  /** Stopped for good. */
  private finish(info: CloseInfo): void {
    this.generation++;
    this.clearTimer('reconnectTimer');
    this.clearTimer('closeTimer');
    this.clearTimer('ackTimer');
    this.unackedOfflineId = undefined;
    this.stopHeartbeat();
    this.lastClose = info;
    this.rejectAll(new GatehouseError('CLOSED', 'client closed'));
    const waiters = this.connectWaiters;
    this.connectWaiters = [];
    this.setState('closed');
    this.emit('close', info);
    for (const waiter of waiters) {
      waiter.reject(new GatehouseError('CLOSED', `connection closed (${info.code}${info.reason ? ` ${info.reason}` : ''}) before connected`));
    }
    this.resolveCloseWaiters(info);
  }

  private resolveCloseWaiters(info: CloseInfo): void {
    const waiters = this.closeWaiters;
    this.closeWaiters = [];
    for (const resolve of waiters) resolve(info);
  }

  private clearTimer(name: 'reconnectTimer' | 'pingTimer' | 'closeTimer' | 'ackTimer'): void {
    if (this[name] !== undefined) this.timers.clearTimeout(this[name]);
    this[name] = undefined;
  }

  // ---- heartbeat ----------------------------------------------------------------------------

  private startHeartbeat(connected: ServerConnectedFrame): void {
    this.stopHeartbeat();
    const interval = this.options.pingIntervalMs ?? (connected.heartbeat?.intervalMs || 1000);
    if (!(interval > 0)) return;
    const liveness = this.options.livenessTimeoutMs ?? connected.heartbeat?.timeoutMs ?? 0;
    const socket = this.socket;
    let silentTicks = 0;
    const tick = () => {
      this.pingTimer = undefined;
      if (this.socket !== socket || this.currentState !== 'connected') return;
      // Silent past the limit on two ticks in a row: a stalled event loop (a long GC, a frozen
      // tab) delays the tick and the socket reads alike, and the reads run between two ticks.
      if (liveness > 0 && this.now() - this.lastInboundAt > liveness) {
        if (silentTicks++ > 0) {
          this.dropSocket(CloseCode.HEARTBEAT_TIMEOUT, `no frame from the server for ${liveness} ms`);
          return;
        }
      } else {
        silentTicks = 0;
      }
      this.loopPing();
      this.pingTimer = this.timers.setTimeout(tick, interval);
    };
    tick();
  }

  /**
   * The loop's ping: no promise and no timer per ping (a game pings every second for hours);
   * unanswered ones are forgotten after ackTimeoutMs (the liveness check covers dead links).
   */
  private loopPing(): void {
    const now = this.now();
    for (const [ts, ping] of this.pings) {
      if (ping.resolve === undefined && now - ping.sentAt > this.ackTimeoutMs) this.pings.delete(ts);
    }
    const ts = ++this.pingSeq;
    if (this.send({ type: 'ping', ts })) this.pings.set(ts, { sentAt: now });
  }

  private stopHeartbeat(): void {
    this.clearTimer('pingTimer');
  }

  // ---- inbound frames ---------------------------------------------------------------------

  private onText(text: string): void {
    this.lastInboundAt = this.now();
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      return; // the server only sends JSON objects; ignore anything else
    }
    if (typeof value !== 'object' || value === null || typeof (value as { type?: unknown }).type !== 'string') return;
    const frame = value as ServerFrame;
    this.emit('frame', frame);
    switch (frame.type) {
      case 'connected':
        return this.onConnected(frame);
      case 'pong':
        return this.onPong(frame);
      case 'ack':
        return this.onAck(frame);
      case 'error':
        return this.onError(frame);
      case 'message':
        return this.onMessage(frame);
      case 'joined': {
        this.emit('joined', frame);
        const entry = this.roomRequest('join', frame.room);
        if (entry) {
          this.settle(entry[0], entry[1]);
          entry[1].resolve(frame);
        }
        return;
      }
      case 'left': {
        this.emit('left', frame);
        const entry = this.roomRequest('leave', frame.room);
        if (entry) {
          this.settle(entry[0], entry[1]);
          entry[1].resolve(frame);
        }
        return;
      }
      case 'room':
        return this.emit('room', frame);
      case 'broadcast':
        return this.emit('broadcast', frame);
      case 'kicked':
        return this.emit('kicked', frame);
      case 'reconnect':
        if (typeof frame.afterMs === 'number' && frame.afterMs >= 0) this.serverReconnectAfterMs = frame.afterMs;
        return this.emit('reconnect', frame);
      default:
        return; // a newer server's frame: only the `frame` event sees it
    }
  }

  private onConnected(frame: ServerConnectedFrame): void {
    if (this.currentState === 'closing') return;
    this.currentSession = frame;
    this.socketConnected = true;
    this.attempts = 0;
    this.setState('connected');
    this.startHeartbeat(frame);
    const waiters = this.connectWaiters;
    this.connectWaiters = [];
    this.emit('connected', frame);
    for (const waiter of waiters) waiter.resolve(frame);
  }

  private onPong(frame: ServerPongFrame): void {
    const ping = typeof frame.ts === 'number' ? this.pings.get(frame.ts) : undefined;
    this.emit('pong', frame);
    if (!ping || frame.ts === undefined) return;
    this.pings.delete(frame.ts);
    if (ping.timer !== undefined) this.timers.clearTimeout(ping.timer);
    const rtt = Math.max(0, this.now() - ping.sentAt);
    this.lastRttMs = rtt;
    this.emit('rtt', rtt);
    ping.resolve?.(rtt);
  }

  private onAck(frame: ServerAckFrame): void {
    this.emit('ack', frame);
    const pending = frame.id === undefined ? undefined : this.requests.get(frame.id);
    if (!pending || pending.kind !== 'send' || frame.id === undefined) return;
    this.settle(frame.id, pending);
    pending.resolve(frame);
  }

  private onError(frame: ServerErrorFrame): void {
    this.emit('error', frame);
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

  private oldestRoomRequest(): [string, PendingRequest] | undefined {
    for (const entry of this.requests) {
      if (entry[1].kind === 'join' || entry[1].kind === 'leave') return entry;
    }
    return undefined;
  }

  private onMessage(frame: MessageEvent): void {
    this.emit('message', frame);
    // Offline replay: acknowledged after the listeners ran, so the server drops it (and every
    // message queued before it) from the queue.
    if (frame.offline === true && typeof frame.id === 'string' && this.options.autoAck !== false) {
      this.unackedOfflineId = frame.id;
      if (this.ackTimer === undefined) {
        const socket = this.socket;
        this.ackTimer = this.timers.setTimeout(() => {
          this.ackTimer = undefined;
          if (this.socket === socket) this.flushOfflineAck();
        }, this.options.autoAckDelayMs ?? 100);
      }
    }
  }

  /** Sends the pending cumulative offline ack, if any. */
  private flushOfflineAck(): void {
    this.clearTimer('ackTimer');
    const id = this.unackedOfflineId;
    this.unackedOfflineId = undefined;
    if (id !== undefined) this.send({ type: 'ack', id });
  }
}
