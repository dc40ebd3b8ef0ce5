/**
 * `NodeRegistry` on Redis: node leases, crash cleanup and re-assertion after data loss
 * (semantics on `NodeRegistry`). Each bucket (buckets.ts) holds a complete copy of the registry
 * for its users: the node's lease and fence, its players set, heartbeats and reap claims, so
 * every script touches one bucket and a reap logs a user out in the same step that ends their
 * share on the node, as on a single Redis. A call goes to every bucket and the answers are
 * combined: a lease is as old as its oldest copy, a node is fenced if any copy is. A node whose
 * renewals stop reaching one shard is reaped there and fenced there, and its next renewal tells
 * it so: it registers anew, as a node cut off from a single Redis does.
 * Within a bucket each call is one script (one EVALSHA round trip), except where a batch is split
 * to keep any single script short, and reaping, where each batch takes two: every key a script
 * touches is passed in KEYS, and the users to reap are known only once they are taken off the
 * node's players set (see reapBatch).
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
import { perBucket } from './bucket-pipelines.ts';
import { groupBy } from '../../util/group-by.ts';
import { addScript } from './scripts.ts';
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
  /** Users this batch claimed (at most its limit). */
  claimed: number;
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
    b: number,
    nodeId: string,
    liveAfter: number,
    at: string,
    register: string,
    generation: string,
    claimTtlMs: number,
    limit: number,
  ): Promise<ReapBatchResult> {
    const { keys: k, run } = this.ctx;
    const nodeKeys = [k.nodePlayers(nodeId, b), k.nodeReaping(nodeId, b), k.nodeHeartbeats(nodeId, b), k.nodeFence(nodeId, b)] as const;
    const claim = asFields(
      await run('reapClaim', [k.nodes(b), ...nodeKeys], [nodeId, String(liveAfter), String(claimTtlMs), limit, register, generation]),
      'reapClaim',
      ['live', 'claimed', 'remaining'],
    );
    const claimed = asArray(claim.claimed, 'reapClaim claimed').map((id) => asString(id, 'reapClaim userId'));
    if (asNumber(claim.live, 'reapClaim live') === 1) return { live: true, claimed: 0, records: [], remaining: 0 };
    // Nothing claimable: done (the node was finished in the same step), or other reapers' fresh claims.
    if (claimed.length === 0) return { live: false, claimed: 0, records: [], remaining: asNumber(claim.remaining, 'reapClaim remaining') };
    const reply = asFields(
      await run(
        'reapClaimed',
        [k.nodes(b), k.online(b), k.index(b), k.pending(b), k.pendingData(b), ...nodeKeys, ...claimed.map((userId) => k.player(userId))],
        [nodeId, String(liveAfter), at, register, generation, ...claimed],
      ),
      'reapClaimed',
      ['live', 'records', 'remaining'],
    );
    if (asNumber(reply.live, 'reapClaimed live') === 1) return { live: true, claimed: 0, records: [], remaining: 0 };
    return {
      live: false,
      claimed: claimed.length,
      records: parseRecords(reply.records, 'reapClaimed records'),
      remaining: asNumber(reply.remaining, 'reapClaimed remaining'),
    };
  }

  async registerNode(nodeId: string, now: number, deadAfterMs: number): Promise<RegisterNodeResult> {
    checkTime('now', now);
    checkTime('deadAfterMs', deadAfterMs);
    const { redis, keys: k } = this.ctx;
    const reaped: LogoutRecord[] = [];
    const generation = this.generations.next();
    if (k.buckets.count > 1) {
      // Every copy of the lease first: a refused registration must not have taken any bucket
      // (its new generation there would fence the live holder). With one bucket the script's
      // own check refuses before it changes anything.
      const leases = await perBucket<string | null>(redis, k, k.buckets.all(), (p, b) => p.zscore(k.nodes(b), nodeId));
      if (leases.some((lease) => lease !== null && Number(lease) > now - deadAfterMs)) throw new NodeIdInUseError(nodeId);
    }
    for (const b of k.buckets.all()) {
      for (;;) {
        // at '' = the previous holder's lease (or now without one); claim TTL 0: the new holder
        // takes every claim, since it may set its lease only once none is left. A reaper racing it
        // then finds those claims gone and leaves the users alone.
        const batch = await this.reapBatch(b, nodeId, now - deadAfterMs, '', String(now), generation, 0, CLUSTER_BATCH);
        if (batch.live) throw new NodeIdInUseError(nodeId);
        reaped.push(...batch.records);
        if (batch.remaining === 0) break;
      }
    }
    return { reaped, generation };
  }

  async renewLease(nodeId: string, now: number, generation: string, lapseAfterMs?: number): Promise<RenewLeaseResult> {
    const { keys: k } = this.ctx;
    checkTime('now', now);
    if (lapseAfterMs !== undefined) checkTime('lapseAfterMs', lapseAfterMs);
    const optionalTime = (value: unknown, what: string) => (value === '' ? null : asNumber(value, what));
    const args = [nodeId, String(now), generation, lapseAfterMs === undefined ? '' : String(lapseAfterMs)];
    const replies = await perBucket(this.ctx.redis, k, k.buckets.all(), (p, b) => addScript(p, 'renewLease', [k.nodes(b), k.nodeFence(nodeId, b)], args));
    const copies = replies.map((value) => {
      const reply = asFields(value, 'renewLease', ['fenced', 'previous'], ['lapsedAt']);
      return {
        fenced: asNumber(reply.fenced, 'renewLease fenced') === 1,
        previous: optionalTime(asString(reply.previous, 'renewLease previous'), 'renewLease previous'),
        lapsedAt: reply.lapsedAt === undefined ? undefined : optionalTime(asString(reply.lapsedAt, 'renewLease lapsedAt'), 'renewLease lapsedAt'),
      };
    });
    // Fenced anywhere is fenced. The previous lease is its oldest copy, and missing if any copy
    // is (a shard lost its data: the node re-asserts) - unless fenced: a reap that found no user
    // of the node in a bucket finished it there (its copy gone), and the node starts over anyway.
    // The last lapse is the latest any copy recorded.
    const fenced = copies.some((copy) => copy.fenced);
    const previous = copies.map((copy) => copy.previous).filter((at): at is number => at !== null);
    const result: RenewLeaseResult = {
      fenced,
      previous: previous.length === 0 || (!fenced && previous.length < copies.length) ? null : Math.min(...previous),
    };
    if (copies.some((copy) => copy.lapsedAt !== undefined)) {
      const lapses = copies.map((copy) => copy.lapsedAt).filter((at): at is number => typeof at === 'number');
      result.lapsedAt = lapses.length === 0 ? null : Math.max(...lapses);
    }
    return result;
  }

  async listNodes(): Promise<NodeLease[]> {
    const { redis, keys: k } = this.ctx;
    const copies = await perBucket<string[]>(redis, k, k.buckets.all(), (p, b) => p.zrange(k.nodes(b), 0, -1, 'WITHSCORES'));
    // A node's lease is its oldest copy: where it is old, the node is dead for those users.
    const oldest = new Map<string, number>();
    for (const flat of copies) {
      for (let i = 0; i + 1 < flat.length; i += 2) {
        const lease = asNumber(flat[i + 1], 'node lease');
        const known = oldest.get(flat[i]!);
        if (known === undefined || lease < known) oldest.set(flat[i]!, lease);
      }
    }
    return [...oldest].map(([nodeId, lastRenewal]) => ({ nodeId, lastRenewal }));
  }

  async removeNode(nodeId: string): Promise<boolean> {
    const { keys: k } = this.ctx;
    const replies = await perBucket(this.ctx.redis, k, k.buckets.all(), (p, b) =>
      addScript(p, 'removeNode', [k.nodes(b), k.nodePlayers(nodeId, b), k.nodeHeartbeats(nodeId, b), k.nodeFence(nodeId, b)], [nodeId]),
    );
    return replies.every((reply) => asNumber(reply, 'removeNode') === 1);
  }

  async reapNode(deadNodeId: string, at: number, limit: number): Promise<ReapResult> {
    checkTime('at', at);
    checkCount('limit', limit);
    const result: ReapResult = { records: [], remaining: 0, alive: true };
    let left = limit;
    // Every bucket, each with what is left of `limit` (0: it only reports what remains there).
    for (const b of this.ctx.keys.buckets.all()) {
      const batch = await this.reapBatch(b, deadNodeId, at, String(at), '', '', this.claimTtlMs, left);
      if (batch.live) continue;
      left -= batch.claimed;
      result.alive = false;
      result.records.push(...batch.records);
      result.remaining += batch.remaining;
    }
    return result;
  }

  async reassert(nodeId: string, now: number, sessions: ReadonlyArray<ReassertSession>): Promise<ReassertResult> {
    const { keys: k, run } = this.ctx;
    checkTime('now', now);
    sessions.forEach(checkReassertSession);
    const result: ReassertResult = { restored: 0, stale: [] };
    const byBucket = groupBy(sessions, (session) => k.bucketOf(session.userId));
    for (const b of k.buckets.all()) {
      const own = byBucket.get(b) ?? [];
      // An empty list still renews the bucket's copy of the lease: one call.
      for (let i = 0; i === 0 || i < own.length; i += CLUSTER_BATCH) {
        const batch = own.slice(i, i + CLUSTER_BATCH);
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
          await run('reassert', [k.nodes(b), k.online(b), k.index(b), k.nodePlayers(nodeId, b), ...batch.map((s) => k.player(s.userId))], args),
          'reassert',
          ['restored', 'stale'],
        );
        result.restored += asNumber(reply.restored, 'reassert restored');
        for (const userId of asArray(reply.stale, 'reassert stale')) result.stale.push(asString(userId, 'reassert stale userId'));
      }
    }
    if (k.buckets.count > 1) {
      // In the order of `sessions`, as one store reports them.
      const order = new Map(sessions.map((s, i) => [s.userId, i]));
      result.stale.sort((a, b) => order.get(a)! - order.get(b)!);
    }
    return result;
  }

  async reassertGraces(nodeId: string, graces: ReadonlyArray<ReassertGrace>): Promise<number> {
    const { keys: k, run } = this.ctx;
    graces.forEach(checkReassertGrace);
    let restored = 0;
    for (const [b, own] of groupBy(graces, (grace) => k.bucketOf(grace.userId))) {
      for (let i = 0; i < own.length; i += CLUSTER_BATCH) {
        const batch = own.slice(i, i + CLUSTER_BATCH);
        const args: string[] = [nodeId];
        for (const g of batch) {
          args.push(g.userId, g.username, g.logicalSessionId, String(g.epoch), String(g.connectedAt), String(g.endedAt), g.endReason, String(g.graceUntil));
        }
        restored += asNumber(
          await run('reassertGraces', [k.online(b), k.index(b), k.grace(b), ...batch.map((g) => k.player(g.userId))], args),
          'reassertGraces',
        );
      }
    }
    return restored;
  }

  async releaseAbsent(nodeId: string, at: number, holds: (userId: string) => boolean): Promise<LogoutRecord[]> {
    const { redis, keys: k, run } = this.ctx;
    checkTime('at', at);
    const records: LogoutRecord[] = [];
    for (const b of k.buckets.all()) {
      const members = await redis.smembers(k.nodePlayers(nodeId, b));
      for (let i = 0; i < members.length; i += CLUSTER_BATCH) {
        // Asked right before the script is sent: a login that started meanwhile is held already.
        const absent = members.slice(i, i + CLUSTER_BATCH).filter((userId) => !holds(userId));
        if (absent.length === 0) continue;
        const reply = await run(
          'releaseAbsent',
          [
            k.online(b),
            k.index(b),
            k.pending(b),
            k.pendingData(b),
            k.nodePlayers(nodeId, b),
            k.nodeHeartbeats(nodeId, b),
            ...absent.map((userId) => k.player(userId)),
          ],
          [nodeId, String(at), ...absent],
        );
        records.push(...parseRecords(reply, 'releaseAbsent records'));
      }
    }
    return records;
  }
}
