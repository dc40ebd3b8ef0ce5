/**
 * The cluster online store on Redis. Keys are listed in redis-online-keys.ts (and
 * ARCHITECTURE.md); every transition that touches more than one key is one Lua script in
 * ./lua/, so a crash between two commands never leaves half a state. Heartbeats are the one
 * hot write path: one HSET per node flush, never a command per user or per ping.
 */
import type { Redis } from 'ioredis';
import type {
  LogoutRecord,
  EndSessionInput,
  EndSessionResult,
  ForceLogoutInput,
  ForceLogoutResult,
  ListOnlineOptions,
  LoginInput,
  LoginResult,
  NodeLease,
  OnlinePage,
  OnlineStore,
  PendingLogout,
  PlayerPresence,
  ReapResult,
  ReassertResult,
  ReassertSession,
  RegisterNodeResult,
} from '../../presence/online-store.ts';
import * as cluster from './redis-online-cluster.ts';
import { OnlineKeys } from './redis-online-keys.ts';
import { defineOnlineScripts, type RunScript } from './redis-online-scripts.ts';
import { asArray, asNumber, asString, parseNodeCounts, parsePending, parsePresence, parseRecord } from './redis-online-codec.ts';
import {
  FILTER_SCAN_FACTOR, checkCount, checkPageLimit, checkTime, decodeCursor, encodeCursor, prefixRange, walkStart,
} from '../../presence/online-paging.ts';

export interface RedisOnlineStoreOptions {
  /** Owned by the caller: `close()` leaves it open. Must not use ioredis' own `keyPrefix`. */
  redis: Redis;
  /** Prepended to every key, e.g. `gatehouse:`; default none. */
  keyPrefix?: string;
}

/**
 * Above this many users a heartbeat flush is split into several HSETs (still one pipelined
 * round trip), so one command never blocks Redis for long.
 */
const HEARTBEAT_CHUNK = 50_000;

/** `OnlineStore` on Redis; see online-store.ts for the model. */
export class RedisOnlineStore implements OnlineStore {
  private readonly redis: Redis;
  private readonly keys: OnlineKeys;
  private readonly run: RunScript;
  private readonly cluster: cluster.ClusterContext;

  constructor(options: RedisOnlineStoreOptions) {
    // Scripts derive some keys from the prefix themselves; an ioredis keyPrefix would apply to
    // KEYS only and split the data across two namespaces.
    if (options.redis.options.keyPrefix) {
      throw new Error('RedisOnlineStore: use the keyPrefix option of the store, not of the ioredis client');
    }
    this.redis = options.redis;
    this.keys = new OnlineKeys(options.keyPrefix ?? '');
    this.run = defineOnlineScripts(options.redis);
    this.cluster = { redis: this.redis, keys: this.keys, run: this.run };
  }

  async login(input: LoginInput): Promise<LoginResult> {
    checkTime('now', input.now);
    const k = this.keys;
    const reply = asArray(
      await this.run(
        'login',
        [k.player(input.userId), k.online, k.index, k.nodePlayers(input.nodeId), k.grace],
        [input.userId, input.username, input.nodeId, input.candidateLogicalSessionId, String(input.now), input.connectionId ?? ''],
      ),
      'login',
    );
    return {
      epoch: asNumber(reply[0], 'login epoch'),
      logicalSessionId: asString(reply[1], 'login sid'),
      newLogicalSession: asNumber(reply[2], 'login new') === 1,
      sessions: asNumber(reply[3], 'login sessions'),
      previousNodes: parseNodeCounts(reply[4], 'login previousNodes'),
    };
  }

  async endSession(input: EndSessionInput): Promise<EndSessionResult> {
    checkTime('now', input.now);
    const k = this.keys;
    const reply = asArray(
      await this.run(
        'endSession',
        [
          k.player(input.userId), k.online, k.index, k.nodePlayers(input.nodeId), k.nodeHeartbeats(input.nodeId),
          k.pending, k.pendingData, k.grace,
        ],
        [
          input.userId, input.nodeId, input.logicalSessionId, input.reason, String(input.now), input.connectionId ?? '',
          String(input.graceMs ?? 0),
        ],
      ),
      'endSession',
    );
    const result: EndSessionResult = {
      stale: asNumber(reply[0], 'endSession stale') === 1,
      loggedOut: asNumber(reply[1], 'endSession loggedOut') === 1,
      sessions: asNumber(reply[2], 'endSession sessions'),
    };
    if (result.loggedOut) result.record = parseRecord(asString(reply[3], 'endSession record'));
    const graceUntil = reply[4] === undefined ? 0 : asNumber(reply[4], 'endSession graceUntil');
    if (graceUntil > 0) result.graceUntil = graceUntil;
    return result;
  }

  async forceLogout(input: ForceLogoutInput): Promise<ForceLogoutResult> {
    checkTime('now', input.now);
    const k = this.keys;
    const reply = asArray(
      await this.run(
        'forceLogout',
        [k.player(input.userId), k.online, k.index, k.pending, k.pendingData, k.grace],
        [k.prefix, input.userId, input.reason, String(input.now)],
      ),
      'forceLogout',
    );
    if (asNumber(reply[0], 'forceLogout loggedOut') !== 1) return { loggedOut: false, nodes: {} };
    return {
      loggedOut: true,
      nodes: parseNodeCounts(reply[1], 'forceLogout nodes'),
      record: parseRecord(asString(reply[2], 'forceLogout record')),
    };
  }

  async expireGrace(now: number, limit: number): Promise<LogoutRecord[]> {
    checkTime('now', now);
    const k = this.keys;
    const reply = asArray(
      await this.run('expireGrace', [k.grace, k.online, k.index, k.pending, k.pendingData], [k.prefix, String(now), String(limit)]),
      'expireGrace',
    );
    return reply.map((r) => parseRecord(asString(r, 'expireGrace record')));
  }

  async flushHeartbeats(nodeId: string, beats: ReadonlyMap<string, number>): Promise<void> {
    if (beats.size === 0) return;
    const key = this.keys.nodeHeartbeats(nodeId);
    const chunks: string[][] = [];
    let chunk: string[] = [];
    for (const [userId, at] of beats) {
      checkTime('heartbeat', at);
      chunk.push(userId, String(at));
      if (chunk.length === 2 * HEARTBEAT_CHUNK) {
        chunks.push(chunk);
        chunk = [];
      }
    }
    if (chunk.length > 0) chunks.push(chunk);
    // A field may land for a connection that ended since the node's tick; it is harmless (only
    // the heartbeats of a user's live nodes are read) and removed by that node's next end.
    if (chunks.length === 1) {
      await this.redis.hset(key, ...chunks[0]!);
      return;
    }
    const pipeline = this.redis.pipeline();
    for (const part of chunks) pipeline.hset(key, ...part);
    const results = await pipeline.exec();
    const failed = results?.find(([error]) => error);
    if (failed?.[0]) throw failed[0];
  }

  async getPlayer(userId: string): Promise<PlayerPresence | null> {
    const reply = asArray(await this.run('getPlayer', [this.keys.player(userId)], [this.keys.prefix, userId]), 'getPlayer');
    return parsePresence(userId, reply[0], reply[1]);
  }

  async listOnline(options: ListOnlineOptions): Promise<OnlinePage> {
    checkPageLimit(options.limit);
    const range = prefixRange(options.prefix);
    const start = walkStart(options.cursor ? decodeCursor(options.cursor) : undefined, range);
    const filtered = options.nodeId !== undefined;
    const budget = filtered ? options.limit * FILTER_SCAN_FACTOR : options.limit;
    const reply = asArray(
      await this.run(
        'listOnline',
        [this.keys.index],
        [
          this.keys.prefix, start ? `${start.inclusive ? '[' : '('}${start.value}` : '-', range ? `(${range.to}` : '+',
          options.limit, budget, filtered ? '1' : '0', options.nodeId ?? '',
        ],
      ),
      'listOnline',
    );
    const players: PlayerPresence[] = [];
    for (const item of asArray(reply[2], 'listOnline players')) {
      const [userId, fields, beats] = asArray(item, 'listOnline player');
      const presence = parsePresence(asString(userId, 'listOnline userId'), fields, beats);
      if (presence) players.push(presence);
    }
    const more = asNumber(reply[0], 'listOnline more') === 1;
    return more ? { players, nextCursor: encodeCursor(asString(reply[1], 'listOnline last')) } : { players };
  }

  async countOnline(prefix?: string): Promise<number> {
    const range = prefixRange(prefix);
    // The index holds the same members as the online set, in lex order: a prefix is a range.
    return range ? this.redis.zlexcount(this.keys.index, `[${range.from}`, `(${range.to}`) : this.redis.scard(this.keys.online);
  }

  async claimPendingLogouts(limit: number, now: number, leaseMs: number): Promise<PendingLogout[]> {
    checkCount('limit', limit);
    checkTime('now', now);
    checkTime('leaseMs', leaseMs);
    const flat = asArray(
      await this.run('claimPending', [this.keys.pending, this.keys.pendingData], [String(now), limit, String(leaseMs)]),
      'claimPending',
    );
    const claimed: PendingLogout[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) {
      claimed.push(parsePending(asString(flat[i], 'pending id'), asString(flat[i + 1], 'pending data')));
    }
    return claimed;
  }

  async ackPendingLogouts(ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.run('ackPending', [this.keys.pending, this.keys.pendingData], [...new Set(ids)]);
  }

  async retryPendingLogouts(ids: readonly string[], retryAt: number): Promise<void> {
    checkTime('retryAt', retryAt);
    if (ids.length === 0) return;
    await this.run('retryPending', [this.keys.pending, this.keys.pendingData], [String(retryAt), ...new Set(ids)]);
  }

  async countPendingLogouts(): Promise<number> {
    return this.redis.zcard(this.keys.pending);
  }

  registerNode(nodeId: string, now: number, deadAfterMs: number): Promise<RegisterNodeResult> {
    return cluster.registerNode(this.cluster, nodeId, now, deadAfterMs);
  }

  renewLease(nodeId: string, now: number): Promise<number | null> {
    return cluster.renewLease(this.cluster, nodeId, now);
  }

  listNodes(): Promise<NodeLease[]> {
    return cluster.listNodes(this.cluster);
  }

  removeNode(nodeId: string): Promise<boolean> {
    return cluster.removeNode(this.cluster, nodeId);
  }

  tryLock(name: string, owner: string, ttlMs: number, now: number): Promise<boolean> {
    return cluster.tryLock(this.cluster, name, owner, ttlMs, now);
  }

  unlock(name: string, owner: string): Promise<boolean> {
    return cluster.unlock(this.cluster, name, owner);
  }

  reapNode(deadNodeId: string, at: number, limit: number): Promise<ReapResult> {
    return cluster.reapNode(this.cluster, deadNodeId, at, limit);
  }

  reassert(nodeId: string, now: number, sessions: ReadonlyArray<ReassertSession>): Promise<ReassertResult> {
    return cluster.reassert(this.cluster, nodeId, now, sessions);
  }

  async ping(): Promise<void> {
    await this.redis.ping();
  }

  /** The client belongs to the caller, who quits it; nothing else to release. */
  async close(): Promise<void> {}
}
