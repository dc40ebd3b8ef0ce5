/**
 * GatehouseClient: the game/chat client of the Gatehouse wire protocol (PROTOCOL.md), for
 * browsers and Node. Connects with a token, pings on the server's heartbeat interval and measures
 * the round trip, reconnects with exponential backoff and full jitter unless the close code says
 * stop, emits a typed event per server frame (each message once, by its server id), turns acks,
 * history pages and error frames into promises, and keeps the stored conversations gap-free and
 * acknowledged (stored-positions.ts).
 *
 * Browser-safe: no Node module is imported; frame types come from the server's own schemas
 * (type-only imports) so the SDK cannot drift from the protocol.
 */
import { closeAdvice, CloseCode } from '../protocol/close-codes.ts';
import { parseConversationId } from '../protocol/conversation-ids.ts';
import type {
  ClientFrame,
  ClientHistoryFrame,
  ServerAckFrame,
  ServerConnectedFrame,
  ServerFrame,
  ServerGroupFrame,
  ServerHistoryFrame,
  ServerJoinedFrame,
  ServerLeftFrame,
  ServerPongFrame,
  StoredMessageView,
} from '../protocol/frame-types.ts';
import { backoffDelay, DEFAULT_RECONNECT, type ReconnectOptions } from './backoff.ts';
import { TypedEmitter } from './emitter.ts';
import { GatehouseError } from './errors.ts';
import { newMessageId } from './message-id.ts';
import { OfflineAcks } from './offline-acks.ts';
import { PendingRequests } from './pending-requests.ts';
import { RecentIds } from './recent-ids.ts';
import { DEFAULT_GAP_FILL_DELAY_MS, StoredPositions } from './stored-positions.ts';
import type {
  Ack,
  CloseInfo,
  ConnectionState,
  GatehouseClientOptions,
  GatehouseEvents,
  HistoryOptions,
  MessageEvent,
  Provider,
  RequestOptions,
  StoredAck,
  Timers,
  WebSocketConstructor,
  WebSocketLike,
} from './types.ts';

const OPEN = 1;
/** Server message ids remembered for de-duplication unless `dedupeWindow` says otherwise. */
const DEFAULT_DEDUPE_WINDOW = 1000;
/** Ids of the SDK's own history requests (gap fill): their pages are not the app's `history` events. */
const FILL_ID_PREFIX = 'fill:';

// ---- internals ------------------------------------------------------------------------------

interface Waiter {
  resolve(frame: ServerConnectedFrame): void;
  reject(error: GatehouseError): void;
}

/** The `ws` package reports refused handshakes as this error text. */
const WS_REFUSED = /Unexpected server response: (\d{3})/;
/** Handshake refusals that retrying with the same credentials cannot fix. */
const FATAL_HANDSHAKE_STATUS: ReadonlySet<number> = new Set([400, 401, 403]);

/** A Retry-After header (delay-seconds or an HTTP date) in ms; undefined when absent or unreadable. */
export function retryAfterMs(value: string | string[] | undefined, now: number): number | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  if (text === undefined) return undefined;
  if (/^\s*\d+\s*$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** What the `ws` package passes to 'unexpected-response' (browsers expose no such event). */
interface RefusedHandshake {
  statusCode?: number;
  headers?: Record<string, string | string[] | undefined>;
  once?(event: 'end' | 'close', listener: () => void): unknown;
  resume?(): unknown;
}
/** Policy violation: no reconnect, like the table's "stop" codes. */
const POLICY_VIOLATION = 1008;
/** Abnormal closure: what a lost connection reports. */
const ABNORMAL = 1006;

const defaultTimers: Timers = {
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

const defaultNow = (): number => {
  const perf = (globalThis as { performance?: { now(): number } }).performance;
  return perf ? perf.now() : Date.now();
};

const resolveProvider = async <T>(value: Provider<T>): Promise<T> => (typeof value === 'function' ? await (value as () => T | Promise<T>)() : value);

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
  private lastInboundAt = 0;
  private handshakeStatus: number | undefined;
  private serverReconnectAfterMs: number | undefined;
  /** The reason of the current socket's `kicked` frame (reported with its close). */
  private kickedReason: string | undefined;
  private userClosed = false;
  /** Rooms joined and not left: joined again on every new connection. */
  private readonly rooms = new Set<string>();
  /** Some earlier connection of this client was established (the next `connected` is a reconnect). */
  private wasEverConnected = false;
  /** The current socket received `connected`. */
  private socketConnected = false;
  private lastClose: CloseInfo | undefined;
  private readonly pending: PendingRequests;
  private readonly offlineAcks: OfflineAcks;
  /** Server ids of the messages emitted lately (kept across reconnects: a recovery repeats the last connection's). */
  private readonly recentIds: RecentIds;
  /** De-duplication on (`dedupeWindow` > 0): stored messages are also recognised by their seq. */
  private readonly dedupe: boolean;
  /** Positions in the stored conversations, gap fill, `received` frames (kept across reconnects). */
  private readonly stored: StoredPositions;
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
    const send = (frame: ClientFrame) => this.send(frame);
    this.pending = new PendingRequests({ timers: this.timers, now: this.now, ackTimeoutMs: this.ackTimeoutMs, send });
    this.offlineAcks = new OfflineAcks({ timers: this.timers, delayMs: options.autoAckDelayMs ?? 100, send });
    this.recentIds = new RecentIds(options.dedupeWindow ?? DEFAULT_DEDUPE_WINDOW);
    this.dedupe = (options.dedupeWindow ?? DEFAULT_DEDUPE_WINDOW) > 0;
    this.stored = new StoredPositions({
      timers: this.timers,
      random: this.random,
      acknowledge: options.acknowledgeStored !== false,
      fillGaps: options.fillGaps !== false,
      gapFillDelayMs: options.gapFillDelayMs ?? DEFAULT_GAP_FILL_DELAY_MS,
      send,
      page: (conversation, after, limit) => this.fillPage(conversation, after, limit),
      deliver: (conversation, message) => this.deliverPaged(conversation, message),
    });
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

  /**
   * How far the app has a stored conversation: the highest seq N such that every message of it
   * from the first one this client object saw up to N was given to the app (as a `message` /
   * `group` event, or its own message acknowledged with that seq). Undefined before the first.
   * The SDK reports it to the server with `received` frames (see `acknowledgeStored`).
   */
  storedPosition(conversation: string): number | undefined {
    return this.stored.position(conversation);
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
        this.offlineAcks.flush();
        this.stored.flushReports();
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

  /**
   * Direct message to a user; resolves with the ack: `delivered`, `queued`, `dropped` (nobody
   * took it, nothing stored) or `unconfirmed` (see `AckStatus`); with MESSAGE_PERSISTENCE on,
   * `delivered` or `stored` once it is durable, with its `conversation` and `seq`. Rejects with a
   * GatehouseError of the error frame's code (`NOT_STORED`: it reached live sessions but is not
   * stored, send it again).
   */
  sendTo(userId: string, content: unknown, options: RequestOptions = {}): Promise<Ack> {
    const id = options.id ?? newMessageId();
    return this.pending.request<ServerAckFrame>('send', { type: 'message', to: userId, content, id }, id, options.timeoutMs).then((ack) => toAck(id, ack));
  }

  /** Publishes to a room (membership required); resolves with the ack: `delivered`, `sent` or `dropped` (see `AckStatus`). */
  publish(room: string, content: unknown, options: RequestOptions = {}): Promise<Ack> {
    const id = options.id ?? newMessageId();
    return this.pending.request<ServerAckFrame>('send', { type: 'room', room, content, id }, id, options.timeoutMs).then((ack) => toAck(id, ack));
  }

  /**
   * Message to a persistent group (members only); resolves with the ack `stored` once the message
   * is durable, with its `conversation` (`group:<groupId>`) and `seq`. Rejects with `NOT_IN_GROUP`
   * (not a member, or no such group: the server does not tell which) or `NOT_AVAILABLE` (nothing
   * was stored nor sent: send it again).
   */
  sendToGroup(groupId: string, content: unknown, options: RequestOptions = {}): Promise<StoredAck> {
    const id = options.id ?? newMessageId();
    return this.pending
      .request<ServerAckFrame>('send', { type: 'group', group: groupId, content, id }, id, options.timeoutMs)
      .then((ack) => toAck(id, ack) as StoredAck); // the server acks a group message only once stored, with its conversation and seq
  }

  /**
   * A page of a conversation's stored messages (`directConversationId` / `groupConversationId`),
   * ascending by seq: the newest without bounds, the newest `before` a seq (paging back), the
   * oldest `after` one (catching up). Rejects with `UNKNOWN_CONVERSATION` when the user takes no
   * part in it. The page's messages count as seen: arriving again live, they are not emitted.
   */
  history(conversation: string, options: HistoryOptions = {}): Promise<StoredMessageView[]> {
    const id = options.id ?? newMessageId();
    const frame: ClientHistoryFrame = { type: 'history', conversation, id };
    if (options.before !== undefined) frame.before = options.before;
    if (options.after !== undefined) frame.after = options.after;
    if (options.limit !== undefined) frame.limit = options.limit;
    return this.pending.request<ServerHistoryFrame>('history', frame, id, options.timeoutMs).then((page) => page.messages);
  }

  /**
   * Joins a room; resolves on `joined`. Memberships belong to a connection on the server: after a
   * reconnect the SDK joins the room again by itself (`rejoinRooms`, default true).
   */
  join(room: string, options: RequestOptions = {}): Promise<ServerJoinedFrame> {
    return this.sendJoin(room, options).then((frame) => {
      this.rooms.add(room);
      return frame;
    });
  }

  /** Leaves a room; resolves on `left`. The room is no longer rejoined after a reconnect. */
  leave(room: string, options: RequestOptions = {}): Promise<ServerLeftFrame> {
    this.rooms.delete(room);
    const id = options.id ?? newMessageId();
    return this.pending.request<ServerLeftFrame>('leave', { type: 'leave', room, id }, id, options.timeoutMs, room);
  }

  /** Rooms this client is in (joined and not left), rejoined after each reconnect. */
  get joinedRooms(): ReadonlySet<string> {
    return this.rooms;
  }

  private sendJoin(room: string, options: RequestOptions): Promise<ServerJoinedFrame> {
    const id = options.id ?? newMessageId();
    // `id` is not part of the join schema (unknown fields are ignored): it lets the server name
    // this frame in the `ref` of an error.
    return this.pending.request<ServerJoinedFrame>('join', { type: 'join', room, id }, id, options.timeoutMs, room);
  }

  /** After a reconnect: every remembered room joined again, all sent at once (no wait per room). */
  private rejoin(): void {
    if (this.options.rejoinRooms === false) return;
    const socket = this.socket;
    for (const room of this.rooms) {
      this.sendJoin(room, {}).then(
        () => this.emit('rejoined', { room }),
        (error: GatehouseError) => {
          // Refused by the server (room budget, bad name): forgotten. Cut off by a close: kept,
          // the next connection tries again.
          if (this.socket === socket && error.code !== 'CLOSED' && error.code !== 'NOT_CONNECTED') this.rooms.delete(room);
          this.emit('rejoinFailed', { room, error });
        },
      );
    }
  }

  /** Sends a ping; resolves with the round-trip time in ms (also emitted as `rtt`). */
  ping(timeoutMs: number = this.ackTimeoutMs): Promise<number> {
    return this.pending.ping(timeoutMs);
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
    this.kickedReason = undefined;
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
    // With the `ws` package (Node), a refused handshake's status and Retry-After can be read: a
    // 503 (GW_BUSY in a reconnect storm, GW_FULL, GW_DRAINING) then waits as long as the node
    // asked, plus the usual jitter. Browsers show neither: their retries use the backoff alone.
    const on = (socket as { on?: (event: string, listener: (request: unknown, response: RefusedHandshake) => void) => unknown }).on;
    if (typeof on === 'function') {
      on.call(socket, 'unexpected-response', (_request, response) => {
        if (this.socket !== socket) return;
        if (typeof response.statusCode === 'number') this.handshakeStatus = response.statusCode;
        const after = retryAfterMs(response.headers?.['retry-after'], Date.now());
        if (after !== undefined) this.serverReconnectAfterMs = after;
        // A listener here leaves ending the handshake to us (a close event follows), once the
        // refusal's short body is read: another listener may be reading it.
        const end = () => (socket as { terminate?: () => void }).terminate?.();
        if (typeof response.once === 'function') {
          response.once('end', end);
          response.once('close', end);
          response.resume?.();
        } else {
          end();
        }
      });
    }
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
    this.offlineAcks.reset();
    this.stored.disconnected();
    const status = this.handshakeStatus;
    this.handshakeStatus = undefined;
    const shownReason = reason || (status !== undefined ? `handshake refused with HTTP ${status}` : '');
    const kicked = this.kickedReason;
    this.kickedReason = undefined;
    const base = {
      code,
      reason: shownReason,
      byClient: this.userClosed,
      wasConnected,
      ...(status !== undefined ? { status } : {}),
      ...(kicked !== undefined ? { kicked } : {}),
    };
    this.pending.rejectAll(new GatehouseError('CLOSED', `connection closed (${code}${shownReason ? ` ${shownReason}` : ''})`));

    const options = this.reconnectOptions;
    const stop =
      this.userClosed || !options || isStopCode(code) || (status !== undefined && FATAL_HANDSHAKE_STATUS.has(status)) || this.attempts >= options.maxAttempts;
    if (stop) {
      this.finish({ ...base, willReconnect: false, delayMs: undefined });
      return;
    }
    const jitter = backoffDelay(this.attempts, options, this.random);
    let delayMs = jitter;
    if (closeAdvice(code) === 'reconnect-later') delayMs = options.rateLimitedDelayMs + jitter;
    // The node's word (a reconnect frame's afterMs, a refusal's Retry-After) plus the jitter, never
    // past the client's own ceiling.
    else if (this.serverReconnectAfterMs !== undefined) delayMs = Math.min(options.maxDelayMs, this.serverReconnectAfterMs + jitter);
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
    this.offlineAcks.reset();
    this.stored.disconnected();
    this.stopHeartbeat();
    this.lastClose = info;
    this.pending.rejectAll(new GatehouseError('CLOSED', 'client closed'));
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

  private clearTimer(name: 'reconnectTimer' | 'pingTimer' | 'closeTimer'): void {
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
      this.pending.loopPing();
      this.pingTimer = this.timers.setTimeout(tick, interval);
    };
    tick();
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
        // The user's own stored message: had, as far as the position goes.
        if (typeof frame.conversation === 'string' && typeof frame.seq === 'number') this.stored.saw(frame.conversation, frame.seq);
        this.emit('ack', frame);
        return this.pending.onAck(frame);
      case 'error':
        // Every error frame is emitted, including those that also reject a request's promise.
        this.emit('error', frame);
        return this.pending.onError(frame);
      case 'message':
        return this.onMessage(frame);
      case 'group':
        return this.onGroup(frame);
      case 'history':
        return this.onHistory(frame);
      case 'recovered':
        this.emit('recovered', frame);
        return this.stored.recovered(frame.more);
      case 'joined':
        this.emit('joined', frame);
        return this.pending.onRoomAnswer('join', frame);
      case 'left':
        // Also sent unasked (the room was closed or the member removed): no rejoin either way.
        if (typeof frame.room === 'string') this.rooms.delete(frame.room);
        this.emit('left', frame);
        return this.pending.onRoomAnswer('leave', frame);
      case 'room':
        return this.emit('room', frame);
      case 'broadcast':
        return this.emit('broadcast', frame);
      case 'kicked':
        if (typeof frame.reason === 'string') this.kickedReason = frame.reason;
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
    this.stored.connected();
    const reconnected = this.wasEverConnected;
    this.wasEverConnected = true;
    if (reconnected) this.rejoin();
    const waiters = this.connectWaiters;
    this.connectWaiters = [];
    this.emit('connected', frame);
    for (const waiter of waiters) waiter.resolve(frame);
  }

  private onPong(frame: ServerPongFrame): void {
    this.emit('pong', frame);
    const ping = this.pending.takePing(frame);
    if (!ping) return;
    const rtt = Math.max(0, this.now() - ping.sentAt);
    this.lastRttMs = rtt;
    this.emit('rtt', rtt);
    ping.resolve?.(rtt);
  }

  private onMessage(frame: MessageEvent): void {
    const { conversation, seq } = frame;
    if (typeof conversation === 'string' && typeof seq === 'number') {
      if (this.isNewStored(frame.id, conversation, seq)) this.emit('message', frame);
      this.stored.saw(conversation, seq);
    } else if (this.isFirstArrival(frame.id)) {
      this.emit('message', frame);
    }
    // Offline replay: acknowledged after the listeners ran, so the server drops it (and every
    // message queued before it) from the queue. A repeated replay is acknowledged too: the
    // listeners ran for its first copy, and the server keeps replaying it until acknowledged.
    if (frame.offline === true && typeof frame.id === 'string' && this.options.autoAck !== false) {
      const socket = this.socket;
      this.offlineAcks.processed(frame.id, () => this.socket === socket);
    }
  }

  private onGroup(frame: ServerGroupFrame): void {
    const { conversation, seq } = frame;
    const stored = typeof conversation === 'string' && typeof seq === 'number';
    if (stored ? this.isNewStored(frame.id, conversation, seq) : this.isFirstArrival(frame.id)) this.emit('group', frame);
    if (stored) this.stored.saw(conversation, seq);
  }

  private onHistory(frame: ServerHistoryFrame): void {
    // The gap fill's own pages: their messages are emitted one by one as they are taken.
    if (typeof frame.id === 'string' && frame.id.startsWith(FILL_ID_PREFIX)) {
      this.pending.onHistory(frame);
      return;
    }
    this.emit('history', frame);
    // Remembered before the promise settles (a microtask later): a live copy of a message in the
    // page may be the very next frame. Only pages the app asked for: a stray one proves nothing.
    if (!this.pending.onHistory(frame) || !Array.isArray(frame.messages)) return;
    for (const message of frame.messages) if (typeof message?.id === 'string') this.recentIds.addIfNew(message.id);
  }

  /**
   * Whether a stored message is new to the listeners: not given already by its seq (exact, however
   * long ago) nor by its id (the recent window). With de-duplication off, always.
   */
  private isNewStored(id: unknown, conversation: string, seq: number): boolean {
    if (this.dedupe && this.stored.given(conversation, seq)) return false;
    return this.isFirstArrival(id);
  }

  /** The gap fill's page of a conversation after a seq. */
  private fillPage(conversation: string, after: number, limit: number): Promise<StoredMessageView[]> {
    const id = FILL_ID_PREFIX + newMessageId();
    const frame: ClientHistoryFrame = { type: 'history', conversation, after, limit, id };
    return this.pending.request<ServerHistoryFrame>('history', frame, id).then((page) => page.messages);
  }

  /** A message of the gap fill, emitted as the frame it was first delivered as (like the login's recovery sends it). */
  private deliverPaged(conversation: string, message: StoredMessageView): void {
    if (!this.isFirstArrival(message.id)) return;
    const { seq, id, from, content, ts } = message;
    const parsed = parseConversationId(conversation);
    if (parsed?.kind === 'group') {
      const frame: ServerGroupFrame = { type: 'group', group: parsed.ids[0]!, conversation, seq, content, id, ts };
      if (from !== undefined) frame.from = from;
      this.emit('group', frame);
      return;
    }
    const frame: MessageEvent = { type: 'message', content, id, ts, conversation, seq };
    if (from !== undefined) frame.from = from;
    const me = this.currentSession?.userId;
    if (parsed && from !== undefined && from === me) {
      // The user's own message (sent from another session): an echo naming the other participant.
      frame.to = parsed.ids[0] === me ? parsed.ids[1]! : parsed.ids[0]!;
      frame.echo = true;
    }
    this.emit('message', frame);
  }

  /** Whether a message with this server id is new to the listeners (an id-less frame always is). */
  private isFirstArrival(id: unknown): boolean {
    return typeof id !== 'string' || this.recentIds.addIfNew(id);
  }
}

/** The ack as the promise gives it: the counts and the stored position only when the server sent them. */
function toAck(id: string, ack: ServerAckFrame): Ack {
  const result: Ack = { id, status: ack.status };
  if (ack.sessions !== undefined) result.sessions = ack.sessions;
  if (ack.dropped !== undefined) result.dropped = ack.dropped;
  if (ack.conversation !== undefined) result.conversation = ack.conversation;
  if (ack.seq !== undefined) result.seq = ack.seq;
  return result;
}
