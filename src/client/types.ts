/**
 * The public types of the client SDK: the WebSocket it drives, its options, its states and the
 * events it emits. Browser-safe: type-only imports of the server's frame schemas, so the SDK
 * cannot drift from the protocol.
 */
import type {
  ServerAckFrame,
  ServerBroadcastFrame,
  ServerConnectedFrame,
  ServerErrorFrame,
  ServerFrame,
  ServerGroupFrame,
  ServerHistoryFrame,
  ServerJoinedFrame,
  ServerKickedFrame,
  ServerLeftFrame,
  ServerMessageFrame,
  ServerPongFrame,
  ServerReconnectFrame,
  ServerRecoveredFrame,
  ServerRoomFrame,
} from '../protocol/frame-types.ts';
import type { ReconnectOptions } from './backoff.ts';
import type { ListenerErrorHandler } from './emitter.ts';

// ---- the WebSocket we need ------------------------------------------------------------------

/** The part of the WebSocket API the SDK uses: the browser's, or Node's `ws` package. */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  // biome-ignore lint/suspicious/noExplicitAny: the browser's and `ws`'s listeners take different event types; both must fit.
  addEventListener(type: 'open' | 'message' | 'close' | 'error', listener: (event: any) => void): void;
}

/** A WebSocket constructor: `globalThis.WebSocket` in browsers, `WebSocket` from `ws` in Node 20. */
export type WebSocketConstructor = new (url: string) => WebSocketLike;

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
  /**
   * Join again, after a reconnect, every room joined on an earlier connection and not left since
   * (memberships belong to a connection on the server). Default true. Each rejoin is reported
   * by a `rejoined` or `rejoinFailed` event.
   */
  rejoinRooms?: boolean;
  /**
   * How many server message ids the SDK remembers to emit each `message` and `group` once: a
   * message that arrives again (live while the session logs in and in its recovery, an offline
   * replay not acknowledged in time, or after a `history()` page that held it) is not emitted
   * again. Stored messages (with a `seq`) are also recognised by their seq: one the SDK already
   * gave the app (see `storedPosition()`) is not emitted again, however old. Default 1000; 0 turns
   * de-duplication off.
   */
  dedupeWindow?: number;
  /**
   * Report how far the app has each stored conversation with `received` frames (the server's
   * recovery at the next login starts after it): per conversation at most every 250 ms with the
   * latest position (`storedPosition()`), at most 4 frames per 250 ms in all, and what is pending
   * right before close(). Default true; false for apps that send `received` themselves.
   */
  acknowledgeStored?: boolean;
  /**
   * Page the stored messages the app was not given with history(): a gap in a conversation's
   * seqs (a live frame dropped by a full send queue: seq N + 2 after N), and the conversations the
   * login's recovery names in `more`. The missed messages are emitted as ordinary `message` /
   * `group` events, in seq order, once. Default true.
   */
  fillGaps?: boolean;
  /**
   * How long a gap may stay open before it is paged: the server may deliver two members'
   * messages out of order, and the user's own ack may overtake messages queued before it.
   * Default 250 ms.
   */
  gapFillDelayMs?: number;
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
  /** The `reason` of the server's `kicked` frame before this close (`replaced`, `logged_out`, ...), when it sent one. */
  kicked?: string;
}

/**
 * A server `message` frame; replays from the offline queue carry `offline: true`, stored direct
 * messages (MESSAGE_PERSISTENCE=on) their `conversation` and `seq`.
 */
export type MessageEvent = ServerMessageFrame & { offline?: boolean };

/**
 * What the server says became of a message (docs/protocol.md, "Acks"):
 * - `delivered`: at least one live session of the recipient took it into its send queue;
 * - `queued`: the recipient is offline, it waits in their offline queue;
 * - `dropped`: nobody took it and nothing was stored (the recipient's send queues were full, or
 *   there was nobody to give it to: a message to yourself with no other session, a room with no
 *   other member); sending it again later may work;
 * - `unconfirmed`: handed to the recipient's server node, which did not confirm in time: it may
 *   or may not have arrived;
 * - `sent` (rooms only): published to the room's other nodes; no member on the sender's node took it;
 * - `stored`: durable as `seq` of `conversation` (both in the ack); for a group, handed to its
 *   members' live sessions; for a direct message, no live session took it (the recipient's next
 *   session recovers it).
 * Servers before these statuses only answered `delivered` / `queued`; treat an unknown status
 * like `unconfirmed`.
 */
export type AckStatus = ServerAckFrame['status'];

/** The answer to sendTo / publish. */
export interface Ack {
  /** The client id of the frame (generated unless given). */
  id: string;
  status: AckStatus;
  /** Present when some of the recipient's sessions refused it: how many took it. */
  sessions?: number;
  /** Present when some of the recipient's sessions refused it (their send queue was full). */
  dropped?: number;
  /** Stored messages (groups; direct messages with MESSAGE_PERSISTENCE=on): the conversation it is in. */
  conversation?: string;
  /** Stored messages: its place in `conversation` (increasing; a seq whose message was never stored is skipped). */
  seq?: number;
}

/** The answer to sendToGroup: the message is durable as `seq` of `conversation` (`group:<groupId>`). */
export interface StoredAck extends Ack {
  status: 'stored';
  conversation: string;
  seq: number;
}

export interface GatehouseEvents {
  /** The WebSocket opened (before `connected`). */
  open: { url: string };
  connected: ServerConnectedFrame;
  /**
   * Once per server id (see `dedupeWindow`). Stored direct messages (with `conversation` and `seq`)
   * missed live come later, from the gap fill (see `fillGaps`).
   */
  message: MessageEvent;
  /**
   * A message of a persistent group this user is a member of, once per server id (see
   * `dedupeWindow`); `seq` orders them, not their arrival: a message missed live comes later, from
   * the gap fill (see `fillGaps`).
   */
  group: ServerGroupFrame;
  room: ServerRoomFrame;
  broadcast: ServerBroadcastFrame;
  /**
   * Every server `error` frame, including those that also reject a request's promise.
   * `RATE_LIMITED` comes once per limited second, its `count` the frames the server refused in it
   * (unread, so no `ref`: their requests time out); slow down.
   */
  error: ServerErrorFrame;
  kicked: ServerKickedFrame;
  /** The server asks to reconnect (drain); the close follows. */
  reconnect: ServerReconnectFrame;
  pong: ServerPongFrame;
  ack: ServerAckFrame;
  joined: ServerJoinedFrame;
  left: ServerLeftFrame;
  /** A page of stored messages (the answer to history(), which also resolves with it; not the gap fill's own pages). */
  history: ServerHistoryFrame;
  /**
   * Ends the stored messages recovered at login; `more` lists the conversations that had more,
   * which the SDK pages with history() and emits (see `fillGaps`).
   */
  recovered: ServerRecoveredFrame;
  /** A room joined on an earlier connection was joined again after a reconnect. */
  rejoined: { room: string };
  /** A room could not be joined again after a reconnect; it is forgotten unless the connection closed meanwhile. */
  rejoinFailed: { room: string; error: Error };
  /** Every parsed inbound frame, before its typed event (unknown types and repeated messages included). */
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

/** A page of a conversation for history(): neither bound gives the newest messages. */
export interface HistoryOptions extends RequestOptions {
  /** Only messages with a smaller seq: the newest of them (paging back). */
  before?: number;
  /** Only messages with a greater seq: the oldest of them (catching up). */
  after?: number;
  /** At most this many; the server's HISTORY_PAGE_MAX (100) caps it. */
  limit?: number;
}
