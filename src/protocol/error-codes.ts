/**
 * Codes of `error` frames (PROTOCOL.md "Errors"). An error frame never closes the connection;
 * closes use close-codes.ts. One table, no ad-hoc strings.
 */

/** Every error code a server may put in an `error` frame. */
export const FrameErrorCode = {
  /** The frame is not valid JSON, or not a JSON object. */
  BAD_JSON: 'BAD_JSON',
  /** Schema violation: missing/unknown `type`, missing or malformed field. */
  BAD_MESSAGE: 'BAD_MESSAGE',
  /** A binary frame was received; the protocol is JSON text only. */
  BINARY_NOT_SUPPORTED: 'BINARY_NOT_SUPPORTED',
  /** `content` over MAX_CONTENT_BYTES (JSON-encoded, UTF-8), or a frame text over MAX_CONTENT_BYTES + 1 KiB. */
  TOO_LARGE: 'TOO_LARGE',
  /** `message` to an offline user while the offline queue is off. */
  USER_OFFLINE: 'USER_OFFLINE',
  /** `message` to an offline user nobody knows (never logged in): nothing was queued. */
  UNKNOWN_USER: 'UNKNOWN_USER',
  /**
   * `message` to an offline user refused by an offline-queue quota; the text starts with the
   * quota's name and a colon: `recipient:`, `sender:`, `cluster:` or `lookups:`.
   */
  QUOTA_EXCEEDED: 'QUOTA_EXCEEDED',
  /**
   * Over MAX_MESSAGES_PER_SEC frames or MAX_INBOUND_BYTES_PER_SEC of frame text in one second:
   * one error frame per such second, when it ends, its `count` the frames refused.
   */
  RATE_LIMITED: 'RATE_LIMITED',
  /** `room` publish without being a member. */
  NOT_IN_ROOM: 'NOT_IN_ROOM',
  /** A dependency (other node, online store, bus) failed; the frame was not processed. */
  NOT_AVAILABLE: 'NOT_AVAILABLE',
  /** The frame is well-formed but this user may not do that. */
  FORBIDDEN: 'FORBIDDEN',
  /**
   * A `join` / `leave` over the session's MAX_ROOM_CHANGES_PER_SEC budget: refused, nothing
   * changed (a code of its own, not RATE_LIMITED: it answers that one frame, in frame order, and
   * is no strike towards close 4008).
   */
  ROOM_RATE_LIMITED: 'ROOM_RATE_LIMITED',
  /** `group` frame from a user who is not a member of the group (or no such group). */
  NOT_IN_GROUP: 'NOT_IN_GROUP',
  /** `history` of a conversation the user takes no part in (or none by that id). */
  UNKNOWN_CONVERSATION: 'UNKNOWN_CONVERSATION',
  /**
   * A stored direct message was numbered and handed to the recipient's live sessions, but could
   * not be made durable (the database kept failing): it is in no history and no recovery.
   */
  NOT_STORED: 'NOT_STORED',
} as const;

/** One of the codes of {@link FrameErrorCode}. */
export type FrameErrorCode = (typeof FrameErrorCode)[keyof typeof FrameErrorCode];

/** All codes, in table order (for schemas and exhaustive tests). */
export const FRAME_ERROR_CODES: readonly FrameErrorCode[] = Object.freeze(Object.values(FrameErrorCode));

/** Default human text per code; callers may send a more precise text (e.g. naming a field). */
export const FrameErrorText: Readonly<Record<FrameErrorCode, string>> = {
  BAD_JSON: 'frame must be a JSON object',
  BAD_MESSAGE: 'frame does not match the protocol',
  BINARY_NOT_SUPPORTED: 'binary frames are not supported, send JSON text frames',
  TOO_LARGE: 'content is too large',
  USER_OFFLINE: 'recipient is offline',
  UNKNOWN_USER: 'recipient is unknown',
  QUOTA_EXCEEDED: 'offline queue quota exceeded',
  RATE_LIMITED: 'too many frames or bytes per second',
  NOT_IN_ROOM: 'join the room before publishing to it',
  NOT_AVAILABLE: 'temporarily unavailable, retry later',
  FORBIDDEN: 'not allowed',
  ROOM_RATE_LIMITED: 'too many joins and leaves per second',
  NOT_IN_GROUP: 'not a member of that group',
  UNKNOWN_CONVERSATION: 'no such conversation of yours',
  NOT_STORED: 'delivered to live sessions but not stored, send it again',
};

const CODE_SET: ReadonlySet<string> = new Set(FRAME_ERROR_CODES);

/** Type guard for values read from the wire (e.g. by the SDK). */
export function isFrameErrorCode(value: unknown): value is FrameErrorCode {
  return typeof value === 'string' && CODE_SET.has(value);
}
