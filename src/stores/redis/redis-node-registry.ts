/**
 * `NodeRegistry` on Redis: node leases, crash cleanup and re-assertion after data loss
 * (semantics on `NodeRegistry`). Each call is one script (one EVALSHA round trip), except where
 * a batch is split to keep any single script short.
 */
import {
  NodeIdInUseError,
  type NodeLease,
  type NodeRegistry,
  type ReapResult,
  type ReassertResult,
  type ReassertSession,
  type RegisterNodeResult,
} from '../../cluster/node-registry.ts';
import type { LogoutRecord } from '../../presence/logout-outbox.ts';
import type { RedisKeys } from './keys.ts';
import type { RedisStoreContext } from './redis-store-context.ts';
import { OnlineReplyError, asArray, asFields, asNumber, asString, parseRecords } from './redis-online-codec.ts';
import { checkCount, checkReassertSession, checkTime } from '../../presence/online-paging.ts';

/**
 * Users per script run when `registerNode` reaps a previous holder, and sessions per `reassert`
 * script run: one script never blocks Redis for long.
 */
export const CLUSTER_BATCH = 500;

/** The keys of the reap prelude (lib/reap-batch.lua) for one node, in script order. */
const reapKeys = (k: RedisKeys, nodeId: string) => [
  k.nodes, k.online, k.index, k.pending, k.pendingData, k.nodePlayers(nodeId), k.nodeHeartbeats(nodeId),
];

export class RedisNodeRegistry implements NodeRegistry {
  constructor(private readonly ctx: RedisStoreContext) {}

  async registerNode(nodeId: string, now: number, deadAfterMs: number): Promise<RegisterNodeResult> {
    const { keys: k, run } = this.ctx;
    checkTime('now', now);
    checkTime('deadAfterMs', deadAfterMs);
    const reaped: LogoutRecord[] = [];
    for (;;) {
      const reply = asFields(
        await run('registerNode', reapKeys(k, nodeId), [k.prefix, nodeId, String(now), String(deadAfterMs), CLUSTER_BATCH]),
        'registerNode',
        ['state', 'records', 'remaining'],
      );
      const state = asNumber(reply.state, 'registerNode state');
      if (state === 0) throw new NodeIdInUseError(nodeId);
      reaped.push(...parseRecords(reply.records, 'registerNode records'));
      if (state === 2) return { reaped };
      if (state !== 1) throw new OnlineReplyError(`registerNode state ${state}`);
    }
  }

  async renewLease(nodeId: string, now: number): Promise<number | null> {
    const { keys: k, run } = this.ctx;
    checkTime('now', now);
    const previous = await run('renewLease', [k.nodes], [nodeId, String(now)]);
    return previous === null ? null : asNumber(previous, 'renewLease previous');
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
    return asNumber(await run('removeNode', [k.nodes, k.nodePlayers(nodeId), k.nodeHeartbeats(nodeId)], [nodeId]), 'removeNode') === 1;
  }

  async reapNode(deadNodeId: string, at: number, limit: number): Promise<ReapResult> {
    const { keys: k, run } = this.ctx;
    checkTime('at', at);
    checkCount('limit', limit);
    const reply = asFields(
      await run('reapNode', reapKeys(k, deadNodeId), [k.prefix, deadNodeId, String(at), limit]),
      'reapNode',
      ['records', 'remaining', 'alive'],
    );
    return {
      records: parseRecords(reply.records, 'reapNode records'),
      remaining: asNumber(reply.remaining, 'reapNode remaining'),
      alive: asNumber(reply.alive, 'reapNode alive') === 1,
    };
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
          s.userId, s.username, s.logicalSessionId, String(s.epoch), String(s.connectedAt), s.connections,
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
}
