/**
 * `NodeRegistry` of a single process: node leases, crash cleanup and re-assertion, on the shared
 * `MemoryOnlineState` (reaping logs users out), mirroring redis-node-registry.ts and its scripts
 * step for step (semantics on `NodeRegistry`).
 */
import {
  NodeIdInUseError,
  type NodeLease,
  type NodeRegistry,
  type ReapResult,
  type ReassertGrace,
  type ReassertResult,
  type ReassertSession,
  type RegisterNodeResult,
  type RenewLeaseResult,
} from '../../cluster/node-registry.ts';
import type { LogoutRecord } from '../../presence/logout-outbox.ts';
import { LeaseGenerations, supersedes } from '../../cluster/lease-generation.ts';
import { checkCount, checkReassertGrace, checkReassertSession, checkTime } from '../../presence/online-paging.ts';
import type { MemoryOnlineState, PlayerEntry } from './memory-online-state.ts';
import { SmallMap } from './small-map.ts';
import { compareCodePoints } from '../../presence/code-point-order.ts';

/**
 * Whether the store does not know the node's logical session `sid` (lib/store-missed.lua): no
 * entry, or offline in an older logical session with a lower epoch (the login was lost).
 */
function storeMissed(entry: PlayerEntry | undefined, sid: string, epoch: number): boolean {
  return entry === undefined || (entry.status === 'offline' && entry.sid !== sid && entry.epoch < epoch);
}

export class MemoryNodeRegistry implements NodeRegistry {
  private readonly generations = new LeaseGenerations();

  constructor(private readonly state: MemoryOnlineState) {}

  async registerNode(nodeId: string, now: number, deadAfterMs: number): Promise<RegisterNodeResult> {
    checkTime('now', now);
    checkTime('deadAfterMs', deadAfterMs);
    const lease = this.state.leases.get(nodeId);
    if (lease !== undefined && lease > now - deadAfterMs) throw new NodeIdInUseError(nodeId);
    const generation = this.generations.next();
    this.fence(nodeId, generation);
    // One process: no need to split the reap in batches (and claim them) as the Redis registry does.
    const reaped = this.reapBatch(nodeId, lease ?? now, Number.POSITIVE_INFINITY);
    this.state.heartbeats.delete(nodeId);
    this.state.leases.set(nodeId, now);
    this.fenceOf(nodeId).gen = generation;
    return { reaped, generation };
  }

  async renewLease(nodeId: string, now: number, generation: string, lapseAfterMs?: number): Promise<RenewLeaseResult> {
    checkTime('now', now);
    if (lapseAfterMs !== undefined) checkTime('lapseAfterMs', lapseAfterMs);
    const previous = this.state.leases.get(nodeId) ?? null;
    const fence = this.fenceOf(nodeId);
    if (fence.fenced === generation || (fence.gen !== undefined && fence.gen !== generation && !supersedes(generation, fence.gen))) {
      return { fenced: true, previous };
    }
    this.state.leases.set(nodeId, now);
    fence.gen = generation;
    if (lapseAfterMs === undefined) return { fenced: false, previous };
    if (previous === null || now - previous > lapseAfterMs) fence.lapsedAt = now;
    return { fenced: false, previous, lapsedAt: fence.lapsedAt ?? null };
  }

  private fenceOf(nodeId: string): { gen?: string; fenced?: string; lapsedAt?: number } {
    let fence = this.state.fences.get(nodeId);
    if (!fence) this.state.fences.set(nodeId, (fence = {}));
    return fence;
  }

  /** reap-claim.lua's fencing: the generation holding the lease (unless it is `except`) is fenced. */
  private fence(nodeId: string, except = ''): void {
    const fence = this.state.fences.get(nodeId);
    if (fence?.gen !== undefined && fence.gen !== except) fence.fenced = fence.gen;
  }

  async listNodes(): Promise<NodeLease[]> {
    return [...this.state.leases]
      .map(([nodeId, lastRenewal]) => ({ nodeId, lastRenewal }))
      .sort((a, b) => a.lastRenewal - b.lastRenewal || compareCodePoints(a.nodeId, b.nodeId));
  }

  async removeNode(nodeId: string): Promise<boolean> {
    if (this.state.nodePlayers.has(nodeId)) return false;
    this.state.heartbeats.delete(nodeId);
    this.state.leases.delete(nodeId);
    this.state.fences.delete(nodeId);
    return true;
  }

  async reapNode(deadNodeId: string, at: number, limit: number): Promise<ReapResult> {
    checkTime('at', at);
    checkCount('limit', limit);
    const lease = this.state.leases.get(deadNodeId);
    if (lease !== undefined && lease > at) return { records: [], remaining: 0, alive: true };
    this.fence(deadNodeId);
    const records = this.reapBatch(deadNodeId, at, limit);
    const remaining = this.state.nodePlayers.get(deadNodeId)?.size ?? 0;
    if (remaining === 0) {
      this.state.heartbeats.delete(deadNodeId);
      this.state.leases.delete(deadNodeId);
    }
    return { records, remaining, alive: false };
  }

  async reassert(nodeId: string, now: number, sessions: ReadonlyArray<ReassertSession>): Promise<ReassertResult> {
    checkTime('now', now);
    sessions.forEach(checkReassertSession);
    this.state.leases.set(nodeId, now);
    const result: ReassertResult = { restored: 0, stale: [] };
    for (const s of sessions) {
      let entry = this.state.players.get(s.userId);
      let changed = false;
      if (storeMissed(entry, s.logicalSessionId, s.epoch)) {
        if (entry) this.state.expiry.cancel(s.userId);
        entry = {
          status: 'online',
          username: s.username,
          nodeId,
          epoch: s.epoch,
          sessions: s.connections,
          sid: s.logicalSessionId,
          connectedAt: s.connectedAt,
          lastHeartbeat: now,
          nodes: SmallMap.of(nodeId, s.connections),
          conns: new SmallMap(),
        };
        this.state.players.set(s.userId, entry);
        changed = true;
      } else if (entry?.status === 'online' && entry.sid === s.logicalSessionId) {
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
      this.state.index.insert(s.userId);
      this.state.addNodePlayer(nodeId, s.userId);
      if (changed) result.restored += 1;
    }
    return result;
  }

  async reassertGraces(nodeId: string, graces: ReadonlyArray<ReassertGrace>): Promise<number> {
    graces.forEach(checkReassertGrace);
    let restored = 0;
    for (const g of graces) {
      const entry = this.state.players.get(g.userId);
      if (!storeMissed(entry, g.logicalSessionId, g.epoch)) continue;
      if (entry) this.state.expiry.cancel(g.userId);
      this.state.players.set(g.userId, {
        status: 'reconnecting',
        username: g.username,
        nodeId,
        epoch: g.epoch,
        sessions: 0,
        sid: g.logicalSessionId,
        connectedAt: g.connectedAt,
        lastHeartbeat: g.endedAt,
        grace: { until: g.graceUntil, endedAt: g.endedAt, reason: g.endReason, nodeId },
        nodes: new SmallMap(),
        conns: new SmallMap(),
      });
      this.state.graceQueue.insert({ due: g.graceUntil, id: g.userId });
      this.state.index.insert(g.userId);
      restored += 1;
    }
    return restored;
  }

  /**
   * nodes/reap-claim.lua + nodes/reap-claimed.lua in one step: takes up to `limit` users off the
   * node's players set and subtracts only what the node's count holds; users left with no connection go offline (node_lost, at).
   */
  private reapBatch(nodeId: string, at: number, limit: number): LogoutRecord[] {
    const taken: string[] = [];
    for (const userId of this.state.nodePlayers.get(nodeId) ?? []) {
      if (taken.length >= limit) break;
      taken.push(userId);
    }
    return this.dropShare(nodeId, taken, at);
  }

  async releaseAbsent(nodeId: string, at: number, holds: (userId: string) => boolean): Promise<LogoutRecord[]> {
    checkTime('at', at);
    return this.dropShare(
      nodeId,
      [...(this.state.nodePlayers.get(nodeId) ?? [])].filter((userId) => !holds(userId)),
      at,
    );
  }

  /** Removes the node's connections from each user (nodes/release-absent.lua's loop). */
  private dropShare(nodeId: string, userIds: readonly string[], at: number): LogoutRecord[] {
    const records: LogoutRecord[] = [];
    for (const userId of userIds) {
      this.state.removeNodePlayer(nodeId, userId);
      this.state.dropHeartbeat(nodeId, userId);
      const entry = this.state.players.get(userId);
      if (!entry) continue;
      const count = entry.nodes.get(nodeId) ?? 0;
      entry.nodes.delete(nodeId);
      entry.conns.delete(nodeId);
      if (count <= 0 || entry.status !== 'online') continue;
      const sessions = Math.max(0, entry.sessions - count);
      if (sessions > 0) entry.sessions = sessions;
      else records.push({ ...this.state.goOffline(userId, entry, nodeId, 'node_lost', at) });
    }
    return records;
  }
}
