/**
 * WebSocket close codes of PROTOCOL.md ("Close codes"), the one table the gateway, the watchdog
 * and the client SDK share. Never close a socket with a literal number or an ad-hoc reason.
 */

/** Close codes the gateway sends. */
export const CloseCode = {
  /** Normal close (client or server finished). */
  NORMAL: 1000,
  /** Server going away (drain). */
  GOING_AWAY: 1001,
  /** Inbound frame over MAX_PAYLOAD_BYTES. */
  TOO_BIG: 1009,
  /** Server restarting (drain). */
  RESTART: 1012,
  /** No heartbeat for HEARTBEAT_TIMEOUT_MS. */
  HEARTBEAT_TIMEOUT: 4000,
  /** The same user connected again (SESSION_POLICY=replace). */
  REPLACED: 4001,
  /** Logged out through the REST API (self or admin). */
  LOGGED_OUT: 4002,
  /** Send queue overflowed SLOW_CONSUMER_DROPS times in a row. */
  SLOW_CONSUMER: 4003,
  /** Rate limited RATE_LIMIT_STRIKES seconds in a row. */
  RATE_LIMITED: 4008,
} as const;

/** One of the close codes of the table. */
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

/**
 * Close reason text per code. RFC 6455 caps the reason at 123 UTF-8 bytes (125 minus the code);
 * these are short ASCII strings, checked by the tests.
 */
export const CloseReason: Readonly<Record<CloseCode, string>> = {
  [CloseCode.NORMAL]: 'normal closure',
  [CloseCode.GOING_AWAY]: 'server going away',
  [CloseCode.TOO_BIG]: 'frame too big',
  [CloseCode.RESTART]: 'server restarting',
  [CloseCode.HEARTBEAT_TIMEOUT]: 'heartbeat timeout',
  [CloseCode.REPLACED]: 'replaced by a newer connection',
  [CloseCode.LOGGED_OUT]: 'logged out',
  [CloseCode.SLOW_CONSUMER]: 'slow consumer',
  [CloseCode.RATE_LIMITED]: 'rate limited',
};

/**
 * The `reason` of the `kicked` frame sent just before a server-side close that is the server's
 * decision about this client (protocol.md "Close codes"). Codes without one (drain, heartbeat
 * timeout, oversize frame) get no `kicked` frame: a drain sends `reconnect`, a silent client is
 * not listening.
 */
export const KickedReason: Readonly<Partial<Record<CloseCode, string>>> = {
  [CloseCode.REPLACED]: 'replaced',
  [CloseCode.LOGGED_OUT]: 'logged_out',
  [CloseCode.SLOW_CONSUMER]: 'slow_consumer',
  [CloseCode.RATE_LIMITED]: 'rate_limited',
};

/** RFC 6455: a close reason may hold at most 123 bytes. */
export const MAX_CLOSE_REASON_BYTES = 123;

/**
 * What a client should do after a close:
 * - `stop`: do not reconnect (normal end, another device took over, logged out, or a client bug
 *   that reconnecting would only repeat: 1009 "fix client");
 * - `reconnect`: reconnect with the usual backoff;
 * - `reconnect-later`: reconnect, but start from a long backoff (rate limited).
 */
export type CloseAdvice = 'stop' | 'reconnect' | 'reconnect-later';

const ADVICE: ReadonlyMap<number, CloseAdvice> = new Map<number, CloseAdvice>([
  [CloseCode.NORMAL, 'stop'],
  [CloseCode.GOING_AWAY, 'reconnect'],
  [CloseCode.TOO_BIG, 'stop'],
  [CloseCode.RESTART, 'reconnect'],
  [CloseCode.HEARTBEAT_TIMEOUT, 'reconnect'],
  [CloseCode.REPLACED, 'stop'],
  [CloseCode.LOGGED_OUT, 'stop'],
  [CloseCode.SLOW_CONSUMER, 'reconnect'],
  [CloseCode.RATE_LIMITED, 'reconnect-later'],
]);

/** Codes after which a client must not reconnect on its own. */
export const NO_RECONNECT_CODES: ReadonlySet<number> = new Set([...ADVICE].filter(([, advice]) => advice === 'stop').map(([code]) => code));

/**
 * Advice for any close code, including codes not in the table: those (1006 abnormal closure,
 * 1011 internal error, proxies' codes...) mean the connection was lost, so `reconnect`.
 */
export function closeAdvice(code: number): CloseAdvice {
  return ADVICE.get(code) ?? 'reconnect';
}

/** The reason text of a table code. */
export function closeReason(code: CloseCode): string {
  return CloseReason[code];
}
