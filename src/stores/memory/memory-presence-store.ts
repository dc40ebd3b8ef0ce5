/**
 * `PresenceStore` of a single process, on the shared `MemoryOnlineState` (memory-online-state.ts:
 * the same model as the Redis keys). See presence/presence-store.ts for the model.
 */
import type {
  EndSessionInput,
  EndSessionResult,
  ForceLogoutInput,
  ForceLogoutResult,
  ListOnlineOptions,
  LoginInput,
  LoginResult,
  OnlinePage,
  PlayerPresence,
  PresenceStore,
} from '../../presence/presence-store.ts';
import type { LogoutRecord } from '../../presence/logout-outbox.ts';
import { MemoryOnlineState, newPlayerEntry, type DueKey, type PlayerEntry } from './memory-online-state.ts';
import { compareCodePoints } from '../../presence/code-point-order.ts';
import { FILTER_SCAN_FACTOR, checkPageLimit, checkTime, decodeCursor, encodeCursor, prefixRange, walkStart } from '../../presence/online-paging.ts';

export class MemoryPresenceStore implements PresenceStore {
  /** A store of its own state by default (tests); `createMemoryStores` shares one. */
  constructor(protected readonly state: MemoryOnlineState = new MemoryOnlineState()) {}

  async login(input: LoginInput): Promise<LoginResult> {
    checkTime('now', input.now);
    this.state.sweepExpired();
    let entry = this.state.players.get(input.userId);
    const previousNodes = entry?.status === 'online' ? Object.fromEntries(entry.nodes) : {};
    let newLogicalSession = false;
    if (entry?.status === 'reconnecting') {
      // Back within the grace period: the same logical session goes on (login.lua does the same).
      this.state.clearGrace(input.userId, entry);
      entry.status = 'online';
    }
    if (!entry) {
      entry = newPlayerEntry(input.username, input.nodeId);
      this.state.players.set(input.userId, entry);
    }
    if (entry.status === 'offline') {
      // Back before the offline entry expired: it stays (login.lua PERSISTs the hash).
      this.state.expiry.cancel(input.userId);
      newLogicalSession = true;
      entry.status = 'online';
      entry.sid = input.candidateLogicalSessionId;
      entry.connectedAt = input.now;
      entry.sessions = 0;
      delete entry.logoutTime;
      delete entry.logoutReason;
      this.state.index.insert(input.userId);
    }
    entry.epoch += 1;
    entry.sessions += 1;
    entry.nodes.set(input.nodeId, (entry.nodes.get(input.nodeId) ?? 0) + 1);
    if (input.connectionId) {
      const ids = entry.conns.get(input.nodeId);
      // A literal, not a spread of []: V8 sizes it to one id, where the spread reserves 17 slots.
      entry.conns.set(input.nodeId, ids === undefined ? [input.connectionId] : [...ids, input.connectionId]);
    }
    this.state.addNodePlayer(input.nodeId, input.userId);
    entry.username = input.username;
    entry.nodeId = input.nodeId;
    entry.lastHeartbeat = input.now;
    return { epoch: entry.epoch, logicalSessionId: entry.sid, newLogicalSession, sessions: entry.sessions, previousNodes };
  }

  async endSession(input: EndSessionInput): Promise<EndSessionResult> {
    checkTime('now', input.now);
    const entry = this.state.players.get(input.userId);
    if (entry?.status !== 'online' || entry.sid !== input.logicalSessionId) {
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
    else this.state.dropNode(input.userId, entry, input.nodeId);
    entry.sessions = Math.max(0, entry.sessions - 1);
    if (entry.sessions > 0) return { stale: false, loggedOut: false, sessions: entry.sessions };
    const graceMs = input.graceMs ?? 0;
    if (graceMs > 0) {
      const until = input.now + graceMs;
      entry.status = 'reconnecting';
      entry.grace = { until, endedAt: input.now, reason: input.reason, nodeId: input.nodeId };
      this.state.graceQueue.insert({ due: until, id: input.userId });
      return { stale: false, loggedOut: false, sessions: 0, graceUntil: until };
    }
    const record = this.state.goOffline(input.userId, entry, input.nodeId, input.reason, input.now);
    return { stale: false, loggedOut: true, sessions: 0, record: { ...record } };
  }

  async endSessions(inputs: readonly EndSessionInput[]): Promise<Array<EndSessionResult | Error>> {
    // Checked before anything changes, as RedisPresenceStore does before it sends the batch.
    for (const input of inputs) checkTime('now', input.now);
    const results: Array<EndSessionResult | Error> = [];
    for (const input of inputs) {
      try {
        results.push(await this.endSession(input));
      } catch (error) {
        results.push(error instanceof Error ? error : new Error(String(error)));
      }
    }
    return results;
  }

  async forceLogout(input: ForceLogoutInput): Promise<ForceLogoutResult> {
    checkTime('now', input.now);
    const entry = this.state.players.get(input.userId);
    if (!entry || entry.status === 'offline') return { loggedOut: false, nodes: {} };
    this.state.clearGrace(input.userId, entry);
    const nodes = Object.fromEntries(entry.nodes);
    for (const nodeId of Object.keys(nodes)) this.state.dropNode(input.userId, entry, nodeId);
    const record = this.state.goOffline(input.userId, entry, entry.nodeId, input.reason, input.now);
    return { loggedOut: true, nodes, record: { ...record } };
  }

  async expireGrace(now: number, limit: number): Promise<LogoutRecord[]> {
    checkTime('now', now);
    const due: DueKey[] = [];
    for (const key of this.state.graceQueue.valuesAfter(undefined)) {
      if (key.due > now || due.length >= limit) break;
      due.push(key);
    }
    const records: LogoutRecord[] = [];
    for (const key of due) {
      this.state.graceQueue.delete(key);
      const entry = this.state.players.get(key.id);
      if (entry?.status !== 'reconnecting' || !entry.grace) continue;
      const { endedAt, reason, nodeId } = entry.grace;
      records.push({ ...this.state.goOffline(key.id, entry, nodeId, reason, endedAt) });
    }
    return records;
  }

  async flushHeartbeats(nodeId: string, beats: ReadonlyMap<string, number>): Promise<void> {
    if (beats.size === 0) return;
    for (const at of beats.values()) checkTime('heartbeat', at);
    let map = this.state.heartbeats.get(nodeId);
    if (!map) this.state.heartbeats.set(nodeId, (map = new Map()));
    // Like the single HSET on Redis: written even for a connection that just ended (harmless:
    // only the heartbeats of a user's live nodes are read).
    for (const [userId, at] of beats) map.set(userId, at);
  }

  async getPlayer(userId: string): Promise<PlayerPresence | null> {
    this.state.sweepExpired();
    const entry = this.state.players.get(userId);
    return entry ? this.presence(userId, entry) : null;
  }

  async listOnline(options: ListOnlineOptions): Promise<OnlinePage> {
    checkPageLimit(options.limit);
    const range = prefixRange(options.prefix);
    const start = walkStart(options.cursor ? decodeCursor(options.cursor) : undefined, range);
    const { limit, nodeId } = options;
    // Same walk as RedisPresenceStore.listOnline (list-online.lua): examine at most `budget` index entries of the range, and
    // look one entry further to know whether the iteration is complete.
    let budget = nodeId === undefined ? limit : limit * FILTER_SCAN_FACTOR;
    const players: PlayerPresence[] = [];
    let last: string | undefined;
    let more = false;
    const walk = !start
      ? this.state.index.valuesAfter()
      : start.inclusive
        ? this.state.index.valuesFrom(start.value)
        : this.state.index.valuesAfter(start.value);
    for (const userId of walk) {
      // Past the prefix range: the end, not "more" (ZRANGEBYLEX's max bound does the same).
      if (range && compareCodePoints(userId, range.to) >= 0) break;
      if (budget === 0 || players.length === limit) {
        more = true;
        break;
      }
      budget -= 1;
      last = userId;
      const entry = this.state.players.get(userId);
      if (!entry || entry.status === 'offline') continue;
      if (nodeId !== undefined && !((entry.nodes.get(nodeId) ?? 0) > 0)) continue;
      players.push(this.presence(userId, entry));
    }
    return more && last !== undefined ? { players, nextCursor: encodeCursor(last) } : { players };
  }

  async countOnline(prefix?: string): Promise<number> {
    const range = prefixRange(prefix);
    return range ? this.state.index.countBetween(range.from, range.to) : this.state.index.size;
  }

  async ping(): Promise<void> {}

  private presence(userId: string, entry: PlayerEntry): PlayerPresence {
    let lastHeartbeat = entry.lastHeartbeat;
    for (const nodeId of entry.nodes.keys()) {
      const beat = this.state.heartbeats.get(nodeId)?.get(userId);
      if (beat !== undefined && beat > lastHeartbeat) lastHeartbeat = beat;
    }
    const presence: PlayerPresence = {
      userId,
      status: entry.status,
      username: entry.username,
      nodeId: entry.nodeId,
      nodes: Object.fromEntries(entry.nodes),
      sessions: entry.sessions,
      epoch: entry.epoch,
      logicalSessionId: entry.sid,
      connectedAt: entry.connectedAt,
      lastHeartbeat,
    };
    if (entry.logoutTime !== undefined) presence.logoutTime = entry.logoutTime;
    if (entry.logoutReason !== undefined) presence.logoutReason = entry.logoutReason;
    if (entry.status === 'reconnecting' && entry.grace) presence.graceUntil = entry.grace.until;
    return presence;
  }
}
