/**
 * The online store of a single process. It mirrors the Redis model key for key (a player
 * record per user, a sorted online index, per-node player sets and heartbeat maps, a
 * pending-logout queue ordered by due time; node leases and locks in memory-online-cluster.ts)
 * so both stores pass the same contract suite with the same edge cases.
 */
import type {
  EndSessionInput,
  EndSessionResult,
  ForceLogoutInput,
  ForceLogoutResult,
  ListOnlineOptions,
  LoginInput,
  LoginResult,
  LogoutRecord,
  NodeLease,
  OnlinePage,
  OnlineStore,
  PendingLogout,
  PlayerPresence,
  PresenceStatus,
  ReapResult,
  ReassertResult,
  ReassertSession,
  RegisterNodeResult,
} from '../../presence/online-store.ts';
import { MemoryCluster } from './memory-online-cluster.ts';
import { SmallMap } from './small-map.ts';
import { SortedList, compareCodePoints } from './sorted-list.ts';
import {
  FILTER_SCAN_FACTOR, checkCount, checkPageLimit, checkTime, decodeCursor, encodeCursor, prefixRange, walkStart,
} from '../../presence/online-paging.ts';

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

interface PendingEntry {
  due: number;
  record: LogoutRecord;
  attempts: number;
}

interface DueKey {
  due: number;
  id: string;
}

/** Redis orders a sorted set by score, then by member bytes. */
const compareDue = (a: DueKey, b: DueKey): number => a.due - b.due || compareCodePoints(a.id, b.id);

/** In-process `OnlineStore`; see online-store.ts for the model. */
export class MemoryOnlineStore implements OnlineStore {
  private readonly players = new Map<string, PlayerEntry>();
  /** `server:online:index`: online userIds in byte order, for cursor paging. */
  private readonly index = new SortedList<string>(compareCodePoints);
  /** `server:node:<nodeId>:heartbeats`. */
  private readonly heartbeats = new Map<string, Map<string, number>>();
  /** `logout:pending:data` and `logout:pending` (ordered by due time). */
  private readonly pending = new Map<string, PendingEntry>();
  private readonly dueQueue = new SortedList<DueKey>(compareDue);
  /** `server:node:<nodeId>:players` (never empty, like a Redis set). */
  private readonly nodePlayers = new Map<string, Set<string>>();
  /** `logout:grace`: users in their logout grace period, ordered by its end. */
  private readonly graceQueue = new SortedList<DueKey>(compareDue);
  /** Leases, locks, reaping, re-assertion: memory-online-cluster.ts, on the maps above. */
  private readonly cluster = new MemoryCluster({
    players: this.players,
    index: this.index,
    nodePlayers: this.nodePlayers,
    heartbeats: this.heartbeats,
    addNodePlayer: (nodeId, userId) => this.addNodePlayer(nodeId, userId),
    removeNodePlayer: (nodeId, userId) => this.removeNodePlayer(nodeId, userId),
    dropHeartbeat: (nodeId, userId) => this.dropHeartbeat(nodeId, userId),
    goOffline: (userId, entry, nodeId, reason, now) => this.goOffline(userId, entry, nodeId, reason, now),
  });

  async login(input: LoginInput): Promise<LoginResult> {
    checkTime('now', input.now);
    let entry = this.players.get(input.userId);
    const previousNodes = entry?.status === 'online' ? Object.fromEntries(entry.nodes) : {};
    let newLogicalSession = false;
    if (entry?.status === 'reconnecting') {
      // Back within the grace period: the same logical session goes on (login.lua does the same).
      this.clearGrace(input.userId, entry);
      entry.status = 'online';
    }
    if (!entry) {
      entry = {
        status: 'offline', username: input.username, nodeId: input.nodeId, epoch: 0, sessions: 0,
        sid: '', connectedAt: 0, lastHeartbeat: 0, nodes: new SmallMap(), conns: new SmallMap(),
      };
      this.players.set(input.userId, entry);
    }
    if (entry.status === 'offline') {
      newLogicalSession = true;
      entry.status = 'online';
      entry.sid = input.candidateLogicalSessionId;
      entry.connectedAt = input.now;
      entry.sessions = 0;
      delete entry.logoutTime;
      delete entry.logoutReason;
      this.index.insert(input.userId);
    }
    entry.epoch += 1;
    entry.sessions += 1;
    entry.nodes.set(input.nodeId, (entry.nodes.get(input.nodeId) ?? 0) + 1);
    if (input.connectionId) {
      const ids = entry.conns.get(input.nodeId);
      // A literal, not a spread of []: V8 sizes it to one id, where the spread reserves 17 slots.
      entry.conns.set(input.nodeId, ids === undefined ? [input.connectionId] : [...ids, input.connectionId]);
    }
    this.addNodePlayer(input.nodeId, input.userId);
    entry.username = input.username;
    entry.nodeId = input.nodeId;
    entry.lastHeartbeat = input.now;
    return { epoch: entry.epoch, logicalSessionId: entry.sid, newLogicalSession, sessions: entry.sessions, previousNodes };
  }

  async endSession(input: EndSessionInput): Promise<EndSessionResult> {
    checkTime('now', input.now);
    const entry = this.players.get(input.userId);
    if (!entry || entry.status !== 'online' || entry.sid !== input.logicalSessionId) {
      return { stale: true, loggedOut: false, sessions: entry?.status === 'online' ? entry.sessions : 0 };
    }
    const count = entry.nodes.get(input.nodeId) ?? 0;
    // This node holds no connection of the session: a repeated end of the same connection.
    if (count <= 0) return { stale: true, loggedOut: false, sessions: entry.sessions };
    // A tracked connection no longer listed: a repeated end (end-session.lua does the same).
    const ids = input.connectionId ? entry.conns.get(input.nodeId) : undefined;
    if (ids) {
      const found = ids.indexOf(input.connectionId!);
      if (found < 0) return { stale: true, loggedOut: false, sessions: entry.sessions };
      ids.splice(found, 1);
      if (ids.length === 0) entry.conns.delete(input.nodeId);
    }
    if (count > 1) entry.nodes.set(input.nodeId, count - 1);
    else this.dropNode(input.userId, entry, input.nodeId);
    entry.sessions = Math.max(0, entry.sessions - 1);
    if (entry.sessions > 0) return { stale: false, loggedOut: false, sessions: entry.sessions };
    const graceMs = input.graceMs ?? 0;
    if (graceMs > 0) {
      const until = input.now + graceMs;
      entry.status = 'reconnecting';
      entry.grace = { until, endedAt: input.now, reason: input.reason, nodeId: input.nodeId };
      this.graceQueue.insert({ due: until, id: input.userId });
      return { stale: false, loggedOut: false, sessions: 0, graceUntil: until };
    }
    const record = this.goOffline(input.userId, entry, input.nodeId, input.reason, input.now);
    return { stale: false, loggedOut: true, sessions: 0, record: { ...record } };
  }

  async forceLogout(input: ForceLogoutInput): Promise<ForceLogoutResult> {
    checkTime('now', input.now);
    const entry = this.players.get(input.userId);
    if (!entry || entry.status === 'offline') return { loggedOut: false, nodes: {} };
    this.clearGrace(input.userId, entry);
    const nodes = Object.fromEntries(entry.nodes);
    for (const nodeId of Object.keys(nodes)) this.dropNode(input.userId, entry, nodeId);
    const record = this.goOffline(input.userId, entry, entry.nodeId, input.reason, input.now);
    return { loggedOut: true, nodes, record: { ...record } };
  }

  async expireGrace(now: number, limit: number): Promise<LogoutRecord[]> {
    checkTime('now', now);
    const due: DueKey[] = [];
    for (const key of this.graceQueue.valuesAfter(undefined)) {
      if (key.due > now || due.length >= limit) break;
      due.push(key);
    }
    const records: LogoutRecord[] = [];
    for (const key of due) {
      this.graceQueue.delete(key);
      const entry = this.players.get(key.id);
      if (entry?.status !== 'reconnecting' || !entry.grace) continue;
      const { endedAt, reason, nodeId } = entry.grace;
      records.push({ ...this.goOffline(key.id, entry, nodeId, reason, endedAt) });
    }
    return records;
  }

  async flushHeartbeats(nodeId: string, beats: ReadonlyMap<string, number>): Promise<void> {
    if (beats.size === 0) return;
    for (const at of beats.values()) checkTime('heartbeat', at);
    let map = this.heartbeats.get(nodeId);
    if (!map) this.heartbeats.set(nodeId, (map = new Map()));
    // Like the single HSET on Redis: written even for a connection that just ended (harmless:
    // only the heartbeats of a user's live nodes are read).
    for (const [userId, at] of beats) map.set(userId, at);
  }

  async getPlayer(userId: string): Promise<PlayerPresence | null> {
    const entry = this.players.get(userId);
    return entry ? this.presence(userId, entry) : null;
  }

  async listOnline(options: ListOnlineOptions): Promise<OnlinePage> {
    checkPageLimit(options.limit);
    const range = prefixRange(options.prefix);
    const start = walkStart(options.cursor ? decodeCursor(options.cursor) : undefined, range);
    const { limit, nodeId } = options;
    // Same walk as list-online.lua: examine at most `budget` index entries of the range, and
    // look one entry further to know whether the iteration is complete.
    let budget = nodeId === undefined ? limit : limit * FILTER_SCAN_FACTOR;
    const players: PlayerPresence[] = [];
    let last: string | undefined;
    let more = false;
    const walk = !start ? this.index.valuesAfter() : start.inclusive ? this.index.valuesFrom(start.value) : this.index.valuesAfter(start.value);
    for (const userId of walk) {
      // Past the prefix range: the end, not "more" (ZRANGEBYLEX's max bound does the same).
      if (range && compareCodePoints(userId, range.to) >= 0) break;
      if (budget === 0 || players.length === limit) {
        more = true;
        break;
      }
      budget -= 1;
      last = userId;
      const entry = this.players.get(userId);
      if (!entry || entry.status === 'offline') continue;
      if (nodeId !== undefined && !((entry.nodes.get(nodeId) ?? 0) > 0)) continue;
      players.push(this.presence(userId, entry));
    }
    return more && last !== undefined ? { players, nextCursor: encodeCursor(last) } : { players };
  }

  async countOnline(prefix?: string): Promise<number> {
    const range = prefixRange(prefix);
    return range ? this.index.countBetween(range.from, range.to) : this.index.size;
  }

  async claimPendingLogouts(limit: number, now: number, leaseMs: number): Promise<PendingLogout[]> {
    checkCount('limit', limit);
    checkTime('now', now);
    checkTime('leaseMs', leaseMs);
    const due: DueKey[] = [];
    for (const key of this.dueQueue.valuesAfter()) {
      if (key.due > now || due.length === limit) break;
      due.push(key);
    }
    return due.map((key) => {
      const item = this.pending.get(key.id)!;
      this.reschedule(key.id, item, now + leaseMs);
      return { id: key.id, record: { ...item.record }, attempts: item.attempts };
    });
  }

  async ackPendingLogouts(ids: readonly string[]): Promise<void> {
    for (const id of new Set(ids)) {
      const item = this.pending.get(id);
      if (!item) continue;
      this.dueQueue.delete({ due: item.due, id });
      this.pending.delete(id);
    }
  }

  async retryPendingLogouts(ids: readonly string[], retryAt: number): Promise<void> {
    checkTime('retryAt', retryAt);
    for (const id of new Set(ids)) {
      const item = this.pending.get(id);
      if (!item) continue;
      this.reschedule(id, item, retryAt);
      item.attempts += 1;
    }
  }

  async countPendingLogouts(): Promise<number> {
    return this.pending.size;
  }

  registerNode(nodeId: string, now: number, deadAfterMs: number): Promise<RegisterNodeResult> {
    return this.cluster.registerNode(nodeId, now, deadAfterMs);
  }

  renewLease(nodeId: string, now: number): Promise<number | null> {
    return this.cluster.renewLease(nodeId, now);
  }

  listNodes(): Promise<NodeLease[]> {
    return this.cluster.listNodes();
  }

  removeNode(nodeId: string): Promise<boolean> {
    return this.cluster.removeNode(nodeId);
  }

  tryLock(name: string, owner: string, ttlMs: number, now: number): Promise<boolean> {
    return this.cluster.tryLock(name, owner, ttlMs, now);
  }

  unlock(name: string, owner: string): Promise<boolean> {
    return this.cluster.unlock(name, owner);
  }

  reapNode(deadNodeId: string, at: number, limit: number): Promise<ReapResult> {
    return this.cluster.reapNode(deadNodeId, at, limit);
  }

  reassert(nodeId: string, now: number, sessions: ReadonlyArray<ReassertSession>): Promise<ReassertResult> {
    return this.cluster.reassert(nodeId, now, sessions);
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {}

  /** Removes the `n:<nodeId>` field with its connection ids, node-set membership and heartbeat. */
  private dropNode(userId: string, entry: PlayerEntry, nodeId: string): void {
    entry.nodes.delete(nodeId);
    entry.conns.delete(nodeId);
    this.removeNodePlayer(nodeId, userId);
    this.dropHeartbeat(nodeId, userId);
  }

  private dropHeartbeat(nodeId: string, userId: string): void {
    const map = this.heartbeats.get(nodeId);
    if (map?.delete(userId) && map.size === 0) this.heartbeats.delete(nodeId);
  }

  private addNodePlayer(nodeId: string, userId: string): void {
    let set = this.nodePlayers.get(nodeId);
    if (!set) this.nodePlayers.set(nodeId, (set = new Set()));
    set.add(userId);
  }

  private removeNodePlayer(nodeId: string, userId: string): void {
    const set = this.nodePlayers.get(nodeId);
    if (set?.delete(userId) && set.size === 0) this.nodePlayers.delete(nodeId);
  }

  /** Ends the logical session and queues its LogoutRecord, id = logicalSessionId. */
  private goOffline(userId: string, entry: PlayerEntry, nodeId: string, reason: string, now: number): LogoutRecord {
    entry.status = 'offline';
    entry.sessions = 0;
    delete entry.grace;
    entry.logoutTime = now;
    entry.logoutReason = reason;
    this.index.delete(userId);
    const record: LogoutRecord = {
      userId, username: entry.username, logicalSessionId: entry.sid, nodeId, epoch: entry.epoch,
      connectedAt: entry.connectedAt, logoutAt: now, reason,
    };
    // Like ZADD NX / HSETNX: an id already queued keeps its first record.
    if (!this.pending.has(entry.sid)) {
      this.pending.set(entry.sid, { due: now, record, attempts: 0 });
      this.dueQueue.insert({ due: now, id: entry.sid });
    }
    return record;
  }

  private clearGrace(userId: string, entry: PlayerEntry): void {
    if (entry.grace) this.graceQueue.delete({ due: entry.grace.until, id: userId });
    delete entry.grace;
  }

  private reschedule(id: string, item: PendingEntry, due: number): void {
    this.dueQueue.delete({ due: item.due, id });
    item.due = due;
    this.dueQueue.insert({ due, id });
  }

  private presence(userId: string, entry: PlayerEntry): PlayerPresence {
    let lastHeartbeat = entry.lastHeartbeat;
    for (const nodeId of entry.nodes.keys()) {
      const beat = this.heartbeats.get(nodeId)?.get(userId);
      if (beat !== undefined && beat > lastHeartbeat) lastHeartbeat = beat;
    }
    const presence: PlayerPresence = {
      userId, status: entry.status, username: entry.username, nodeId: entry.nodeId,
      nodes: Object.fromEntries(entry.nodes), sessions: entry.sessions, epoch: entry.epoch,
      logicalSessionId: entry.sid, connectedAt: entry.connectedAt, lastHeartbeat,
    };
    if (entry.logoutTime !== undefined) presence.logoutTime = entry.logoutTime;
    if (entry.logoutReason !== undefined) presence.logoutReason = entry.logoutReason;
    if (entry.status === 'reconnecting' && entry.grace) presence.graceUntil = entry.grace.until;
    return presence;
  }
}
