/**
 * `NodeRegistry` on Redis: node leases, crash cleanup and re-assertion after data loss
 * (semantics on `NodeRegistry`). Each call is one script (one EVALSHA round trip), except where
 * a batch is split to keep any single script short, and reaping, where each batch takes two:
 * every key a script touches is passed in KEYS, and the users to reap are known only once they
 * are taken off the node's players set (see reapBatch).
 */
import { LeaseGenerations } from '../../cluster/lease-generation.ts';
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
import type { RedisStoreContext } from './redis-store-context.ts';
import { asArray, asFields, asNumber, asString, parseRecords } from './redis-online-codec.ts';
import { checkCount, checkReassertGrace, checkReassertSession, checkTime } from '../../presence/online-paging.ts';

/**
 * Users per script run when `registerNode` reaps a previous holder, and sessions per `reassert`
 * script run: one script never blocks Redis for long.
 */
export const CLUSTER_BATCH = 500;

/**
 * Default age after which a reaper's claim on a user is taken again by the next reaper. The two
 * steps of a batch are one round trip apart, so only a reaper that stopped (crashed, lost Redis,
 * stalled) between them leaves claims this old. Taking a claim early is safe (a user is reaped
 * only by whoever removes their claim); it only lets racing reapers' batches overlap. Shorter
 * than the default dead-after delay, the TTL of the reaper lock: by the time the next reaper
 * gets the lock, a stopped reaper's claims are stale and it does not wait on them.
 */
export const REAP_CLAIM_TTL_MS = 1000;

export interface RedisNodeRegistryOptions {
  /** Default REAP_CLAIM_TTL_MS. */
  reapClaimTtlMs?: number | undefined;
}

/** What one reap batch did. */
interface ReapBatchResult {
  /** The lease was newer than `liveAfter` at either step: nothing was reaped. */
  live: boolean;
  records: LogoutRecord[];
  remaining: number;
}

export class RedisNodeRegistry implements NodeRegistry {
  private readonly claimTtlMs: number;
  private readonly generations = new LeaseGenerations();

  constructor(
    private readonly ctx: RedisStoreContext,
    options: RedisNodeRegistryOptions = {},
  ) {
    this.claimTtlMs = options.reapClaimTtlMs ?? REAP_CLAIM_TTL_MS;
    checkTime('reapClaimTtlMs', this.claimTtlMs);
  }

  /**
   * One batch of reaping `nodeId`, in two scripts. Step 1 (nodes/reap-claim.lua) touches only the
   * node's keys: it moves up to `limit` users from the node's players set into the node's claim
   * hash (taking first the claims older than `claimTtlMs`), so racing reapers get disjoint
   * batches and a reaper stopping after it loses nobody. Step 2 (nodes/reap-claimed.lua) gets
   * those users' keys in KEYS and reaps each user whose claim it removes. Both steps check the
   * lease against `liveAfter`; `register` is '' for reapNode, else the new holder's lease (now),
   * and `generation` '' or the new holder's lease generation.
   */
  private async reapBatch(
    nodeId: string,
    liveAfter: number,
    at: string,
    register: string,
    generation: string,
    claimTtlMs: number,
    limit: number,
  ): Promise<ReapBatchResult> {
    const { keys: k, run } = this.ctx;
    const nodeKeys = [k.nodePlayers(nodeId), k.nodeReaping(nodeId), k.nodeHeartbeats(nodeId), k.nodeFence(nodeId)] as const;
    const claim = asFields(
      await run('reapClaim', [k.nodes, ...nodeKeys], [nodeId, String(liveAfter), String(claimTtlMs), limit, register, generation]),
      'reapClaim',
      ['live', 'claimed', 'remaining'],
    );
    const claimed = asArray(claim.claimed, 'reapClaim claimed').map((id) => asString(id, 'reapClaim userId'));
    if (asNumber(claim.live, 'reapClaim live') === 1) return { live: true, records: [], remaining: 0 };
    // Nothing claimable: done (the node was finished in the same step), or other reapers' fresh claims.
    if (claimed.length === 0) return { live: false, records: [], remaining: asNumber(claim.remaining, 'reapClaim remaining') };
    const reply = asFields(
      await run(
        'reapClaimed',
        [k.nodes, k.online, k.index, k.pending, k.pendingData, ...nodeKeys, ...claimed.map((userId) => k.player(userId))],
        [nodeId, String(liveAfter), at, register, generation, ...claimed],
      ),
      'reapClaimed',
      ['live', 'records', 'remaining'],
    );
    if (asNumber(reply.live, 'reapClaimed live') === 1) return { live: true, records: [], remaining: 0 };
    return {
      live: false,
      records: parseRecords(reply.records, 'reapClaimed records'),
      remaining: asNumber(reply.remaining, 'reapClaimed remaining'),
    };
  }

  async registerNode(nodeId: string, now: number, deadAfterMs: number): Promise<RegisterNodeResult> {
    checkTime('now', now);
    checkTime('deadAfterMs', deadAfterMs);
    const reaped: LogoutRecord[] = [];
    const generation = this.generations.next();
    for (;;) {
      // at '' = the previous holder's lease (or now without one); claim TTL 0: the new holder
      // takes every claim, since it may set its lease only once none is left. A reaper racing it
      // then finds those claims gone and leaves the users alone.
      const batch = await this.reapBatch(nodeId, now - deadAfterMs, '', String(now), generation, 0, CLUSTER_BATCH);
      if (batch.live) throw new NodeIdInUseError(nodeId);
      reaped.push(...batch.records);
      if (batch.remaining === 0) return { reaped, generation };
    }
  }

  async renewLease(nodeId: string, now: number, generation: string, lapseAfterMs?: number): Promise<RenewLeaseResult> {
    const { keys: k, run } = this.ctx;
    checkTime('now', now);
    if (lapseAfterMs !== undefined) checkTime('lapseAfterMs', lapseAfterMs);
    const reply = asFields(
      await run('renewLease', [k.nodes, k.nodeFence(nodeId)], [nodeId, String(now), generation, lapseAfterMs === undefined ? '' : String(lapseAfterMs)]),
      'renewLease',
      ['fenced', 'previous'],
      ['lapsedAt'],
    );
    const optionalTime = (value: unknown, what: string) => (value === '' ? null : asNumber(value, what));
    const result: RenewLeaseResult = {
      fenced: asNumber(reply.fenced, 'renewLease fenced') === 1,
      previous: optionalTime(asString(reply.previous, 'renewLease previous'), 'renewLease previous'),
    };
    if (reply.lapsedAt !== undefined) result.lapsedAt = optionalTime(asString(reply.lapsedAt, 'renewLease lapsedAt'), 'renewLease lapsedAt');
    return result;
  }

  async listNodes(): Promise<NodeLease[]> {
    const { redis, keys: k } = this.ctx;
    const flat = await redis.zrange(k.nodes, 0, -1, 'WITHSCORES');
    const nodes: NodeLease[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) {
      nodes.push({ nodeId: flat[i]!, lastRenewal: asNumber(flat[i + 1], 'node lease') });
    }
    return nodes;
  }

  async removeNode(nodeId: string): Promise<boolean> {
    const { keys: k, run } = this.ctx;
    return asNumber(await run('removeNode', [k.nodes, k.nodePlayers(nodeId), k.nodeHeartbeats(nodeId), k.nodeFence(nodeId)], [nodeId]), 'removeNode') === 1;
  }

  async reapNode(deadNodeId: string, at: number, limit: number): Promise<ReapResult> {
    checkTime('at', at);
    checkCount('limit', limit);
    const batch = await this.reapBatch(deadNodeId, at, String(at), '', '', this.claimTtlMs, limit);
    return { records: batch.records, remaining: batch.remaining, alive: batch.live };
  }

  async reassert(nodeId: string, now: number, sessions: ReadonlyArray<ReassertSession>): Promise<ReassertResult> {
    const { keys: k, run } = this.ctx;
    checkTime('now', now);
    sessions.forEach(checkReassertSession);
    const result: ReassertResult = { restored: 0, stale: [] };
    // An empty list still renews the lease: one call.
    for (let i = 0; i === 0 || i < sessions.length; i += CLUSTER_BATCH) {
      const batch = sessions.slice(i, i + CLUSTER_BATCH);
      const args: (string | number)[] = [nodeId, String(now)];
      for (const s of batch) {
        args.push(
          s.userId,
          s.username,
          s.logicalSessionId,
          String(s.epoch),
          String(s.connectedAt),
          s.connections,
          s.connectionIds ? JSON.stringify(s.connectionIds) : '',
        );
      }
      const reply = asFields(
        await run('reassert', [k.nodes, k.online, k.index, k.nodePlayers(nodeId), ...batch.map((s) => k.player(s.userId))], args),
        'reassert',
        ['restored', 'stale'],
      );
      result.restored += asNumber(reply.restored, 'reassert restored');
      for (const userId of asArray(reply.stale, 'reassert stale')) result.stale.push(asString(userId, 'reassert stale userId'));
    }
    return result;
  }

  async reassertGraces(nodeId: string, graces: ReadonlyArray<ReassertGrace>): Promise<number> {
    const { keys: k, run } = this.ctx;
    graces.forEach(checkReassertGrace);
    let restored = 0;
    for (let i = 0; i < graces.length; i += CLUSTER_BATCH) {
      const batch = graces.slice(i, i + CLUSTER_BATCH);
      const args: string[] = [nodeId];
      for (const g of batch) {
        args.push(g.userId, g.username, g.logicalSessionId, String(g.epoch), String(g.connectedAt), String(g.endedAt), g.endReason, String(g.graceUntil));
      }
      restored += asNumber(await run('reassertGraces', [k.online, k.index, k.grace, ...batch.map((g) => k.player(g.userId))], args), 'reassertGraces');
    }
    return restored;
  }

  async releaseAbsent(nodeId: string, at: number, holds: (userId: string) => boolean): Promise<LogoutRecord[]> {
    const { redis, keys: k, run } = this.ctx;
    checkTime('at', at);
    const members = await redis.smembers(k.nodePlayers(nodeId));
    const records: LogoutRecord[] = [];
    for (let i = 0; i < members.length; i += CLUSTER_BATCH) {
      // Asked right before the script is sent: a login that started meanwhile is held already.
      const absent = members.slice(i, i + CLUSTER_BATCH).filter((userId) => !holds(userId));
      if (absent.length === 0) continue;
      const reply = await run(
        'releaseAbsent',
        [k.online, k.index, k.pending, k.pendingData, k.nodePlayers(nodeId), k.nodeHeartbeats(nodeId), ...absent.map((userId) => k.player(userId))],
        [nodeId, String(at), ...absent],
      );
      records.push(...parseRecords(reply, 'releaseAbsent records'));
    }
    return records;
  }
}
