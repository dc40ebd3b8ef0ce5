/**
 * `PresenceStore` on Redis. Keys are named in keys.ts (table in docs/architecture.md);
 * every transition that touches more than one key is one Lua script in ./lua/, so a crash
 * between two commands never leaves half a state. A user's transitions run in the user's bucket
 * (buckets.ts: one slot of a Redis Cluster); what spans users (listing, counting, expiring
 * graces) goes through every bucket. Heartbeats are the one hot write path: one HSET per bucket
 * the node's users fall in per flush, never a command per user or per ping.
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
import type { RedisStoreContext } from './redis-store-context.ts';
import { runBucketedScriptBatch, type ScriptCall } from './scripts.ts';
import { OnlineReplyError, asArray, asFields, asNumber, asString, parseNodeCounts, parsePresence, parseRecord } from './redis-online-codec.ts';
import { FILTER_SCAN_FACTOR, checkPageLimit, checkTime, decodeCursor, encodeCursor, prefixRange, walkStart } from '../../presence/online-paging.ts';
import { compareCodePoints } from '../../presence/code-point-order.ts';
import { inDueOrder, oldestDue } from './oldest-across-buckets.ts';
import { perBucket } from './bucket-pipelines.ts';
import { groupBy } from '../../util/group-by.ts';

/**
 * Users per HSET of a heartbeat flush. A flush of 15,000 users in one command took the node's
 * event loop long enough to encode that the pong p99 of a 15k-client heartbeat bench was 48 ms
 * (16 ms with flushes 12x rarer): each chunk is encoded on its own turn of the event loop, so
 * the pings that arrive meanwhile are answered in between. One command never blocks Redis for
 * long either.
 */
const HEARTBEAT_CHUNK = 2000;

/** forceLogout and getPlayer re-read the user's nodes at most this often when logins keep racing them. */
const NODE_READ_ATTEMPTS = 10;

export class RedisPresenceStore implements PresenceStore {
  constructor(private readonly ctx: RedisStoreContext) {}

  async login(input: LoginInput): Promise<LoginResult> {
    checkTime('now', input.now);
    const k = this.ctx.keys;
    const b = k.bucketOf(input.userId);
    const reply = asFields(
      await this.ctx.run(
        'login',
        [k.player(input.userId), k.online(b), k.index(b), k.nodePlayers(input.nodeId, b), k.grace(b), k.offlineQueue(input.userId)],
        [input.userId, input.username, input.nodeId, input.candidateLogicalSessionId, String(input.now), input.connectionId ?? ''],
      ),
      'login',
      ['epoch', 'sid', 'new', 'sessions', 'previousNodes', 'queued'],
    );
    return {
      epoch: asNumber(reply.epoch, 'login epoch'),
      logicalSessionId: asString(reply.sid, 'login sid'),
      newLogicalSession: asNumber(reply.new, 'login new') === 1,
      sessions: asNumber(reply.sessions, 'login sessions'),
      previousNodes: parseNodeCounts(reply.previousNodes, 'login previousNodes'),
      offlineQueueEmpty: asNumber(reply.queued, 'login queued') === 0,
    };
  }

  async endSession(input: EndSessionInput): Promise<EndSessionResult> {
    const { keys, args } = this.endCall(input);
    return decodeEnd(await this.ctx.run('endSession', keys, args));
  }

  async endSessions(inputs: readonly EndSessionInput[]): Promise<Array<EndSessionResult | Error>> {
    // Checked before anything is sent: a bad input fails the call, never half of it.
    const calls = inputs.map((input) => this.endCall(input));
    const replies = await runBucketedScriptBatch(this.ctx.redis, 'endSession', calls);
    return replies.map(([error, reply]) => {
      if (error) return error;
      try {
        return decodeEnd(reply);
      } catch (decodeError) {
        return decodeError as Error;
      }
    });
  }

  /** The KEYS and ARGV of end-session.lua for one connection. */
  private endCall(input: EndSessionInput): ScriptCall & { bucket: number } {
    checkTime('now', input.now);
    const k = this.ctx.keys;
    const b = k.bucketOf(input.userId);
    return {
      bucket: b,
      keys: [
        k.player(input.userId),
        k.online(b),
        k.index(b),
        k.nodePlayers(input.nodeId, b),
        k.nodeHeartbeats(input.nodeId, b),
        k.pending(b),
        k.pendingData(b),
        k.grace(b),
      ],
      args: [input.userId, input.nodeId, input.logicalSessionId, input.reason, String(input.now), input.connectionId ?? '', String(input.graceMs ?? 0)],
    };
  }

  async forceLogout(input: ForceLogoutInput): Promise<ForceLogoutResult> {
    checkTime('now', input.now);
    const k = this.ctx.keys;
    const player = k.player(input.userId);
    const b = k.bucketOf(input.userId);
    for (let attempt = 1; ; attempt++) {
      // The user's nodes first (their keys go in KEYS); the script re-checks them.
      const nodeIds = (await this.ctx.redis.hkeys(player)).filter((f) => f.startsWith('n:')).map((f) => f.slice(2));
      const keys = [player, k.online(b), k.index(b), k.pending(b), k.pendingData(b), k.grace(b)];
      for (const nodeId of nodeIds) keys.push(k.nodePlayers(nodeId, b), k.nodeHeartbeats(nodeId, b));
      const reply = asFields(
        await this.ctx.run('forceLogout', keys, [input.userId, input.reason, String(input.now), ...nodeIds]),
        'forceLogout',
        [],
        ['retry', 'loggedOut', 'nodes', 'record'],
      );
      if (reply.retry !== undefined) {
        // A login on another node in between: read the nodes again.
        if (attempt >= NODE_READ_ATTEMPTS) throw new OnlineReplyError("forceLogout: the user's nodes kept changing");
        continue;
      }
      if (asNumber(reply.loggedOut, 'forceLogout loggedOut') !== 1) return { loggedOut: false, nodes: {} };
      return {
        loggedOut: true,
        nodes: parseNodeCounts(reply.nodes, 'forceLogout nodes'),
        record: parseRecord(asString(reply.record, 'forceLogout record')),
      };
    }
  }

  async expireGrace(now: number, limit: number): Promise<LogoutRecord[]> {
    checkTime('now', now);
    const k = this.ctx.keys;
    // The due users first, the earliest deadlines of all buckets (their player keys go in KEYS);
    // each bucket's script re-checks its own.
    const chosen = await oldestDue(this.ctx.redis, k, (b) => k.grace(b), now, limit);
    return inDueOrder(
      chosen,
      async (b, userIds) => {
        const reply = asArray(
          await this.ctx.run(
            'expireGrace',
            [k.grace(b), k.online(b), k.index(b), k.pending(b), k.pendingData(b), ...userIds.map((userId) => k.player(userId))],
            [String(now), ...userIds],
          ),
          'expireGrace',
        );
        return reply.map((r) => parseRecord(asString(r, 'expireGrace record')));
      },
      (record) => record.userId,
    );
  }

  async flushHeartbeats(nodeId: string, beats: ReadonlyMap<string, number>): Promise<void> {
    if (beats.size === 0) return;
    // Checked first: a bad value writes nothing (the chunks go out as they are made).
    for (const at of beats.values()) checkTime('heartbeat', at);
    const k = this.ctx.keys;
    const byBucket = new Map<number, string[]>();
    for (const [userId, at] of beats) {
      const b = k.bucketOf(userId);
      const fields = byBucket.get(b);
      if (fields) fields.push(userId, String(at));
      else byBucket.set(b, [userId, String(at)]);
    }
    const sent: Promise<unknown>[] = [];
    let sinceTurn = 0;
    for (const [b, fields] of byBucket) {
      const key = k.nodeHeartbeats(nodeId, b);
      for (let i = 0; i < fields.length; i += 2 * HEARTBEAT_CHUNK) {
        if (sinceTurn >= HEARTBEAT_CHUNK) {
          // The next chunk on a later turn: pings that arrived meanwhile are answered first.
          await new Promise((resolve) => setImmediate(resolve));
          sinceTurn = 0;
        }
        const chunk = fields.slice(i, i + 2 * HEARTBEAT_CHUNK);
        const reply = this.ctx.redis.hset(key, ...chunk);
        reply.catch(() => {}); // awaited below; a failure before then is not "unhandled"
        sent.push(reply);
        sinceTurn += chunk.length / 2;
      }
    }
    // A field may land for a connection that ended since the node's tick; it is harmless (only
    // the heartbeats of a user's live nodes are read) and removed by that node's next end.
    await Promise.all(sent);
  }

  async getPlayer(userId: string): Promise<PlayerPresence | null> {
    const k = this.ctx.keys;
    const player = k.player(userId);
    for (let attempt = 1; ; attempt++) {
      // The user's nodes first (their heartbeats hashes go in KEYS); the script re-checks them.
      const nodeIds = (await this.ctx.redis.hkeys(player)).filter((f) => f.startsWith('n:')).map((f) => f.slice(2));
      const b = k.bucketOf(userId);
      const reply = asFields(
        await this.ctx.run('getPlayer', [player, ...nodeIds.map((nodeId) => k.nodeHeartbeats(nodeId, b))], [userId, ...nodeIds]),
        'getPlayer',
        [],
        ['retry', 'fields', 'beats'],
      );
      if (reply.retry === undefined) return parsePresence(userId, reply.fields, reply.beats);
      // A login on another node in between: read the nodes again.
      if (attempt >= NODE_READ_ATTEMPTS) throw new OnlineReplyError("getPlayer: the user's nodes kept changing");
    }
  }

  async listOnline(options: ListOnlineOptions): Promise<OnlinePage> {
    checkPageLimit(options.limit);
    const k = this.ctx.keys;
    const range = prefixRange(options.prefix);
    const start = walkStart(options.cursor ? decodeCursor(options.cursor) : undefined, range);
    const filtered = options.nodeId !== undefined;
    const budget = filtered ? options.limit * FILTER_SCAN_FACTOR : options.limit;
    // 1. The userIds the page may examine, plus one to peek: the first `budget` + 1 of every
    // bucket's index within the page's range, merged in userId byte order and cut to the first
    // `budget` + 1 overall (the same entries one index of everyone would give). The peek stays
    // within the range, so the page that reaches the end of a prefix range knows it is the last.
    const indexes = await perBucket<string[]>(this.ctx.redis, k, k.buckets.all(), (p, b) =>
      p.zrangebylex(k.index(b), start ? `${start.inclusive ? '[' : '('}${start.value}` : '-', range ? `(${range.to}` : '+', 'LIMIT', 0, budget + 1),
    );
    const candidates =
      indexes.length === 1
        ? indexes[0]!
        : indexes
            .flat()
            .sort(compareCodePoints)
            .slice(0, budget + 1);
    if (candidates.length === 0) return { players: [] };
    const examined = candidates.slice(0, budget);
    // 2. Their hashes (keys in KEYS), per bucket: status and node filter checked in one step.
    // A bucket stops after `limit` matches of its own, never before the page's cut: the page
    // holds at most `limit` players, so it ends at or before any bucket's `limit`-th match.
    const byBucket = groupBy(examined, (userId) => k.bucketOf(userId));
    const matches = new Map<string, { userId: string; fields: unknown[]; nodeIds: string[] }>();
    await Promise.all(
      [...byBucket.values()].map(async (userIds) => {
        const reply = asFields(
          await this.ctx.run(
            'listOnline',
            userIds.map((userId) => k.player(userId)),
            [options.limit, userIds.length, filtered ? '1' : '0', options.nodeId ?? '', ...userIds],
          ),
          'listOnline',
          ['more', 'last', 'players'],
        );
        for (const item of asArray(reply.players, 'listOnline players')) {
          const player = asFields(item, 'listOnline player', ['userId', 'fields']);
          const fields = asArray(player.fields, 'listOnline fields');
          const nodeIds: string[] = [];
          for (let i = 0; i < fields.length; i += 2) {
            const name = asString(fields[i], 'listOnline field');
            if (name.startsWith('n:')) nodeIds.push(name.slice(2));
          }
          const userId = asString(player.userId, 'listOnline userId');
          matches.set(userId, { userId, fields, nodeIds });
        }
      }),
    );
    // 3. The page, in order: it ends after its `limit`-th player, or after the budget.
    const found: Array<{ userId: string; fields: unknown[]; nodeIds: string[] }> = [];
    let last = '';
    let more = candidates.length > examined.length;
    for (let i = 0; i < examined.length; i++) {
      const userId = examined[i]!;
      last = userId;
      const match = matches.get(userId);
      if (match) found.push(match);
      if (found.length === options.limit) {
        more = i + 1 < candidates.length;
        break;
      }
    }
    // 4. Their heartbeats, one HMGET per node of the page and bucket, pipelined per bucket.
    const beats = await this.readHeartbeats(found);
    const players: PlayerPresence[] = [];
    for (const { userId, fields } of found) {
      const presence = parsePresence(userId, fields, beats.get(userId) ?? []);
      if (presence) players.push(presence);
    }
    return more ? { players, nextCursor: encodeCursor(last) } : { players };
  }

  /**
   * The heartbeats of each user in `server:node:<nodeId>:heartbeats` of each of their live nodes
   * (read a moment after their hashes: a heartbeat only ever raises `lastHeartbeat`).
   */
  private async readHeartbeats(players: ReadonlyArray<{ userId: string; nodeIds: readonly string[] }>): Promise<Map<string, string[]>> {
    const k = this.ctx.keys;
    // bucket -> node -> users
    const byBucket = new Map<number, Map<string, string[]>>();
    for (const { userId, nodeIds } of players) {
      const b = k.bucketOf(userId);
      let byNode = byBucket.get(b);
      if (!byNode) byBucket.set(b, (byNode = new Map()));
      for (const nodeId of nodeIds) {
        const users = byNode.get(nodeId);
        if (users) users.push(userId);
        else byNode.set(nodeId, [userId]);
      }
    }
    const beats = new Map<string, string[]>();
    await Promise.all(
      [...byBucket].map(async ([b, byNode]) => {
        if (byNode.size === 0) return;
        const pipeline = this.ctx.redis.pipeline();
        for (const [nodeId, userIds] of byNode) pipeline.hmget(k.nodeHeartbeats(nodeId, b), ...userIds);
        const results = (await pipeline.exec()) ?? [];
        [...byNode.values()].forEach((userIds, i) => {
          const [error, values] = results[i] ?? [new OnlineReplyError('listOnline heartbeats missing')];
          if (error) throw error;
          asArray(values, 'listOnline heartbeats').forEach((beat, j) => {
            if (beat === null) return;
            const userId = userIds[j]!;
            const list = beats.get(userId);
            if (list) list.push(asString(beat, 'heartbeat'));
            else beats.set(userId, [asString(beat, 'heartbeat')]);
          });
        });
      }),
    );
    return beats;
  }

  async countOnline(prefix?: string): Promise<number> {
    const range = prefixRange(prefix);
    const k = this.ctx.keys;
    // The index holds the same members as the online set, in lex order: a prefix is a range.
    const counts = await perBucket<number>(this.ctx.redis, k, k.buckets.all(), (p, b) =>
      range ? p.zlexcount(k.index(b), `[${range.from}`, `(${range.to}`) : p.scard(k.online(b)),
    );
    return counts.reduce((sum, count) => sum + count, 0);
  }

  async ping(): Promise<void> {
    await this.ctx.redis.ping();
  }
}

/** The reply of end-session.lua. */
function decodeEnd(value: unknown): EndSessionResult {
  const reply = asFields(value, 'endSession', ['stale', 'loggedOut', 'sessions'], ['record', 'graceUntil']);
  const result: EndSessionResult = {
    stale: asNumber(reply.stale, 'endSession stale') === 1,
    loggedOut: asNumber(reply.loggedOut, 'endSession loggedOut') === 1,
    sessions: asNumber(reply.sessions, 'endSession sessions'),
  };
  if (result.loggedOut) result.record = parseRecord(asString(reply.record, 'endSession record'));
  const graceUntil = reply.graceUntil === undefined ? 0 : asNumber(reply.graceUntil, 'endSession graceUntil');
  if (graceUntil > 0) result.graceUntil = graceUntil;
  return result;
}
