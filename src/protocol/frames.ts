/**
 * The wire protocol of PROTOCOL.md: TypeBox schemas of every frame in both directions (reused by
 * the REST/OpenAPI layer and the client SDK), the inbound parser and the outbound encoders.
 *
 * The parser is hand-written rather than `Value.Check`: it runs for every inbound frame (a
 * ping per second per connection), it must name the offending field, and it must never throw.
 * The tests check that it accepts exactly what the schemas accept.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { FRAME_ERROR_CODES, type FrameErrorCode } from './error-codes.ts';
import { ROOM_MAX_LENGTH, ROOM_PATTERN, ROOM_RE, ROOM_TEXT, USER_ID_MAX_LENGTH, USER_ID_PATTERN, USER_ID_RE, USER_ID_TEXT } from './ids.ts';
import { MAX_CLIENT_ID_LENGTH } from './limits.ts';
import { CONVERSATION_ID_MAX_LENGTH } from './conversation-ids.ts';
import type {
  ClientAckFrame,
  ClientFrame,
  ClientGroupFrame,
  ClientHistoryFrame,
  ClientReceivedFrame,
  ClientFrameType,
  ClientJoinFrame,
  ClientLeaveFrame,
  ClientMessageFrame,
  ClientPingFrame,
  ClientRoomFrame,
  ServerAckFrame,
  ServerBroadcastFrame,
  ServerConnectedFrame,
  ServerErrorFrame,
  ServerFrame,
  ServerGroupFrame,
  ServerHistoryFrame,
  ServerRecoveredFrame,
  ServerJoinedFrame,
  ServerKickedFrame,
  ServerLeftFrame,
  ServerMessageFrame,
  ServerPongFrame,
  ServerReconnectFrame,
  ServerRoomFrame,
} from './frame-types.ts';

export type * from './frame-types.ts';

/** Longest client message id: defined in limits.ts, which the SDK can import without TypeBox. */
export { MAX_CLIENT_ID_LENGTH };
/**
 * Deepest nesting of `content` (objects/arrays; a scalar is depth 0). JSON.parse accepts any
 * depth but JSON.stringify overflows the stack at a few thousand levels, so deeper content could
 * be parsed but never delivered; it is refused at the door instead.
 */
export const MAX_CONTENT_DEPTH = 64;
/**
 * Deepest nesting of a whole frame: its own object, then its content. Checked on the text before
 * the parse: JSON.parse of deeply nested text costs about 5 times more per byte than of ordinary
 * JSON (498 KB of nested arrays: 37 ms), and refusing it after the parse was too late.
 */
export const MAX_FRAME_DEPTH = MAX_CONTENT_DEPTH + 1;
/**
 * Room for everything around `content` in a frame's text (type, to/room, id, punctuation, a few
 * unknown fields). A text longer than MAX_CONTENT_BYTES plus this cannot be a frame a client
 * means to be valid (clients encode with JSON.stringify, like the server's measure of content),
 * so it is refused TOO_LARGE before any parse.
 */
export const FRAME_ENVELOPE_ALLOWANCE = 1024;

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
const GroupId = Type.String({ pattern: USER_ID_PATTERN, description: 'group id (the userId grammar)' });
const ConversationId = Type.String({
  maxLength: CONVERSATION_ID_MAX_LENGTH,
  description: '`dm:<userA>:<userB>` (sorted, `:` inside a userId written `%3A`) or `group:<groupId>`',
});
const Seq = Type.Integer({ minimum: 0, description: 'position in the conversation: 1, 2, 3, ... without gaps' });
export const ClientGroupFrameSchema = Type.Object(
  { type: Type.Literal('group'), group: GroupId, content: Content, id: Type.Optional(ClientId) },
  { title: 'ClientGroup' },
);
export const ClientHistoryFrameSchema = Type.Object(
  {
    type: Type.Literal('history'),
    conversation: ConversationId,
    before: Type.Optional(Type.Integer({ minimum: 0, description: 'only messages with a smaller seq (the newest of them)' })),
    after: Type.Optional(Type.Integer({ minimum: 0, description: 'only messages with a greater seq (the oldest of them)' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, description: 'at most this many (default and maximum HISTORY_PAGE_MAX)' })),
    id: Type.Optional(ClientId),
  },
  { title: 'ClientHistory' },
);
export const ClientReceivedFrameSchema = Type.Object({ type: Type.Literal('received'), conversation: ConversationId, seq: Seq }, { title: 'ClientReceived' });
export const ClientFrameSchema = Type.Union([
  ClientPingFrameSchema,
  ClientMessageFrameSchema,
  ClientJoinFrameSchema,
  ClientLeaveFrameSchema,
  ClientRoomFrameSchema,
  ClientAckFrameSchema,
  ClientGroupFrameSchema,
  ClientHistoryFrameSchema,
  ClientReceivedFrameSchema,
]);

// Each schema's static type must be exactly its plain type in frame-types.ts (what the SDK
// publishes): a difference either way is a compile error here.
type Exactly<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
/** Whether the schema's static type is exactly `Plain`. */
type Matches<Schema extends TSchema, Plain> = Exactly<Static<Schema>, Plain>;
/** A compile error unless every entry is true. */
type AllTrue<T extends readonly true[]> = T;
/** Compile-time only: names every client schema next to its plain type. */
export type ClientFrameTypesMatch = AllTrue<
  [
    Matches<typeof ClientPingFrameSchema, ClientPingFrame>,
    Matches<typeof ClientMessageFrameSchema, ClientMessageFrame>,
    Matches<typeof ClientJoinFrameSchema, ClientJoinFrame>,
    Matches<typeof ClientLeaveFrameSchema, ClientLeaveFrame>,
    Matches<typeof ClientRoomFrameSchema, ClientRoomFrame>,
    Matches<typeof ClientAckFrameSchema, ClientAckFrame>,
    Matches<typeof ClientGroupFrameSchema, ClientGroupFrame>,
    Matches<typeof ClientHistoryFrameSchema, ClientHistoryFrame>,
    Matches<typeof ClientReceivedFrameSchema, ClientReceivedFrame>,
  ]
>;

/** Every client frame type, in PROTOCOL.md order. */
export const CLIENT_FRAME_TYPES: readonly ClientFrameType[] = ['ping', 'message', 'join', 'leave', 'room', 'ack', 'group', 'history', 'received'];

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
    conversation: Type.Optional(ConversationId),
    seq: Type.Optional(Seq),
  },
  { title: 'ServerMessage' },
);
/**
 * `id` is the client's id of the acknowledged frame (the server message id when it had none).
 * `status` (docs/protocol.md, "Acks"): `delivered` (a live session's send queue took it),
 * `queued` (offline queue), `dropped` (no session took it: full queues, or nobody to give it
 * to), `unconfirmed` (handed to the recipient's node, no receipt within the timeout), `sent`
 * (room messages only: published to the room's other nodes, no session here took it),
 * `stored` (group messages: durable as `seq` of `conversation`, sent to the members).
 * `sessions` / `dropped` are present only when some session refused it.
 */
export const ServerAckFrameSchema = Type.Object(
  {
    type: Type.Literal('ack'),
    id: Type.Optional(ClientId),
    status: Type.Union([
      Type.Literal('delivered'),
      Type.Literal('queued'),
      Type.Literal('dropped'),
      Type.Literal('unconfirmed'),
      Type.Literal('sent'),
      Type.Literal('stored'),
    ]),
    sessions: Type.Optional(Type.Integer({ minimum: 0, description: 'live sessions whose send queue took it' })),
    dropped: Type.Optional(Type.Integer({ minimum: 0, description: 'live sessions whose send queue refused it (full)' })),
    conversation: Type.Optional(ConversationId),
    seq: Type.Optional(Seq),
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
export const ServerGroupFrameSchema = Type.Object(
  {
    type: Type.Literal('group'),
    group: GroupId,
    conversation: ConversationId,
    seq: Seq,
    from: Type.Optional(Type.String({ pattern: USER_ID_PATTERN, description: 'the sending member' })),
    content: Content,
    id: Type.String({ description: 'server message id' }),
    ts: Millis,
  },
  { title: 'ServerGroup' },
);
const StoredMessageViewSchema = Type.Object(
  {
    seq: Seq,
    id: Type.String({ description: 'server message id' }),
    from: Type.Optional(Type.String({ description: 'the sender; absent for a server push' })),
    content: Content,
    ts: Millis,
  },
  { title: 'StoredMessage' },
);
export const ServerHistoryFrameSchema = Type.Object(
  {
    type: Type.Literal('history'),
    id: Type.Optional(ClientId),
    conversation: ConversationId,
    messages: Type.Array(StoredMessageViewSchema, { description: 'ascending seq' }),
  },
  { title: 'ServerHistory' },
);
export const ServerRecoveredFrameSchema = Type.Object(
  {
    type: Type.Literal('recovered'),
    messages: Type.Integer({ minimum: 0, description: 'stored messages sent before this frame' }),
    more: Type.Optional(Type.Array(ConversationId, { description: 'conversations with more missed messages than the bound: page them with history' })),
  },
  { title: 'ServerRecovered' },
);
export const ServerBroadcastFrameSchema = Type.Object({ type: Type.Literal('broadcast'), content: Content, ts: Millis }, { title: 'ServerBroadcast' });
export const ServerErrorFrameSchema = Type.Object(
  {
    type: Type.Literal('error'),
    code: Type.Union(FRAME_ERROR_CODES.map((code) => Type.Literal(code))),
    error: Type.String(),
    ref: Type.Optional(Type.String({ description: 'id of the client frame that caused the error' })),
    count: Type.Optional(
      Type.Integer({
        minimum: 1,
        description: 'RATE_LIMITED only: frames refused in the window this error frame reports (one error frame per limited window)',
      }),
    ),
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
  ServerGroupFrameSchema,
  ServerHistoryFrameSchema,
  ServerRecoveredFrameSchema,
  ServerBroadcastFrameSchema,
  ServerErrorFrameSchema,
  ServerKickedFrameSchema,
  ServerReconnectFrameSchema,
]);

/** Compile-time only: names every server schema next to its plain type. */
export type ServerFrameTypesMatch = AllTrue<
  [
    Matches<typeof ServerConnectedFrameSchema, ServerConnectedFrame>,
    Matches<typeof ServerPongFrameSchema, ServerPongFrame>,
    Matches<typeof ServerMessageFrameSchema, ServerMessageFrame>,
    Matches<typeof ServerAckFrameSchema, ServerAckFrame>,
    Matches<typeof ServerJoinedFrameSchema, ServerJoinedFrame>,
    Matches<typeof ServerLeftFrameSchema, ServerLeftFrame>,
    Matches<typeof ServerRoomFrameSchema, ServerRoomFrame>,
    Matches<typeof ServerGroupFrameSchema, ServerGroupFrame>,
    Matches<typeof ServerHistoryFrameSchema, ServerHistoryFrame>,
    Matches<typeof ServerRecoveredFrameSchema, ServerRecoveredFrame>,
    Matches<typeof ServerBroadcastFrameSchema, ServerBroadcastFrame>,
    Matches<typeof ServerErrorFrameSchema, ServerErrorFrame>,
    Matches<typeof ServerKickedFrameSchema, ServerKickedFrame>,
    Matches<typeof ServerReconnectFrameSchema, ServerReconnectFrame>,
  ]
>;

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

/** What the pre-parse scan of a frame's text found (see scanFrameText). */
const TextScan = {
  Plain: 0,
  /** Nested deeper than MAX_FRAME_DEPTH: refused unparsed. */
  TooDeep: 1,
  /** Holds a number with an exponent or over 308 digits: its content is checked for non-finite numbers after the parse. */
  BigNumbers: 2,
} as const;
type TextScan = (typeof TextScan)[keyof typeof TextScan];

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** Index of the quote closing the string opened at `open`, -1 when it is not closed. */
function stringEnd(text: string, open: number): number {
  let end = text.indexOf('"', open + 1);
  while (end > 0 && text.charCodeAt(end - 1) === BACKSLASH) {
    let before = end - 2;
    while (text.charCodeAt(before) === BACKSLASH) before--; // stops at the opening quote at the latest
    if ((end - 1 - before) % 2 === 0) return end; // an even run of backslashes escapes itself, not the quote
    end = text.indexOf('"', end + 1);
  }
  return end;
}

/**
 * One pass over a frame's text before JSON.parse: its nesting depth (strings skipped with
 * indexOf, so string-heavy text costs almost nothing) and whether a number in it may leave the
 * doubles once parsed (only an exponent or more than 308 digits can: 1e999 parses to Infinity).
 * For valid JSON the depth is exact; invalid text may be misjudged, and then JSON.parse refuses
 * it anyway. No regular expression: /[0-9]{309}/ backtracks quadratically on long digit runs.
 */
function scanFrameText(text: string): TextScan {
  let depth = 0;
  let bigNumbers = false;
  const length = text.length;
  for (let i = 0; i < length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      i = stringEnd(text, i);
      if (i < 0) return TextScan.Plain; // unterminated string: JSON.parse reports it
    } else if (c === 0x5b || c === 0x7b) {
      // [ {
      if (++depth > MAX_FRAME_DEPTH) return TextScan.TooDeep;
    } else if (c === 0x5d || c === 0x7d) {
      // ] }
      depth--;
    } else if (c >= 0x30 && c <= 0x39) {
      // A number's digits (its sign came before): skip them and the fraction at once.
      const start = i;
      let d = text.charCodeAt(++i);
      while ((d >= 0x30 && d <= 0x39) || d === 0x2e) d = text.charCodeAt(++i);
      if (d === 0x65 || d === 0x45 || i - start > 308) bigNumbers = true;
      i--;
    }
  }
  return bigNumbers ? TextScan.BigNumbers : TextScan.Plain;
}

/** An `id` member closing a frame's text, as the SDK writes it (last), with no escape in it. */
const TAIL_ID = /,"id":"([^"\\]{1,64})"\}$/;

/**
 * The `ref` of a frame refused before its parse: its `id` when the text ends with it (the SDK
 * sends `id` last), so the client's request fails at once instead of timing out. In valid JSON
 * the final `}` closes the frame's object, so that member is the frame's own `id`.
 */
function tailRef(text: string): string | undefined {
  return TAIL_ID.exec(text.slice(-80))?.[1];
}

/** What is wrong with a content value beyond its size, if anything (see contentFlaw). */
type ContentFlaw = 'deep' | 'non-finite';

/**
 * Walks `value` (a parsed content at nesting `depth`) for containers deeper than
 * MAX_CONTENT_DEPTH and numbers outside the doubles. The recursion stops at that depth, so it
 * is bounded whatever the value's nesting (an admin body parsed by Fastify may nest 10k levels).
 */
function contentFlaw(value: unknown, depth: number): ContentFlaw | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? undefined : 'non-finite';
  if (typeof value !== 'object' || value === null) return undefined;
  if (depth > MAX_CONTENT_DEPTH) return 'deep';
  const children = Array.isArray(value) ? value : Object.values(value);
  for (const child of children) {
    const flaw = contentFlaw(child, depth + 1);
    if (flaw !== undefined) return flaw;
  }
  return undefined;
}

const FLAW_TEXT: Readonly<Record<ContentFlaw, string>> = {
  deep: `content must not be nested deeper than ${MAX_CONTENT_DEPTH} levels`,
  'non-finite': 'content must not hold numbers outside the double range (JSON.parse makes them Infinity)',
};

/** UTF-8 length without Buffer in browsers (the SDK imports this module). */
function utf8Length(s: string): number {
  return typeof Buffer === 'undefined' ? new TextEncoder().encode(s).length : Buffer.byteLength(s, 'utf8');
}

/** TOO_LARGE text when `content` (depth already checked) is over `maxBytes` JSON-encoded. */
function sizeError(content: unknown, maxBytes: number): string | undefined {
  let encoded: string;
  try {
    encoded = JSON.stringify(content);
  } catch {
    return undefined; // unreachable for parsed JSON of bounded depth
  }
  // A UTF-16 unit takes 1 to 3 UTF-8 bytes: measure only when the bounds disagree.
  const bytes = encoded.length > maxBytes || encoded.length * 3 <= maxBytes ? encoded.length : utf8Length(encoded);
  return bytes > maxBytes ? `content must be at most ${maxBytes} bytes JSON-encoded` : undefined;
}

/** A content refused: BAD_MESSAGE (too deep, non-finite number) or TOO_LARGE, with its text. */
export interface ContentRefusal {
  code: 'BAD_MESSAGE' | 'TOO_LARGE';
  error: string;
}

/**
 * The content rules of a `message`/`room` frame, for content that did not come from a frame's
 * text (the admin API's pushes): nested at most MAX_CONTENT_DEPTH levels, no number outside the
 * doubles, at most `maxBytes` JSON-encoded. Never recurses deeper than MAX_CONTENT_DEPTH, never
 * throws.
 */
export function checkContent(content: unknown, maxBytes: number): ContentRefusal | undefined {
  const flaw = contentFlaw(content, 1);
  if (flaw !== undefined) return { code: 'BAD_MESSAGE', error: FLAW_TEXT[flaw] };
  const tooLarge = sizeError(content, maxBytes);
  return tooLarge === undefined ? undefined : { code: 'TOO_LARGE', error: tooLarge };
}

/**
 * The content of a parsed frame: its depth is known to be within bounds (scanFrameText), its
 * numbers are walked only when the text has big ones.
 */
function contentError(content: unknown, text: string, maxBytes: number, bigNumbers: boolean): [FrameErrorCode, string] | undefined {
  if (content === undefined) return ['BAD_MESSAGE', 'content is required'];
  if (bigNumbers) {
    const flaw = contentFlaw(content, 1);
    if (flaw !== undefined) return ['BAD_MESSAGE', FLAW_TEXT[flaw]];
  }
  // Re-encoding never takes more than 6 bytes per UTF-16 unit of the source text (a lone
  // surrogate becomes \udXXX; numbers grow at most 21/4: 1e20), so small frames need no encoding.
  if (text.length * 6 <= maxBytes) return undefined;
  const tooLarge = sizeError(content, maxBytes);
  return tooLarge === undefined ? undefined : ['TOO_LARGE', tooLarge];
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
  // Refused before the parse: see tailRef for their `ref`.
  const maxText = limits.maxContentBytes + FRAME_ENVELOPE_ALLOWANCE;
  if (text.length > maxText) {
    return fail('TOO_LARGE', `frame text must be at most ${maxText} characters (MAX_CONTENT_BYTES + ${FRAME_ENVELOPE_ALLOWANCE})`, tailRef(text));
  }
  const scan = scanFrameText(text);
  if (scan === TextScan.TooDeep) {
    return fail('BAD_MESSAGE', `frame must not be nested deeper than ${MAX_FRAME_DEPTH} levels (content: ${MAX_CONTENT_DEPTH})`, tailRef(text));
  }
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
  if (type === 'history') return parseHistory(obj, id, ref);
  if (type === 'received') {
    const { conversation, seq } = obj;
    if (typeof conversation !== 'string' || conversation.length > CONVERSATION_ID_MAX_LENGTH) {
      return fail('BAD_MESSAGE', `conversation must be a conversation id of at most ${CONVERSATION_ID_MAX_LENGTH} characters`, ref);
    }
    if (!isSeq(seq)) return fail('BAD_MESSAGE', 'seq must be an integer >= 0', ref);
    return { ok: true, frame: { type, conversation, seq } };
  }
  if (type !== 'message' && type !== 'room' && type !== 'group') return fail('BAD_MESSAGE', `type must be one of: ${TYPE_LIST}`, ref);

  let target: string;
  if (type === 'message') {
    const to = obj.to;
    if (to === undefined) return fail('BAD_MESSAGE', 'to is required', ref);
    if (!isUserId(to)) return fail('BAD_MESSAGE', `to must be ${A_USER_ID}`, ref);
    target = to;
  } else if (type === 'group') {
    const group = obj.group;
    if (group === undefined) return fail('BAD_MESSAGE', 'group is required', ref);
    if (!isUserId(group)) return fail('BAD_MESSAGE', `group must be a group id (${USER_ID_TEXT})`, ref);
    target = group;
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
  const problem = contentError(content, text, limits.maxContentBytes, scan === TextScan.BigNumbers);
  if (problem !== undefined) return fail(problem[0], problem[1], ref);

  if (type === 'message') {
    return { ok: true, frame: ref === undefined ? { type, to: target, content } : { type, to: target, content, id: ref } };
  }
  if (type === 'group') {
    return { ok: true, frame: ref === undefined ? { type, group: target, content } : { type, group: target, content, id: ref } };
  }
  return { ok: true, frame: ref === undefined ? { type, room: target, content } : { type, room: target, content, id: ref } };
}

const isSeq = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/** A `history` frame: the conversation's id is checked for its shape here, for who may read it by the gateway. */
function parseHistory(obj: Record<string, unknown>, id: unknown, ref: string | undefined): ParseResult {
  const { conversation, before, after, limit } = obj;
  if (conversation === undefined) return fail('BAD_MESSAGE', 'conversation is required', ref);
  if (typeof conversation !== 'string' || conversation.length > CONVERSATION_ID_MAX_LENGTH) {
    return fail('BAD_MESSAGE', `conversation must be a conversation id of at most ${CONVERSATION_ID_MAX_LENGTH} characters`, ref);
  }
  if (before !== undefined && !isSeq(before)) return fail('BAD_MESSAGE', 'before must be an integer >= 0', ref);
  if (after !== undefined && !isSeq(after)) return fail('BAD_MESSAGE', 'after must be an integer >= 0', ref);
  if (limit !== undefined && (!isSeq(limit) || limit < 1)) return fail('BAD_MESSAGE', 'limit must be an integer >= 1', ref);
  if (id !== undefined && ref === undefined) {
    return fail('BAD_MESSAGE', `id must be a string of at most ${MAX_CLIENT_ID_LENGTH} characters`, undefined);
  }
  const frame: ClientHistoryFrame = { type: 'history', conversation };
  if (before !== undefined) frame.before = before;
  if (after !== undefined) frame.after = after;
  if (limit !== undefined) frame.limit = limit;
  if (ref !== undefined) frame.id = ref;
  return { ok: true, frame };
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

/** An error frame; equals `JSON.stringify({ type: 'error', code, error, ref, count })`. */
export function encodeError(code: FrameErrorCode, error: string, ref?: string, count?: number): string {
  const head = '{"type":"error","code":"' + code + '","error":' + JSON.stringify(error);
  const withRef = ref === undefined ? head : head + ',"ref":' + JSON.stringify(ref);
  return count === undefined ? withRef + '}' : withRef + ',"count":' + count + '}';
}

/**
 * Any server frame. Throws only for values JSON cannot hold (BigInt, cycles), which frames built
 * from parsed input never contain.
 */
export function encodeServerFrame(frame: ServerFrame): string {
  return JSON.stringify(frame);
}
