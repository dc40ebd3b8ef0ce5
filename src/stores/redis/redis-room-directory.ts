/**
 * The room directory on Redis (keys in keys.ts and room-directory.ts). Every change is one Lua
 * script call in ./lua/rooms/ (a node's whole flush of joins and leaves: rooms/apply.lua): atomic,
 * one round trip, with every key it touches in KEYS. Where the
 * rooms or members are only known by reading Redis (a page, a node's purge), they are read
 * first (one command) and the script re-checks each one before using it.
 */
import type { Redis } from 'ioredis';
import { RedisKeys } from './keys.ts';
import { defineScripts, type RunScript } from './scripts.ts';
import { asArray, asString } from './redis-online-codec.ts';
import { checkPageLimit, decodeCursor, encodeCursor } from '../../presence/online-paging.ts';
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
  redis: Redis;
  /** REDIS_KEY_PREFIX; default none. */
  keyPrefix?: string;
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
  private readonly redis: Redis;
  private readonly keys: RedisKeys;
  private readonly run: RunScript;

  constructor(options: RedisRoomDirectoryOptions) {
    if (options.redis.options.keyPrefix) throw new Error('RedisRoomDirectory: use the keyPrefix option of the directory, not of the ioredis client');
    this.redis = options.redis;
    this.keys = new RedisKeys(options.keyPrefix ?? '');
    this.run = defineScripts(options.redis);
  }

  /** One script call per APPLY_CHUNK changes, sent together (in order on the one connection). */
  async apply(nodeId: string, changes: readonly MembershipChange[]): Promise<void> {
    const calls: Promise<unknown>[] = [];
    for (let i = 0; i < changes.length; i += APPLY_CHUNK) calls.push(this.applyChunk(nodeId, changes.slice(i, i + APPLY_CHUNK)));
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
    return this.redis.scard(this.keys.nodeRooms(nodeId));
  }

  async purgeNode(nodeId: string, limit: number): Promise<number> {
    const rooms = await this.redis.srandmember(this.keys.nodeRooms(nodeId), limit);
    if (rooms.length === 0) return 0;
    return Number(await this.run('roomPurgeNode', this.changeKeys(nodeId, rooms), [nodeId, ...rooms]));
  }

  async listRooms(options: PageOptions): Promise<RoomPage> {
    checkPageLimit(options.limit);
    const start = options.cursor ? `(${decodeCursor(options.cursor)}` : '-';
    const names = await this.redis.zrangebylex(this.keys.roomsIndex, start, '+', 'LIMIT', 0, options.limit + 1);
    const page = names.slice(0, options.limit);
    const rooms: RoomPage['rooms'] = [];
    if (page.length > 0) {
      const flat = asArray(await this.run('roomList', [this.keys.roomsIndex, ...page.map((room) => this.keys.roomNodes(room))], page), 'roomList');
      for (let i = 0; i + 1 < flat.length; i += 2) {
        if (flat[i + 1] !== null) rooms.push({ room: asString(flat[i], 'roomList room'), nodes: pairs(asArray(flat[i + 1], 'roomList nodes')) });
      }
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

  /** One rooms/apply.lua call; changes of 0 sessions are skipped. */
  private applyChunk(nodeId: string, changes: readonly MembershipChange[]): Promise<unknown> {
    const rooms: string[] = [];
    const args: (string | number)[] = [nodeId];
    for (const { room, userId, sessions } of changes) {
      if (sessions === 0) continue;
      rooms.push(room);
      args.push(room, userId, sessions);
    }
    return rooms.length === 0 ? Promise.resolve() : this.run('roomApply', this.changeKeys(nodeId, rooms), args);
  }

  /** KEYS of the scripts that change rooms: the index, the node's rooms, then 3 keys per room. */
  private changeKeys(nodeId: string, rooms: readonly string[]): string[] {
    const keys = [this.keys.roomsIndex, this.keys.nodeRooms(nodeId)];
    for (const room of rooms) keys.push(this.keys.roomNodes(room), this.keys.roomNodeUsers(room, nodeId), this.keys.roomMembers(room));
    return keys;
  }
}
