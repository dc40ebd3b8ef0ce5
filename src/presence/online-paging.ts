/**
 * Paging and input rules shared by both online stores, so they agree on every edge case:
 * the cursor format, the limit range, the userId prefix range, how far a filtered page may scan,
 * valid times and counts.
 */
import type { ReassertGrace, ReassertSession } from '../cluster/node-registry.ts';
import { compareCodePoints } from './code-point-order.ts';
import { USER_ID_PREFIX_PATTERN, USER_ID_PREFIX_RE } from '../protocol/ids.ts';

/** Largest page `listOnline` accepts. */
export const MAX_PAGE_LIMIT = 1000;

/**
 * With a node filter, one page examines at most `limit * FILTER_SCAN_FACTOR` index entries, so
 * a page costs a bounded amount of work even when few players match (it may then be short or
 * empty and still carry a cursor).
 */
export const FILTER_SCAN_FACTOR = 10;

/** The userIds starting with a prefix: `from` <= userId < `to` in byte (code point) order. */
export interface PrefixRange {
  from: string;
  to: string;
}

/**
 * The range of a prefix, or undefined when it selects everything (absent or empty). Throws a
 * RangeError for a prefix outside USER_ID_PREFIX_PATTERN (protocol/ids.ts: the characters of a
 * userId, empty allowed; ASCII, so that both stores can bound the range with the prefix's
 * successor and Redis range syntax characters such as `[` and `(` stay out of the bounds).
 * Every string starting with `p` sorts before `p` with its last character incremented, and
 * every string from there on does not start with `p`; the increment stays ASCII because the
 * largest allowed character is `z`.
 */
export function prefixRange(prefix: string | undefined): PrefixRange | undefined {
  if (prefix === undefined) return undefined;
  if (!USER_ID_PREFIX_RE.test(prefix)) throw new RangeError(`prefix must match ${USER_ID_PREFIX_PATTERN}, got ${JSON.stringify(prefix)}`);
  if (prefix === '') return undefined;
  const last = prefix.charCodeAt(prefix.length - 1);
  return { from: prefix, to: prefix.slice(0, -1) + String.fromCharCode(last + 1) };
}

/**
 * Where a page walk starts: strictly after the cursor's userId, unless a prefix range begins
 * later (a cursor from before the range, e.g. of a run without the prefix), then at its start.
 * `inclusive` tells whether `value` itself belongs to the walk.
 */
export function walkStart(after: string | undefined, range: PrefixRange | undefined): { value: string; inclusive: boolean } | undefined {
  if (range && (after === undefined || compareCodePoints(after, range.from) < 0)) return { value: range.from, inclusive: true };
  return after === undefined ? undefined : { value: after, inclusive: false };
}

/** Thrown for a cursor that no store produced; routes map it to HTTP 400. */
export class InvalidCursorError extends Error {
  readonly code = 'GW_ERR_INVALID_CURSOR';
  readonly statusCode = 400;
  constructor() {
    super('invalid cursor');
    this.name = 'InvalidCursorError';
  }
}

/** The cursor is the base64url of the last userId examined: opaque, URL-safe, stateless. */
export function encodeCursor(lastUserId: string): string {
  return Buffer.from(lastUserId, 'utf8').toString('base64url');
}

/** Inverse of `encodeCursor`; rejects anything that is not its canonical output. */
export function decodeCursor(cursor: string): string {
  const userId = Buffer.from(cursor, 'base64url').toString('utf8');
  // Buffer decoding is lenient (skips junk, accepts padding): insist on a round trip.
  if (userId.length === 0 || encodeCursor(userId) !== cursor) throw new InvalidCursorError();
  return userId;
}

/** Throws a RangeError unless `limit` is an integer in 1..MAX_PAGE_LIMIT. */
export function checkPageLimit(limit: number): void {
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE_LIMIT) {
    throw new RangeError(`limit must be an integer in 1..${MAX_PAGE_LIMIT}, got ${limit}`);
  }
}

/**
 * Throws a RangeError unless `value` is a whole number of ms. Fractions are refused rather than
 * rounded: the Redis queue stores records as JSON through Lua's cjson (14 significant digits),
 * which is exact for integer ms timestamps but would silently round a fractional one.
 */
export function checkTime(name: string, value: number): void {
  if (!Number.isSafeInteger(value)) {
    throw new RangeError(`${name} must be an integer number of ms, got ${value}`);
  }
}

/** Throws a RangeError unless `value` is a positive integer (claim sizes). */
export function checkCount(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(`${name} must be a positive integer, got ${value}`);
  }
}

/** Throws a RangeError for a session `reassert` cannot record faithfully. */
export function checkReassertSession(session: ReassertSession): void {
  checkTime('epoch', session.epoch);
  checkTime('connectedAt', session.connectedAt);
  checkCount('connections', session.connections);
  if (session.connectionIds && session.connectionIds.length !== session.connections) {
    throw new RangeError(`connectionIds of ${session.userId} must list exactly ${session.connections} ids`);
  }
}

/** Throws a RangeError for a grace `reassertGraces` cannot record faithfully. */
export function checkReassertGrace(grace: ReassertGrace): void {
  checkTime('epoch', grace.epoch);
  checkTime('connectedAt', grace.connectedAt);
  checkTime('endedAt', grace.endedAt);
  checkTime('graceUntil', grace.graceUntil);
  if (grace.graceUntil < grace.endedAt) throw new RangeError(`graceUntil of ${grace.userId} is before its end`);
}
