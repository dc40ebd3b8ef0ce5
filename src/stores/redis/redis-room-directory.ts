/**
 * The room directory on Redis (keys in keys.ts and room-directory.ts). Every change is one Lua
 * script call in ./lua/rooms/ (a node's whole flush of joins and leaves: rooms/apply.lua): atomic,
 * one round trip, with every key it touches in KEYS. Where the
 * rooms or members are only known by reading Redis (a page, a node's purge), they are read
 * first (one command) and the script re-checks each one before using it.
 * With REDIS_BUCKETS > 1 a room's keys are in the room's bucket, and the rooms index and each
 * node's rooms set are kept per bucket: a flush is one script per bucket its rooms fall in, and
 * listing merges the buckets' indexes.
 */
import { RedisKeys } from './keys.ts';
import { perBucket } from './bucket-pipelines.ts';
import { defineScripts, type RedisClient, type RunScript } from './scripts.ts';
import { compareCodePoints } from '../../presence/code-point-order.ts';
import { asArray, asString } from './redis-online-codec.ts';
import { checkPageLimit, decodeCursor, encodeCursor } from '../../presence/online-paging.ts';
import { groupBy } from '../../util/group-by.ts';
import {
  MEMBER_SEPARATOR,
  type MemberPage,
  type MembershipChange,
  type NodeMembership,
  type PageOptions,
  type RoomDirectory,
  type RoomPage,
} from '../../delivery/room-directory.ts';

export interface RedisRoomDirectoryOptions {
  /** Owned by the caller: `close()` leaves it open. Must not use ioredis' own `keyPrefix`. */
  redis: RedisClient;
  /** REDIS_KEY_PREFIX; default none. */
  keyPrefix?: string;
  /** REDIS_BUCKETS (buckets.ts); default 1. The same in every process of a deployment. */
  buckets?: number;
}

/** Changes per rooms/apply.lua call (a flush of batched joins and leaves, a chunk of a re-sync). */
const APPLY_CHUNK = 500;
/** Rooms per rooms/purge-node.lua call. */
const PURGE_CHUNK = 200;

function pairs(list: readonly unknown[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (let i = 0; i + 1 < list.length; i += 2) out[String(list[i])] = Number(list[i + 1]);
  return out;
}

export class RedisRoomDirectory implements RoomDirectory {
  private readonly redis: RedisClient;
  private readonly keys: RedisKeys;
  private readonly run: RunScript;

  constructor(options: RedisRoomDirectoryOptions) {
    if (options.redis.options.keyPrefix) throw new Error('RedisRoomDirectory: use the keyPrefix option of the directory, not of the ioredis client');
    this.redis = options.redis;
    this.keys = new RedisKeys(options.keyPrefix ?? '', options.buckets ?? 1);
    this.run = defineScripts(options.redis);
  }

  /**
   * One script call per APPLY_CHUNK changes of one bucket, sent together (a room's changes stay
   * in order: they are in one bucket, on one connection).
   */
  async apply(nodeId: string, changes: readonly MembershipChange[]): Promise<void> {
    const byBucket = groupBy(changes, (change) => this.keys.bucketOf(change.room));
    const calls: Promise<unknown>[] = [];
    for (const [b, own] of byBucket) {
      for (let i = 0; i < own.length; i += APPLY_CHUNK) calls.push(this.applyChunk(b, nodeId, own.slice(i, i + APPLY_CHUNK)));
    }
    await Promise.all(calls);
  }

  async syncNode(nodeId: string, memberships: readonly NodeMembership[]): Promise<void> {
    while ((await this.purgeNode(nodeId, PURGE_CHUNK)) > 0);
    await this.apply(
      nodeId,
      memberships.filter((m) => m.sessions > 0),
    );
  }

  async nodeRoomCount(nodeId: string): Promise<number> {
    const k = this.keys;
    const counts = await perBucket<number>(this.redis, k, k.buckets.all(), (p, b) => p.scard(k.nodeRooms(nodeId, b)));
    return counts.reduce((sum, count) => sum + count, 0);
  }

  async purgeNode(nodeId: string, limit: number): Promise<number> {
    const k = this.keys;
    // Up to `limit` rooms in all, bucket by bucket; what is left is counted in every bucket.
    let left = limit;
    let remaining = 0;
    for (const b of k.buckets.all()) {
      const rooms = left > 0 ? await this.redis.srandmember(k.nodeRooms(nodeId, b), left) : [];
      if (rooms.length === 0) {
        remaining += await this.redis.scard(k.nodeRooms(nodeId, b));
        continue;
      }
      left -= rooms.length;
      remaining += Number(await this.run('roomPurgeNode', this.changeKeys(b, nodeId, rooms), [nodeId, ...rooms]));
    }
    return remaining;
  }

  async listRooms(options: PageOptions): Promise<RoomPage> {
    checkPageLimit(options.limit);
    const k = this.keys;
    const start = options.cursor ? `(${decodeCursor(options.cursor)}` : '-';
    // The first limit + 1 of every bucket's index, merged by name: the first limit + 1 overall.
    const indexes = await perBucket<string[]>(this.redis, k, k.buckets.all(), (p, b) =>
      p.zrangebylex(k.roomsIndex(b), start, '+', 'LIMIT', 0, options.limit + 1),
    );
    const names =
      indexes.length === 1
        ? indexes[0]!
        : indexes
            .flat()
            .sort(compareCodePoints)
            .slice(0, options.limit + 1);
    const page = names.slice(0, options.limit);
    const found = new Map<string, Record<string, number>>();
    const byBucket = groupBy(page, (room) => k.bucketOf(room));
    await Promise.all(
      [...byBucket].map(async ([b, own]) => {
        const flat = asArray(await this.run('roomList', [k.roomsIndex(b), ...own.map((room) => k.roomNodes(room))], own), 'roomList');
        for (let i = 0; i + 1 < flat.length; i += 2) {
          if (flat[i + 1] !== null) found.set(asString(flat[i], 'roomList room'), pairs(asArray(flat[i + 1], 'roomList nodes')));
        }
      }),
    );
    const rooms: RoomPage['rooms'] = [];
    for (const room of page) {
      const nodes = found.get(room);
      if (nodes) rooms.push({ room, nodes });
    }
    const last = page.at(-1);
    return names.length > options.limit && last !== undefined ? { rooms, nextCursor: encodeCursor(last) } : { rooms };
  }

  async getRoom(room: string): Promise<Record<string, number>> {
    const nodes = await this.redis.hgetall(this.keys.roomNodes(room));
    return Object.fromEntries(Object.entries(nodes).map(([nodeId, count]) => [nodeId, Number(count)]));
  }

  async listMembers(room: string, options: PageOptions): Promise<MemberPage> {
    checkPageLimit(options.limit);
    const start = options.cursor ? `(${decodeCursor(options.cursor)}` : '-';
    const membersKey = this.keys.roomMembers(room);
    const keys = await this.redis.zrangebylex(membersKey, start, '+', 'LIMIT', 0, options.limit + 1);
    const page = keys.slice(0, options.limit);
    const members: MemberPage['members'] = [];
    if (page.length > 0) {
      const nodeOf = (key: string) => key.slice(key.indexOf(MEMBER_SEPARATOR) + 1);
      const flat = asArray(await this.run('roomMembers', [membersKey, ...page.map((key) => this.keys.roomNodeUsers(room, nodeOf(key)))], page), 'roomMembers');
      for (let i = 0; i + 1 < flat.length; i += 2) {
        if (flat[i + 1] === null) continue;
        const key = asString(flat[i], 'roomMembers member');
        const at = key.indexOf(MEMBER_SEPARATOR);
        members.push({ userId: key.slice(0, at), nodeId: key.slice(at + 1), sessions: Number(asString(flat[i + 1], 'roomMembers sessions')) });
      }
    }
    const last = page.at(-1);
    return keys.length > options.limit && last !== undefined ? { members, nextCursor: encodeCursor(last) } : { members };
  }

  async close(): Promise<void> {}

  /** One rooms/apply.lua call for rooms of bucket `b`; changes of 0 sessions are skipped. */
  private applyChunk(b: number, nodeId: string, changes: readonly MembershipChange[]): Promise<unknown> {
    const rooms: string[] = [];
    const args: (string | number)[] = [nodeId];
    for (const { room, userId, sessions } of changes) {
      if (sessions === 0) continue;
      rooms.push(room);
      args.push(room, userId, sessions);
    }
    return rooms.length === 0 ? Promise.resolve() : this.run('roomApply', this.changeKeys(b, nodeId, rooms), args);
  }

  /**
   * KEYS of the scripts that change rooms of bucket `b`: the bucket's index, the node's rooms in
   * it, then 3 keys per room.
   */
  private changeKeys(b: number, nodeId: string, rooms: readonly string[]): string[] {
    const keys = [this.keys.roomsIndex(b), this.keys.nodeRooms(nodeId, b)];
    for (const room of rooms) keys.push(this.keys.roomNodes(room), this.keys.roomNodeUsers(room, nodeId), this.keys.roomMembers(room));
    return keys;
  }
}
