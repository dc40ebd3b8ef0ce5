/**
 * Turns the replies of the online-store scripts into typed values. Redis hands back strings and
 * nested arrays; every shape is checked so a script/TypeScript mismatch fails loudly instead of
 * leaking `undefined` into presence data.
 */
import type { LogoutRecord, PendingLogout } from '../../presence/logout-outbox.ts';
import type { PlayerPresence } from '../../presence/presence-store.ts';

/** Thrown when a script reply does not have the expected shape. */
export class OnlineReplyError extends Error {
  constructor(what: string) {
    super(`unexpected Redis reply: ${what}`);
    this.name = 'OnlineReplyError';
  }
}

/** The reply as an array, or an OnlineReplyError naming `what`. */
export function asArray(value: unknown, what: string): unknown[] {
  if (!Array.isArray(value)) throw new OnlineReplyError(`${what} is not an array`);
  return value;
}

/**
 * A script reply of named fields, `{ name, value, name, value, ... }`, as an object. Every name
 * must be one of `required` (all present) or `optional`, each at most once: a script and its
 * caller that disagree fail loudly instead of reading the wrong position.
 */
export function asFields<R extends string, O extends string = never>(
  value: unknown,
  what: string,
  required: readonly R[],
  optional: readonly O[] = [],
): Record<R, unknown> & Partial<Record<O, unknown>> {
  const flat = asArray(value, what);
  if (flat.length % 2 !== 0) throw new OnlineReplyError(`${what} has an odd number of items`);
  const fields: Record<string, unknown> = Object.create(null);
  for (let i = 0; i < flat.length; i += 2) {
    const name = asString(flat[i], `${what} field name`);
    if (!(required as readonly string[]).includes(name) && !(optional as readonly string[]).includes(name)) {
      throw new OnlineReplyError(`${what} has an unknown field ${name}`);
    }
    if (name in fields) throw new OnlineReplyError(`${what} repeats the field ${name}`);
    fields[name] = flat[i + 1];
  }
  for (const name of required) if (!(name in fields)) throw new OnlineReplyError(`${what} lacks the field ${name}`);
  return fields as Record<R, unknown> & Partial<Record<O, unknown>>;
}

/** The reply as a string (Buffers decoded as UTF-8), or an OnlineReplyError. */
export function asString(value: unknown, what: string): string {
  if (typeof value === 'string') return value;
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  throw new OnlineReplyError(`${what} is not a string`);
}

/** Integer replies arrive as numbers, hash values as strings; both must be finite. */
export function asNumber(value: unknown, what: string): number {
  const n = typeof value === 'number' ? value : Number(asString(value, what));
  if (!Number.isFinite(n)) throw new OnlineReplyError(`${what} is not a number`);
  return n;
}

/** A stored time or counter: missing or unparsable fields count as 0 (never NaN). */
const toNumber = (value: string | undefined): number => {
  if (value === undefined || value === '') return 0;
  const n = Number(value);
  return Number.isFinite(n) ? n : 0;
};

/** `{ nodeId, count, ... }` flat pairs -> record. */
export function parseNodeCounts(value: unknown, what: string): Record<string, number> {
  const flat = asArray(value, what);
  const nodes: Record<string, number> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) {
    nodes[asString(flat[i], what)] = asNumber(flat[i + 1], what);
  }
  return nodes;
}

/** HGETALL pairs of `player:online:<userId>` + live-node heartbeats -> presence (null if no hash). */
export function parsePresence(userId: string, fieldsReply: unknown, beatsReply: unknown): PlayerPresence | null {
  const flat = asArray(fieldsReply, 'player hash');
  if (flat.length === 0) return null;
  const fields = new Map<string, string>();
  const nodes: Record<string, number> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const name = asString(flat[i], 'hash field');
    const value = asString(flat[i + 1], 'hash value');
    if (name.startsWith('n:')) nodes[name.slice(2)] = toNumber(value);
    else fields.set(name, value);
  }
  let lastHeartbeat = toNumber(fields.get('lastHeartbeat'));
  for (const beat of asArray(beatsReply, 'heartbeats')) {
    lastHeartbeat = Math.max(lastHeartbeat, toNumber(asString(beat, 'heartbeat')));
  }
  const presence: PlayerPresence = {
    userId,
    status: statusOf(fields.get('status')),
    username: fields.get('username') ?? '',
    nodeId: fields.get('nodeId') ?? '',
    nodes,
    sessions: toNumber(fields.get('sessions')),
    epoch: toNumber(fields.get('epoch')),
    logicalSessionId: fields.get('sid') ?? '',
    connectedAt: toNumber(fields.get('connectedAt')),
    lastHeartbeat,
  };
  const logoutTime = fields.get('logoutTime');
  if (logoutTime !== undefined) presence.logoutTime = toNumber(logoutTime);
  const logoutReason = fields.get('logoutReason');
  if (logoutReason !== undefined) presence.logoutReason = logoutReason;
  const graceUntil = fields.get('graceUntil');
  if (graceUntil !== undefined && presence.status === 'reconnecting') presence.graceUntil = toNumber(graceUntil);
  return presence;
}

function statusOf(value: string | undefined): PlayerPresence['status'] {
  return value === 'online' || value === 'reconnecting' ? value : 'offline';
}

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);

/** The LogoutRecord JSON written by go-offline.lua. */
export function parseRecord(value: unknown): LogoutRecord {
  const json: unknown = typeof value === 'string' ? JSON.parse(value) : value;
  if (!isObject(json)) throw new OnlineReplyError('logout record is not an object');
  const text = (key: string) => asString(json[key], `record.${key}`);
  const num = (key: string) => asNumber(json[key], `record.${key}`);
  return {
    userId: text('userId'),
    username: text('username'),
    logicalSessionId: text('logicalSessionId'),
    nodeId: text('nodeId'),
    epoch: num('epoch'),
    connectedAt: num('connectedAt'),
    logoutAt: num('logoutAt'),
    reason: text('reason'),
  };
}

/** A `logout:pending:data` value: JSON { record, attempts }. */
export function parsePending(id: string, data: string): PendingLogout {
  const json: unknown = JSON.parse(data);
  if (!isObject(json)) throw new OnlineReplyError(`pending logout ${id} is not an object`);
  return { id, record: parseRecord(json.record), attempts: asNumber(json.attempts, 'attempts') };
}

/** An array of LogoutRecord JSON strings (reap replies). */
export function parseRecords(value: unknown, what: string): LogoutRecord[] {
  return asArray(value, what).map((item) => parseRecord(asString(item, what)));
}
