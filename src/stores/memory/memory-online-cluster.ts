/**
 * The cluster half of the memory online store: node leases, the lock table, crash cleanup and
 * re-assertion, mirroring redis-online-cluster.ts and its scripts step for step (semantics on
 * `OnlineStore`). It works on the store's own maps through `MemoryClusterContext`.
 */
import type { PlayerEntry } from './memory-online-store.ts';
import {
  NodeIdInUseError,
  type LogoutRecord,
  type NodeLease,
  type ReapResult,
  type ReassertResult,
  type ReassertSession,
  type RegisterNodeResult,
} from '../../presence/online-store.ts';
import { checkCount, checkReassertSession, checkTime } from '../../presence/online-paging.ts';
import { SmallMap } from './small-map.ts';
import { compareCodePoints, type SortedList } from './sorted-list.ts';

/** The parts of `MemoryOnlineStore` the cluster operations read and change. */
export interface MemoryClusterContext {
  /** `player:online:<userId>`. */
  players: Map<string, PlayerEntry>;
  /** `server:online:index` (and `server:online:players`). */
  index: SortedList<string>;
  /** `server:node:<nodeId>:players` (never empty, like a Redis set). */
  nodePlayers: Map<string, Set<string>>;
  /** `server:node:<nodeId>:heartbeats`. */
  heartbeats: Map<string, Map<string, number>>;
  addNodePlayer(nodeId: string, userId: string): void;
  removeNodePlayer(nodeId: string, userId: string): void;
  dropHeartbeat(nodeId: string, userId: string): void;
  /** go-offline.lua: ends the logical session and queues its LogoutRecord. */
  goOffline(userId: string, entry: PlayerEntry, nodeId: string, reason: string, now: number): LogoutRecord;
}

/** Node leases, locks, reaping and re-assertion of one `MemoryOnlineStore`. */
export class MemoryCluster {
  /** `server:nodes`: nodeId -> last lease renewal. */
  private readonly leases = new Map<string, number>();
  /** `server:lock:<name>`. */
  private readonly locks = new Map<string, { owner: string; expiresAt: number }>();

  constructor(private readonly store: MemoryClusterContext) {}

  async registerNode(nodeId: string, now: number, deadAfterMs: number): Promise<RegisterNodeResult> {
    checkTime('now', now);
    checkTime('deadAfterMs', deadAfterMs);
    const lease = this.leases.get(nodeId);
    if (lease !== undefined && lease > now - deadAfterMs) throw new NodeIdInUseError(nodeId);
    // One process: no need to split the reap in batches as register-node.lua does.
    const reaped = this.reapBatch(nodeId, lease ?? now, Number.POSITIVE_INFINITY);
    this.store.heartbeats.delete(nodeId);
    this.leases.set(nodeId, now);
    return { reaped };
  }

  async renewLease(nodeId: string, now: number): Promise<number | null> {
    checkTime('now', now);
    const previous = this.leases.get(nodeId) ?? null;
    this.leases.set(nodeId, now);
    return previous;
  }

  async listNodes(): Promise<NodeLease[]> {
    return [...this.leases]
      .map(([nodeId, lastRenewal]) => ({ nodeId, lastRenewal }))
      .sort((a, b) => a.lastRenewal - b.lastRenewal || compareCodePoints(a.nodeId, b.nodeId));
  }

  async removeNode(nodeId: string): Promise<boolean> {
    if (this.store.nodePlayers.has(nodeId)) return false;
    this.store.heartbeats.delete(nodeId);
    this.leases.delete(nodeId);
    return true;
  }

  async tryLock(name: string, owner: string, ttlMs: number, now: number): Promise<boolean> {
    checkCount('ttlMs', ttlMs);
    checkTime('now', now);
    checkTime('now + ttlMs', now + ttlMs);
    const lock = this.locks.get(name);
    if (lock && lock.owner !== owner && lock.expiresAt > now) return false;
    this.locks.set(name, { owner, expiresAt: now + ttlMs });
    return true;
  }

  async unlock(name: string, owner: string): Promise<boolean> {
    if (this.locks.get(name)?.owner !== owner) return false;
    this.locks.delete(name);
    return true;
  }

  async reapNode(deadNodeId: string, at: number, limit: number): Promise<ReapResult> {
    checkTime('at', at);
    checkCount('limit', limit);
    const lease = this.leases.get(deadNodeId);
    if (lease !== undefined && lease > at) return { records: [], remaining: 0, alive: true };
    const records = this.reapBatch(deadNodeId, at, limit);
    const remaining = this.store.nodePlayers.get(deadNodeId)?.size ?? 0;
    if (remaining === 0) {
      this.store.heartbeats.delete(deadNodeId);
      this.leases.delete(deadNodeId);
    }
    return { records, remaining, alive: false };
  }

  async reassert(nodeId: string, now: number, sessions: ReadonlyArray<ReassertSession>): Promise<ReassertResult> {
    checkTime('now', now);
    sessions.forEach(checkReassertSession);
    this.leases.set(nodeId, now);
    const result: ReassertResult = { restored: 0, stale: [] };
    for (const s of sessions) {
      let entry = this.store.players.get(s.userId);
      let changed = false;
      if (!entry) {
        entry = {
          status: 'online', username: s.username, nodeId, epoch: s.epoch, sessions: s.connections, sid: s.logicalSessionId,
          connectedAt: s.connectedAt, lastHeartbeat: now, nodes: SmallMap.of(nodeId, s.connections), conns: new SmallMap(),
        };
        this.store.players.set(s.userId, entry);
        changed = true;
      } else if (entry.status === 'online' && entry.sid === s.logicalSessionId) {
        const count = entry.nodes.get(nodeId) ?? 0;
        if (count !== s.connections) {
          entry.nodes.set(nodeId, s.connections);
          entry.sessions = Math.max(0, entry.sessions + s.connections - count);
          changed = true;
        }
        entry.epoch = Math.max(entry.epoch, s.epoch);
      } else {
        result.stale.push(s.userId);
        continue;
      }
      if (s.connectionIds) entry.conns.set(nodeId, [...s.connectionIds]);
      // Memberships cannot be lost on their own here; reassert.lua also repairs those.
      this.store.index.insert(s.userId);
      this.store.addNodePlayer(nodeId, s.userId);
      if (changed) result.restored += 1;
    }
    return result;
  }

  /**
   * lib/reap-batch.lua: takes up to `limit` users off the node's players set and subtracts only
   * what the node's count holds; users left with no connection go offline (node_lost, at).
   */
  private reapBatch(nodeId: string, at: number, limit: number): LogoutRecord[] {
    const records: LogoutRecord[] = [];
    const taken: string[] = [];
    for (const userId of this.store.nodePlayers.get(nodeId) ?? []) {
      if (taken.length >= limit) break;
      taken.push(userId);
    }
    for (const userId of taken) {
      this.store.removeNodePlayer(nodeId, userId);
      this.store.dropHeartbeat(nodeId, userId);
      const entry = this.store.players.get(userId);
      if (!entry) continue;
      const count = entry.nodes.get(nodeId) ?? 0;
      entry.nodes.delete(nodeId);
      entry.conns.delete(nodeId);
      if (count <= 0 || entry.status !== 'online') continue;
      const sessions = Math.max(0, entry.sessions - count);
      if (sessions > 0) entry.sessions = sessions;
      else records.push({ ...this.store.goOffline(userId, entry, nodeId, 'node_lost', at) });
    }
    return records;
  }
}
