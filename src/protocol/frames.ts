/**
 * The wire protocol of PROTOCOL.md: TypeBox schemas of every frame in both directions (reused by
 * the REST/OpenAPI layer and the client SDK), the inbound parser and the outbound encoders.
 *
 * The parser is hand-written rather than `Value.Check`: it runs for every inbound frame (a
 * ping per second per connection), it must name the offending field, and it must never throw.
 * The tests check that it accepts exactly what the schemas accept.
 */
import { Type, type Static } from '@sinclair/typebox';
import { FRAME_ERROR_CODES, type FrameErrorCode } from './error-codes.ts';
import { ROOM_MAX_LENGTH, ROOM_PATTERN, ROOM_RE, ROOM_TEXT, USER_ID_MAX_LENGTH, USER_ID_PATTERN, USER_ID_RE, USER_ID_TEXT } from './ids.ts';
import { MAX_CLIENT_ID_LENGTH } from './limits.ts';

/** Longest client message id: defined in limits.ts, which the SDK can import without TypeBox. */
export { MAX_CLIENT_ID_LENGTH };
/**
 * Deepest nesting of `content` (objects/arrays; a scalar is depth 0). JSON.parse accepts any
 * depth but JSON.stringify overflows the stack at a few thousand levels, so deeper content could
 * be parsed but never delivered; it is refused at the door instead.
 */
export const MAX_CONTENT_DEPTH = 64;

const UserId = Type.String({ pattern: USER_ID_PATTERN, description: 'userId' });
const Room = Type.String({ pattern: ROOM_PATTERN, description: 'room name' });
const ClientId = Type.String({ maxLength: MAX_CLIENT_ID_LENGTH, description: 'client message id, echoed in ack/error' });
const Content = Type.Unknown({
  description: `any JSON value; at most MAX_CONTENT_BYTES once JSON-encoded (UTF-8), nested at most ${MAX_CONTENT_DEPTH} levels`,
});
const Millis = Type.Integer({ description: 'ms since the Unix epoch' });

// ---- client -> server -------------------------------------------------------------------

export const ClientPingFrameSchema = Type.Object(
  { type: Type.Literal('ping'), ts: Type.Optional(Type.Number({ description: 'any finite number, echoed in pong' })) },
  { title: 'ClientPing' },
);
export const ClientMessageFrameSchema = Type.Object(
  { type: Type.Literal('message'), to: UserId, content: Content, id: Type.Optional(ClientId) },
  { title: 'ClientMessage' },
);
export const ClientJoinFrameSchema = Type.Object({ type: Type.Literal('join'), room: Room }, { title: 'ClientJoin' });
export const ClientLeaveFrameSchema = Type.Object({ type: Type.Literal('leave'), room: Room }, { title: 'ClientLeave' });
export const ClientRoomFrameSchema = Type.Object(
  { type: Type.Literal('room'), room: Room, content: Content, id: Type.Optional(ClientId) },
  { title: 'ClientRoom' },
);
/**
 * The client acknowledges an offline replay (`offline: true`) by its server id. Cumulative: the
 * message and every message queued before it leave the user's offline queue.
 */
export const ClientAckFrameSchema = Type.Object(
  { type: Type.Literal('ack'), id: Type.String({ minLength: 1, maxLength: MAX_CLIENT_ID_LENGTH }) },
  { title: 'ClientAck' },
);
export const ClientFrameSchema = Type.Union([
  ClientPingFrameSchema,
  ClientMessageFrameSchema,
  ClientJoinFrameSchema,
  ClientLeaveFrameSchema,
  ClientRoomFrameSchema,
  ClientAckFrameSchema,
]);

export type ClientMessageFrame = Static<typeof ClientMessageFrameSchema>;
export type ClientRoomFrame = Static<typeof ClientRoomFrameSchema>;
export type ClientFrame = Static<typeof ClientFrameSchema>;
export type ClientFrameType = ClientFrame['type'];

/** Every client frame type, in PROTOCOL.md order. */
export const CLIENT_FRAME_TYPES: readonly ClientFrameType[] = ['ping', 'message', 'join', 'leave', 'room', 'ack'];

// ---- server -> client -------------------------------------------------------------------

export const ServerConnectedFrameSchema = Type.Object(
  {
    type: Type.Literal('connected'),
    sessionId: Type.String(),
    userId: UserId,
    nodeId: Type.String(),
    heartbeat: Type.Object({ intervalMs: Type.Integer(), timeoutMs: Type.Integer() }),
    serverTime: Millis,
  },
  { title: 'ServerConnected' },
);
/** `ts` is omitted when the ping carried none. */
export const ServerPongFrameSchema = Type.Object({ type: Type.Literal('pong'), ts: Type.Optional(Type.Number()), serverTime: Millis }, { title: 'ServerPong' });
/**
 * A direct message. `offline: true` marks a replay from the offline queue (acknowledge it with a
 * client `ack` carrying its `id`); `echo: true` (with `to`) is a copy of a message the user sent
 * from another session; `server: true` (and no `from`) is a push by the admin API.
 */
export const ServerMessageFrameSchema = Type.Object(
  {
    type: Type.Literal('message'),
    from: Type.Optional(Type.String({ pattern: USER_ID_PATTERN, description: 'the sending userId; absent on a server push' })),
    to: Type.Optional(Type.String({ pattern: USER_ID_PATTERN, description: 'the recipient; present on echoes only' })),
    content: Content,
    id: Type.String({ description: 'server message id (acknowledge offline replays with it)' }),
    ts: Millis,
    offline: Type.Optional(Type.Boolean({ description: 'true: replayed from the offline queue' })),
    echo: Type.Optional(Type.Boolean({ description: "true: a copy of the user's own message sent from another session" })),
    server: Type.Optional(Type.Boolean({ description: 'true: pushed by the server (admin API), not sent by a user' })),
  },
  { title: 'ServerMessage' },
);
/**
 * `id` is the client's id of the acknowledged frame (the server message id when it had none).
 * `status` (docs/protocol.md, "Acks"): `delivered` (a live session's send queue took it),
 * `queued` (offline queue), `dropped` (no session took it: full queues, or nobody to give it
 * to), `unconfirmed` (handed to the recipient's node, no receipt within the timeout), `sent`
 * (room messages only: published to the room's other nodes, no session here took it).
 * `sessions` / `dropped` are present only when some session refused it.
 */
export const ServerAckFrameSchema = Type.Object(
  {
    type: Type.Literal('ack'),
    id: Type.Optional(ClientId),
    status: Type.Union([Type.Literal('delivered'), Type.Literal('queued'), Type.Literal('dropped'), Type.Literal('unconfirmed'), Type.Literal('sent')]),
    sessions: Type.Optional(Type.Integer({ minimum: 0, description: 'live sessions whose send queue took it' })),
    dropped: Type.Optional(Type.Integer({ minimum: 0, description: 'live sessions whose send queue refused it (full)' })),
  },
  { title: 'ServerAck' },
);
export const ServerJoinedFrameSchema = Type.Object({ type: Type.Literal('joined'), room: Room }, { title: 'ServerJoined' });
export const ServerLeftFrameSchema = Type.Object({ type: Type.Literal('left'), room: Room }, { title: 'ServerLeft' });
/** A room message; `server: true` (and no `from`) is a push by the admin API. */
export const ServerRoomFrameSchema = Type.Object(
  {
    type: Type.Literal('room'),
    room: Room,
    from: Type.Optional(Type.String({ pattern: USER_ID_PATTERN, description: 'the sending userId; absent on a server push' })),
    content: Content,
    id: Type.String({ description: 'server message id' }),
    ts: Millis,
    server: Type.Optional(Type.Boolean({ description: 'true: pushed by the server (admin API), not sent by a user' })),
  },
  { title: 'ServerRoom' },
);
export const ServerBroadcastFrameSchema = Type.Object({ type: Type.Literal('broadcast'), content: Content, ts: Millis }, { title: 'ServerBroadcast' });
export const ServerErrorFrameSchema = Type.Object(
  {
    type: Type.Literal('error'),
    code: Type.Union(FRAME_ERROR_CODES.map((code) => Type.Literal(code))),
    error: Type.String(),
    ref: Type.Optional(Type.String({ description: 'id of the client frame that caused the error' })),
  },
  { title: 'ServerError' },
);
/** Sent just before a server-side close. */
export const ServerKickedFrameSchema = Type.Object({ type: Type.Literal('kicked'), reason: Type.String() }, { title: 'ServerKicked' });
/**
 * Not in PROTOCOL.md's tables yet: sent before a drain close (1001/1012) to ask the client to
 * reconnect, optionally after `afterMs` (spreads the reconnect storm).
 */
export const ServerReconnectFrameSchema = Type.Object(
  { type: Type.Literal('reconnect'), reason: Type.String(), afterMs: Type.Optional(Type.Integer({ minimum: 0 })) },
  { title: 'ServerReconnect' },
);
export const ServerFrameSchema = Type.Union([
  ServerConnectedFrameSchema,
  ServerPongFrameSchema,
  ServerMessageFrameSchema,
  ServerAckFrameSchema,
  ServerJoinedFrameSchema,
  ServerLeftFrameSchema,
  ServerRoomFrameSchema,
  ServerBroadcastFrameSchema,
  ServerErrorFrameSchema,
  ServerKickedFrameSchema,
  ServerReconnectFrameSchema,
]);

export type ServerConnectedFrame = Static<typeof ServerConnectedFrameSchema>;
export type ServerPongFrame = Static<typeof ServerPongFrameSchema>;
export type ServerMessageFrame = Static<typeof ServerMessageFrameSchema>;
export type ServerAckFrame = Static<typeof ServerAckFrameSchema>;
export type ServerJoinedFrame = Static<typeof ServerJoinedFrameSchema>;
export type ServerLeftFrame = Static<typeof ServerLeftFrameSchema>;
export type ServerRoomFrame = Static<typeof ServerRoomFrameSchema>;
export type ServerBroadcastFrame = Static<typeof ServerBroadcastFrameSchema>;
export type ServerErrorFrame = Static<typeof ServerErrorFrameSchema>;
export type ServerKickedFrame = Static<typeof ServerKickedFrameSchema>;
export type ServerReconnectFrame = Static<typeof ServerReconnectFrameSchema>;
export type ServerFrame = Static<typeof ServerFrameSchema>;

// ---- parsing ------------------------------------------------------------------------------

export interface ParseLimits {
  /** Largest `content`, JSON-encoded, in UTF-8 bytes (MAX_CONTENT_BYTES). */
  maxContentBytes: number;
}

/** Outcome of {@link parseClientFrame}. `ref` is the frame's `id` when usable for correlation. */
export type ParseResult = { ok: true; frame: ClientFrame } | { ok: false; code: FrameErrorCode; error: string; ref?: string };

/**
 * The canonical ping as games send it. Matching it skips JSON.parse (about 2x faster); any other
 * spelling (key order, spaces, extra fields, > 64 chars) takes the general path with the same
 * result. The number grammar is JSON's, and Number() rounds exactly like JSON.parse.
 */
const CANONICAL_PING = /^\{"type":"ping"(?:,"ts":-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)?\}$/;

/** Length of `{"type":"ping"}`. */
const BARE_PING_LENGTH = 15;
/** Length of `{"type":"ping","ts":`, where the canonical ping's `ts` starts. */
const PING_TS_AT = 20;

/**
 * For the canonical ping (see CANONICAL_PING): its `ts` as the JSON number text it was sent as,
 * '' when it has none; null for any other frame (parseClientFrame then decides). Allocates only
 * the short `ts` slice: the gateway echoes that text in the pong, the same JSON number without a
 * parse and a print per ping.
 */
export function canonicalPingTs(text: string): string | null {
  if (text.length > 64 || !CANONICAL_PING.test(text)) return null;
  if (text.length === BARE_PING_LENGTH) return '';
  const ts = text.slice(PING_TS_AT, -1);
  // Only an exponent can leave the doubles (1e400): the general path reports that one.
  if ((ts.includes('e') || ts.includes('E')) && !Number.isFinite(Number(ts))) return null;
  return ts;
}

const TYPE_LIST = CLIENT_FRAME_TYPES.join(', ');
const A_USER_ID = `a userId (${USER_ID_TEXT})`;
const A_ROOM = `a room name (${ROOM_TEXT})`;

function fail(code: FrameErrorCode, error: string, ref: string | undefined): ParseResult {
  return ref === undefined ? { ok: false, code, error } : { ok: false, code, error, ref };
}

const isUserId = (v: unknown): v is string => typeof v === 'string' && v.length <= USER_ID_MAX_LENGTH && USER_ID_RE.test(v);
const isRoom = (v: unknown): v is string => typeof v === 'string' && v.length <= ROOM_MAX_LENGTH && ROOM_RE.test(v);

/** Depth-capped walk, so the recursion itself is bounded by MAX_CONTENT_DEPTH. */
function tooDeep(value: object, depth: number): boolean {
  if (depth > MAX_CONTENT_DEPTH) return true;
  const children = Array.isArray(value) ? value : Object.values(value);
  for (const child of children) {
    if (typeof child === 'object' && child !== null && tooDeep(child, depth + 1)) return true;
  }
  return false;
}

/** UTF-8 length without Buffer in browsers (the SDK imports this module). */
function utf8Length(s: string): number {
  return typeof Buffer === 'undefined' ? new TextEncoder().encode(s).length : Buffer.byteLength(s, 'utf8');
}

/** Returns an error text, or undefined when `content` is acceptable. */
function contentError(content: unknown, text: string, maxBytes: number): [FrameErrorCode, string] | undefined {
  if (content === undefined) return ['BAD_MESSAGE', 'content is required'];
  if (typeof content === 'object' && content !== null && tooDeep(content, 1)) {
    return ['BAD_MESSAGE', `content must not be nested deeper than ${MAX_CONTENT_DEPTH} levels`];
  }
  // Re-encoding never takes more than 6 bytes per UTF-16 unit of the source text (a lone
  // surrogate becomes \udXXX; numbers grow at most 21/4: 1e20), so small frames need no encoding.
  if (text.length * 6 <= maxBytes) return undefined;
  let encoded: string;
  try {
    encoded = JSON.stringify(content);
  } catch {
    return ['BAD_MESSAGE', 'content cannot be encoded as JSON'];
  }
  // A UTF-16 unit takes 1 to 3 UTF-8 bytes: measure only when the bounds disagree.
  const bytes = encoded.length > maxBytes || encoded.length * 3 <= maxBytes ? encoded.length : utf8Length(encoded);
  return bytes > maxBytes ? ['TOO_LARGE', `content must be at most ${maxBytes} bytes JSON-encoded`] : undefined;
}

/**
 * Parses and validates one inbound text frame. Never throws. Unknown fields are dropped: the
 * returned frame is a fresh object holding only the fields of its type (so no `__proto__` or
 * other key from the wire travels further).
 */
export function parseClientFrame(text: string, limits: ParseLimits): ParseResult {
  const pingTs = canonicalPingTs(text);
  if (pingTs === '') return { ok: true, frame: { type: 'ping' } };
  if (pingTs !== null) return { ok: true, frame: { type: 'ping', ts: Number(pingTs) } };
  return parseFrameJson(text, limits);
}

/**
 * parseClientFrame without the canonical-ping check, for a caller that made it already (the
 * gateway answers canonical pings itself and sends every other frame here).
 */
export function parseFrameJson(text: string, limits: ParseLimits): ParseResult {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return fail('BAD_JSON', 'frame is not valid JSON', undefined);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return fail('BAD_JSON', 'frame must be a JSON object', undefined);
  }
  const obj = value as Record<string, unknown>;
  const type = obj.type;
  const id = obj.id;
  const ref = typeof id === 'string' && id.length <= MAX_CLIENT_ID_LENGTH ? id : undefined;

  if (type === 'ping') {
    const ts = obj.ts;
    if (ts === undefined) return { ok: true, frame: { type } };
    if (typeof ts === 'number' && Number.isFinite(ts)) return { ok: true, frame: { type, ts } };
    return fail('BAD_MESSAGE', 'ts must be a finite number', ref);
  }
  if (type === undefined) return fail('BAD_MESSAGE', 'type is required', ref);
  if (typeof type !== 'string') return fail('BAD_MESSAGE', 'type must be a string', ref);

  if (type === 'join' || type === 'leave') {
    const room = obj.room;
    if (room === undefined) return fail('BAD_MESSAGE', 'room is required', ref);
    if (!isRoom(room)) return fail('BAD_MESSAGE', `room must be ${A_ROOM}`, ref);
    return { ok: true, frame: { type, room } };
  }
  if (type === 'ack') {
    if (id === undefined) return fail('BAD_MESSAGE', 'id is required', ref);
    if (ref === undefined || ref.length === 0) {
      return fail('BAD_MESSAGE', `id must be a non-empty string of at most ${MAX_CLIENT_ID_LENGTH} characters`, ref);
    }
    return { ok: true, frame: { type, id: ref } };
  }
  if (type !== 'message' && type !== 'room') return fail('BAD_MESSAGE', `type must be one of: ${TYPE_LIST}`, ref);

  let target: string;
  if (type === 'message') {
    const to = obj.to;
    if (to === undefined) return fail('BAD_MESSAGE', 'to is required', ref);
    if (!isUserId(to)) return fail('BAD_MESSAGE', `to must be ${A_USER_ID}`, ref);
    target = to;
  } else {
    const room = obj.room;
    if (room === undefined) return fail('BAD_MESSAGE', 'room is required', ref);
    if (!isRoom(room)) return fail('BAD_MESSAGE', `room must be ${A_ROOM}`, ref);
    target = room;
  }
  if (id !== undefined && ref === undefined) {
    return fail('BAD_MESSAGE', `id must be a string of at most ${MAX_CLIENT_ID_LENGTH} characters`, undefined);
  }
  const content = obj.content;
  const problem = contentError(content, text, limits.maxContentBytes);
  if (problem !== undefined) return fail(problem[0], problem[1], ref);

  if (type === 'message') {
    return { ok: true, frame: ref === undefined ? { type, to: target, content } : { type, to: target, content, id: ref } };
  }
  return { ok: true, frame: ref === undefined ? { type, room: target, content } : { type, room: target, content, id: ref } };
}

// ---- encoding -----------------------------------------------------------------------------

/**
 * The pong, by concatenation (hot path). `ts` absent (or, defensively, not finite) gives no
 * `ts` field: `{"type":"pong","serverTime":N}`. The output equals
 * `JSON.stringify({ type: 'pong', ts, serverTime })` for finite numbers; `serverTime` must be
 * finite (Date.now()).
 */
export function encodePong(ts: number | undefined, serverTime: number): string {
  if (ts === undefined || !Number.isFinite(ts)) return '{"type":"pong","serverTime":' + serverTime + '}';
  return '{"type":"pong","ts":' + ts + ',"serverTime":' + serverTime + '}';
}

/** The end of every pong sent in millisecond `serverTime`: `,"serverTime":N}` (see encodePongText). */
export function pongTail(serverTime: number): string {
  return ',"serverTime":' + serverTime + '}';
}

/**
 * The pong of a canonical ping: `tsText` from canonicalPingTs ('' for none), `tail` from
 * pongTail (shared by the thousands of pongs of one millisecond). Equal, as JSON, to
 * `encodePong(Number(tsText), serverTime)`.
 */
export function encodePongText(tsText: string, tail: string): string {
  if (tsText === '') return '{"type":"pong"' + tail;
  return '{"type":"pong","ts":' + tsText + tail;
}

/** An error frame; equals `JSON.stringify({ type: 'error', code, error, ref })`. */
export function encodeError(code: FrameErrorCode, error: string, ref?: string): string {
  const head = '{"type":"error","code":"' + code + '","error":' + JSON.stringify(error);
  return ref === undefined ? head + '}' : head + ',"ref":' + JSON.stringify(ref) + '}';
}

/**
 * Any server frame. Throws only for values JSON cannot hold (BigInt, cycles), which frames built
 * from parsed input never contain.
 */
export function encodeServerFrame(frame: ServerFrame): string {
  return JSON.stringify(frame);
}
