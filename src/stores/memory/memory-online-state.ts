/**
 * The shared state of the in-process stores (presence, logout outbox, node registry): one
 * object, because one atomic step spans them (an ending session queues its LogoutRecord; reaping
 * a node logs users out). It mirrors the Redis model key for key (a player record per user, a
 * sorted online index, per-node player sets and heartbeat maps, a pending-logout queue ordered
 * by due time, the grace queue, node leases) so memory and Redis pass the same contract suites
 * with the same edge cases. The helpers are the steps the Lua preludes share (lua/lib/).
 */
import type { PresenceStatus } from '../../presence/presence-store.ts';
import type { LogoutRecord } from '../../presence/logout-outbox.ts';
import { SmallMap } from './small-map.ts';
import { SortedList } from './sorted-list.ts';
import { OfflineExpiry } from './offline-expiry.ts';
import { compareCodePoints } from '../../presence/code-point-order.ts';
import { checkCount } from '../../presence/online-paging.ts';
import { DEFAULT_OFFLINE_TTL_MS } from '../online-stores.ts';

export interface MemoryOnlineStateOptions {
  /** How long an offline user's entry is kept once their logout is acked (PRESENCE_OFFLINE_TTL_S). */
  offlineTtlMs?: number;
  /** The store's own clock for those expiries (Redis uses its server time); default Date.now. */
  now?: () => number;
}

/**
 * Expired entries removed per sweep. A sweep runs at the start of the calls that come often
 * (login, getPlayer, claim, ack: the logout writer polls every second), so a backlog drains in
 * steps that never hold the event loop for long.
 */
const SWEEP_BATCH = 1000;

/** The fields of `player:online:<userId>`. */
export interface PlayerEntry {
  status: PresenceStatus;
  username: string;
  nodeId: string;
  epoch: number;
  sessions: number;
  sid: string;
  connectedAt: number;
  lastHeartbeat: number;
  logoutTime?: number;
  logoutReason?: string;
  /** While `reconnecting`: the grace deadline and how, where and when the last connection ended. */
  grace?: { until: number; endedAt: number; reason: string; nodeId: string };
  /** The `n:<nodeId>` fields: live connections per node, never zero. */
  nodes: SmallMap<number>;
  /** The `c:<nodeId>` fields: tracked connection ids per node, never empty. */
  conns: SmallMap<string[]>;
}

export interface PendingEntry {
  due: number;
  record: LogoutRecord;
  attempts: number;
}

export interface DueKey {
  due: number;
  id: string;
}

/** Redis orders a sorted set by score, then by member bytes. */
const compareDue = (a: DueKey, b: DueKey): number => a.due - b.due || compareCodePoints(a.id, b.id);

export class MemoryOnlineState {
  /** `player:online:<userId>`. */
  readonly players = new Map<string, PlayerEntry>();
  /** The TTLs of offline players' entries (PEXPIRE of `player:online:<userId>`). */
  readonly expiry = new OfflineExpiry();
  private readonly offlineTtlMs: number;
  private readonly now: () => number;

  constructor(options: MemoryOnlineStateOptions = {}) {
    this.offlineTtlMs = options.offlineTtlMs ?? DEFAULT_OFFLINE_TTL_MS;
    checkCount('offlineTtlMs', this.offlineTtlMs);
    this.now = options.now ?? Date.now;
  }

  /** `server:online:index` (and `server:online:players`): online userIds in byte order, for cursor paging. */
  readonly index = new SortedList<string>(compareCodePoints);
  /** `server:node:<nodeId>:heartbeats`. */
  readonly heartbeats = new Map<string, Map<string, number>>();
  /** `logout:pending:data` and `logout:pending` (ordered by due time). */
  readonly pending = new Map<string, PendingEntry>();
  readonly dueQueue = new SortedList<DueKey>(compareDue);
  /** `server:node:<nodeId>:players` (never empty, like a Redis set). */
  readonly nodePlayers = new Map<string, Set<string>>();
  /** `logout:grace`: users in their logout grace period, ordered by its end. */
  readonly graceQueue = new SortedList<DueKey>(compareDue);
  /** `server:nodes`: nodeId -> last lease renewal. */
  readonly leases = new Map<string, number>();
  /** `server:node:<nodeId>:fence`: the lease generation and the generation a reaper fenced. */
  readonly fences = new Map<string, { gen?: string; fenced?: string }>();

  /** Removes the `n:<nodeId>` field with its connection ids, node-set membership and heartbeat. */
  dropNode(userId: string, entry: PlayerEntry, nodeId: string): void {
    entry.nodes.delete(nodeId);
    entry.conns.delete(nodeId);
    this.removeNodePlayer(nodeId, userId);
    this.dropHeartbeat(nodeId, userId);
  }

  dropHeartbeat(nodeId: string, userId: string): void {
    const map = this.heartbeats.get(nodeId);
    if (map?.delete(userId) && map.size === 0) this.heartbeats.delete(nodeId);
  }

  addNodePlayer(nodeId: string, userId: string): void {
    let set = this.nodePlayers.get(nodeId);
    if (!set) this.nodePlayers.set(nodeId, (set = new Set()));
    set.add(userId);
  }

  removeNodePlayer(nodeId: string, userId: string): void {
    const set = this.nodePlayers.get(nodeId);
    if (set?.delete(userId) && set.size === 0) this.nodePlayers.delete(nodeId);
  }

  /** go-offline.lua: ends the logical session and queues its LogoutRecord, id = logicalSessionId. */
  goOffline(userId: string, entry: PlayerEntry, nodeId: string, reason: string, now: number): LogoutRecord {
    entry.status = 'offline';
    entry.sessions = 0;
    delete entry.grace;
    entry.logoutTime = now;
    entry.logoutReason = reason;
    this.index.delete(userId);
    const record: LogoutRecord = {
      userId,
      username: entry.username,
      logicalSessionId: entry.sid,
      nodeId,
      epoch: entry.epoch,
      connectedAt: entry.connectedAt,
      logoutAt: now,
      reason,
    };
    // Like ZADD NX / HSETNX: an id already queued keeps its first record.
    if (!this.pending.has(entry.sid)) {
      this.pending.set(entry.sid, { due: now, record, attempts: 0 });
      this.dueQueue.insert({ due: now, id: entry.sid });
    }
    return record;
  }

  clearGrace(userId: string, entry: PlayerEntry): void {
    if (entry.grace) this.graceQueue.delete({ due: entry.grace.until, id: userId });
    delete entry.grace;
  }

  reschedule(id: string, item: PendingEntry, due: number): void {
    this.dueQueue.delete({ due: item.due, id });
    item.due = due;
    this.dueQueue.insert({ due, id });
  }

  /**
   * ack-pending.lua: the logout of logical session `sid` is in the database. If the user is still
   * offline in that session their entry goes `offlineTtlMs` from now, with any heartbeat a racing
   * flush left on the logout's node; a user who logged in again since keeps theirs.
   */
  expireOffline(userId: string, sid: string, nodeId: string): void {
    const entry = this.players.get(userId);
    if (entry?.status !== 'offline' || entry.sid !== sid) return;
    this.expiry.schedule(userId, this.now() + this.offlineTtlMs);
    this.dropHeartbeat(nodeId, userId);
  }

  /** Removes the entries whose expiry passed (at most SWEEP_BATCH per call; O(1) when none is due). */
  sweepExpired(): void {
    for (const userId of this.expiry.takeDue(this.now(), SWEEP_BATCH)) {
      // Only offline entries are ever scheduled, and a login cancels the schedule.
      if (this.players.get(userId)?.status === 'offline') this.players.delete(userId);
    }
  }
}

/** A fresh player record (offline, never seen before). */
export function newPlayerEntry(username: string, nodeId: string): PlayerEntry {
  return {
    status: 'offline',
    username,
    nodeId,
    epoch: 0,
    sessions: 0,
    sid: '',
    connectedAt: 0,
    lastHeartbeat: 0,
    nodes: new SmallMap(),
    conns: new SmallMap(),
  };
}
