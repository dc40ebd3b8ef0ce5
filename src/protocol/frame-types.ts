/**
 * The wire frames as plain TypeScript types, with no schema library behind them: what the client
 * SDK (and its published type declarations) speaks. frames.ts builds the TypeBox schemas the
 * server validates and documents with, and fails to compile unless each schema's static type is
 * exactly the type here, so the two cannot drift.
 */
import type { FrameErrorCode } from './error-codes.ts';

// ---- client -> server -------------------------------------------------------------------

export type ClientPingFrame = { type: 'ping'; ts?: number };
export type ClientMessageFrame = { type: 'message'; to: string; content: unknown; id?: string };
export type ClientJoinFrame = { type: 'join'; room: string };
export type ClientLeaveFrame = { type: 'leave'; room: string };
export type ClientRoomFrame = { type: 'room'; room: string; content: unknown; id?: string };
/** Acknowledges an offline replay by its server id (cumulative). */
export type ClientAckFrame = { type: 'ack'; id: string };
/** A message to a persistent group: stored, then sent to every member's live sessions. */
export type ClientGroupFrame = { type: 'group'; group: string; content: unknown; id?: string };
/** A page of a conversation's stored messages (docs/protocol.md, "Stored messages"). */
export type ClientHistoryFrame = { type: 'history'; conversation: string; before?: number; after?: number; limit?: number; id?: string };
/** The client has every stored message of the conversation up to `seq` (cumulative): recovery resumes after it. */
export type ClientReceivedFrame = { type: 'received'; conversation: string; seq: number };
export type ClientFrame =
  | ClientPingFrame
  | ClientMessageFrame
  | ClientJoinFrame
  | ClientLeaveFrame
  | ClientRoomFrame
  | ClientAckFrame
  | ClientGroupFrame
  | ClientHistoryFrame
  | ClientReceivedFrame;
export type ClientFrameType = ClientFrame['type'];

// ---- server -> client -------------------------------------------------------------------

export type ServerConnectedFrame = {
  type: 'connected';
  sessionId: string;
  userId: string;
  nodeId: string;
  heartbeat: { intervalMs: number; timeoutMs: number };
  serverTime: number;
};
/** `ts` is omitted when the ping carried none. */
export type ServerPongFrame = { type: 'pong'; ts?: number; serverTime: number };
/**
 * A direct message. `offline: true`: replayed from the offline queue (acknowledge it with its
 * `id`); `echo: true` (with `to`): the user's own message sent from another session;
 * `server: true` (no `from`): pushed by the admin API.
 */
export type ServerMessageFrame = {
  type: 'message';
  from?: string;
  to?: string;
  content: unknown;
  id: string;
  ts: number;
  offline?: boolean;
  echo?: boolean;
  server?: boolean;
  /** Stored messages (MESSAGE_PERSISTENCE=on): the direct conversation and the message's place in it. */
  conversation?: string;
  seq?: number;
};
/** Ack statuses: docs/protocol.md, "Acks". */
export type AckStatus = 'delivered' | 'queued' | 'dropped' | 'unconfirmed' | 'sent' | 'stored';
/** `conversation` and `seq`: where a stored message now is (status `stored`). */
export type ServerAckFrame = { type: 'ack'; id?: string; status: AckStatus; sessions?: number; dropped?: number; conversation?: string; seq?: number };
export type ServerJoinedFrame = { type: 'joined'; room: string };
export type ServerLeftFrame = { type: 'left'; room: string };
export type ServerRoomFrame = { type: 'room'; room: string; from?: string; content: unknown; id: string; ts: number; server?: boolean };
/** A group message, stored as `seq` of `conversation` (`group:<group>`). */
export type ServerGroupFrame = {
  type: 'group';
  group: string;
  conversation: string;
  seq: number;
  from?: string;
  content: unknown;
  id: string;
  ts: number;
};
/** One stored message in a `history` answer. */
export type StoredMessageView = { seq: number; id: string; from?: string; content: unknown; ts: number };
/** The answer to a `history` frame: `id` is the client's, messages ascend by seq. */
export type ServerHistoryFrame = { type: 'history'; id?: string; conversation: string; messages: StoredMessageView[] };
/**
 * Ends the stored messages a session recovered at login: `messages` were sent before it (each
 * conversation in seq order); `more` lists conversations that had more than the recovery's bound
 * (read them with `history` from the last seq received).
 */
export type ServerRecoveredFrame = { type: 'recovered'; messages: number; more?: string[] };
export type ServerBroadcastFrame = { type: 'broadcast'; content: unknown; ts: number };
export type ServerErrorFrame = { type: 'error'; code: FrameErrorCode; error: string; ref?: string; count?: number };
/** Sent just before a server-side close. */
export type ServerKickedFrame = { type: 'kicked'; reason: string };
/** Sent before a drain close (1001/1012): reconnect, optionally after `afterMs`. */
export type ServerReconnectFrame = { type: 'reconnect'; reason: string; afterMs?: number };
export type ServerFrame =
  | ServerConnectedFrame
  | ServerPongFrame
  | ServerMessageFrame
  | ServerAckFrame
  | ServerJoinedFrame
  | ServerLeftFrame
  | ServerRoomFrame
  | ServerGroupFrame
  | ServerHistoryFrame
  | ServerRecoveredFrame
  | ServerBroadcastFrame
  | ServerErrorFrame
  | ServerKickedFrame
  | ServerReconnectFrame;
