/**
 * Plain counters of one node's gateway, read by /ws/stats and the metrics endpoint. Incremented
 * on the hot path, so they are fields and fixed typed arrays indexed by small integer constants, not maps
 * (except the per-close-code table, touched once per connection). prom-client reads them at
 * scrape time; a frame costs one `++`.
 */

/** Inbound frames by what they turned out to be (index into `GatewayCounters.framesInByType`). */
export const FrameIn = {
  Ping: 0,
  Message: 1,
  Join: 2,
  Leave: 3,
  Room: 4,
  Ack: 5,
  /** Not JSON, not an object, a schema violation, or a binary frame. */
  Invalid: 6,
  /** Refused by the per-session rate limit before being parsed. */
  RateLimited: 7,
  /** Never handled: over MAX_EARLY_FRAMES while logging in, or the session was already closing. */
  Dropped: 8,
  Group: 9,
  History: 10,
  Received: 11,
} as const;
export type FrameIn = (typeof FrameIn)[keyof typeof FrameIn];

/** Label values of `FrameIn`, in enum order. */
export const FRAME_IN_TYPES = [
  'ping',
  'message',
  'join',
  'leave',
  'room',
  'ack',
  'invalid',
  'rate_limited',
  'dropped',
  'group',
  'history',
  'received',
] as const;

/** Outbound frames accepted by a session's send queue, by type (index into `framesOutByType`). */
export const FrameOut = {
  Connected: 0,
  Pong: 1,
  Message: 2,
  Ack: 3,
  Error: 4,
  Joined: 5,
  Left: 6,
  Room: 7,
  Broadcast: 8,
  Kicked: 9,
  Reconnect: 10,
  /** Anything not built by the protocol encoders (never expected). */
  Other: 11,
  Group: 12,
  History: 13,
  Recovered: 14,
} as const;
export type FrameOut = (typeof FrameOut)[keyof typeof FrameOut];

/** Label values of `FrameOut`, in enum order. */
export const FRAME_OUT_TYPES = [
  'connected',
  'pong',
  'message',
  'ack',
  'error',
  'joined',
  'left',
  'room',
  'broadcast',
  'kicked',
  'reconnect',
  'other',
  'group',
  'history',
  'recovered',
] as const;

/** Counts per frame type; a Float64Array stays exact far past 2^31 and never reallocates. */
export type FrameCounts = Float64Array;

const TYPE_AT = '{"type":"'.length;

/**
 * The type of an encoded server frame, without allocating. Every server frame comes from the
 * encoders of protocol.ts (JSON.stringify of an object literal whose first key is `type`, or the
 * hand-concatenated pong / error), so it starts with `{"type":"<type>"`: one character picks
 * the candidate and a `startsWith` at an offset confirms it.
 */
export function frameOutType(frame: string): FrameOut {
  if (!frame.startsWith('{"type":"')) return FrameOut.Other;
  switch (frame.charCodeAt(TYPE_AT)) {
    case 0x63 /* c */:
      return frame.startsWith('connected"', TYPE_AT) ? FrameOut.Connected : FrameOut.Other;
    case 0x70 /* p */:
      return frame.startsWith('pong"', TYPE_AT) ? FrameOut.Pong : FrameOut.Other;
    case 0x6d /* m */:
      return frame.startsWith('message"', TYPE_AT) ? FrameOut.Message : FrameOut.Other;
    case 0x61 /* a */:
      return frame.startsWith('ack"', TYPE_AT) ? FrameOut.Ack : FrameOut.Other;
    case 0x65 /* e */:
      return frame.startsWith('error"', TYPE_AT) ? FrameOut.Error : FrameOut.Other;
    case 0x6a /* j */:
      return frame.startsWith('joined"', TYPE_AT) ? FrameOut.Joined : FrameOut.Other;
    case 0x6c /* l */:
      return frame.startsWith('left"', TYPE_AT) ? FrameOut.Left : FrameOut.Other;
    case 0x72 /* r */:
      if (frame.startsWith('room"', TYPE_AT)) return FrameOut.Room;
      if (frame.startsWith('recovered"', TYPE_AT)) return FrameOut.Recovered;
      return frame.startsWith('reconnect"', TYPE_AT) ? FrameOut.Reconnect : FrameOut.Other;
    case 0x62 /* b */:
      return frame.startsWith('broadcast"', TYPE_AT) ? FrameOut.Broadcast : FrameOut.Other;
    case 0x67 /* g */:
      return frame.startsWith('group"', TYPE_AT) ? FrameOut.Group : FrameOut.Other;
    case 0x68 /* h */:
      return frame.startsWith('history"', TYPE_AT) ? FrameOut.History : FrameOut.Other;
    case 0x6b /* k */:
      return frame.startsWith('kicked"', TYPE_AT) ? FrameOut.Kicked : FrameOut.Other;
    default:
      return FrameOut.Other;
  }
}

export class GatewayCounters {
  opened = 0;
  closed = 0;
  /** Every inbound WebSocket message, whatever became of it. */
  framesIn = 0;
  messagesIn = 0;
  /** Direct messages delivered to a live session (locally or through the owning node); queued ones are not. */
  messagesOut = 0;
  dropped = 0;
  rateLimited = 0;
  readonly closedByCode = new Map<number, number>();
  /** Inbound frames by `FrameIn`. */
  readonly framesInByType: FrameCounts = new Float64Array(FRAME_IN_TYPES.length);
  /** Frames accepted by a send queue of this node, by `FrameOut` (fed by every Session). */
  readonly framesOutByType: FrameCounts = new Float64Array(FRAME_OUT_TYPES.length);
}
