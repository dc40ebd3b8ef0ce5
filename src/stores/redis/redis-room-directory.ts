/**
 * The room directory on Redis (keys in room-directory.ts). Room names are data, so the scripts
 * build the per-room keys from the prefix themselves (like list-online.lua does for players);
 * every change is one Lua script: atomic, one round trip.
 */
import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';
import { checkPageLimit, decodeCursor, encodeCursor } from '../../presence/online-paging.ts';
import {
  MEMBER_SEPARATOR,
  type MemberPage,
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

const SCRIPTS = {
  add: { file: 'room-add.lua', libs: [] },
  leave: { file: 'room-leave.lua', libs: ['room-drop-node.lua'] },
  purgeNode: { file: 'room-purge-node.lua', libs: ['room-drop-node.lua'] },
  list: { file: 'room-list.lua', libs: [] },
  members: { file: 'room-members.lua', libs: [] },
} as const satisfies Record<string, { file: string; libs: readonly string[] }>;
type Script = keyof typeof SCRIPTS;
type Command = (numberOfKeys: number, ...args: (string | number)[]) => Promise<unknown>;

/** Triples per `room-add` call of a re-sync. */
const SYNC_CHUNK = 500;
/** Rooms per `room-purge-node` call. */
const PURGE_CHUNK = 200;

const read = (path: string) => readFileSync(new URL(`./lua/${path}`, import.meta.url), 'utf8');

function pairs(list: unknown): Record<string, number> {
  const out: Record<string, number> = {};
  if (!Array.isArray(list)) return out;
  for (let i = 0; i + 1 < list.length; i += 2) out[String(list[i])] = Number(list[i + 1]);
  return out;
}

export class RedisRoomDirectory implements RoomDirectory {
  private readonly redis: Redis;
  private readonly prefix: string;
  private readonly commands = new Map<Script, Command>();

  constructor(options: RedisRoomDirectoryOptions) {
    if (options.redis.options.keyPrefix) throw new Error('RedisRoomDirectory: use the keyPrefix option of the directory, not of the ioredis client');
    this.redis = options.redis;
    this.prefix = options.keyPrefix ?? '';
    for (const [script, def] of Object.entries(SCRIPTS) as [Script, (typeof SCRIPTS)[Script]][]) {
      const name = `gatehouseRooms_${script}`;
      this.redis.defineCommand(name, { lua: [...def.libs.map((lib) => read(`lib/${lib}`)), read(def.file)].join('\n') });
      const command = (this.redis as unknown as Record<string, Command | undefined>)[name];
      if (!command) throw new Error(`ioredis did not define ${name}`);
      this.commands.set(script, command.bind(this.redis));
    }
  }

  async join(nodeId: string, room: string, userId: string): Promise<void> {
    await this.run('add', nodeId, room, userId, 1);
  }

  async leave(nodeId: string, userId: string, rooms: readonly string[]): Promise<void> {
    if (rooms.length > 0) await this.run('leave', nodeId, userId, ...rooms);
  }

  async syncNode(nodeId: string, memberships: readonly NodeMembership[]): Promise<void> {
    while ((await this.purgeNode(nodeId, PURGE_CHUNK)) > 0);
    const triples = memberships.filter((m) => m.sessions > 0).flatMap((m) => [m.room, m.userId, m.sessions]);
    const chunks: Promise<unknown>[] = [];
    for (let i = 0; i < triples.length; i += SYNC_CHUNK * 3) chunks.push(this.run('add', nodeId, ...triples.slice(i, i + SYNC_CHUNK * 3)));
    await Promise.all(chunks);
  }

  async nodeRoomCount(nodeId: string): Promise<number> {
    return this.redis.scard(`${this.prefix}rooms:node:${nodeId}`);
  }

  async purgeNode(nodeId: string, limit: number): Promise<number> {
    return Number(await this.run('purgeNode', nodeId, limit));
  }

  async listRooms(options: PageOptions): Promise<RoomPage> {
    checkPageLimit(options.limit);
    const start = options.cursor ? `(${decodeCursor(options.cursor)}` : '-';
    const [more, list] = (await this.run('list', start, options.limit)) as [number, Array<[string, unknown]>];
    const rooms = list.map(([room, nodes]) => ({ room, nodes: pairs(nodes) }));
    const last = rooms.at(-1);
    return more === 1 && last ? { rooms, nextCursor: encodeCursor(last.room) } : { rooms };
  }

  async getRoom(room: string): Promise<Record<string, number>> {
    const nodes = await this.redis.hgetall(`${this.prefix}room:{${room}}:nodes`);
    return Object.fromEntries(Object.entries(nodes).map(([nodeId, count]) => [nodeId, Number(count)]));
  }

  async listMembers(room: string, options: PageOptions): Promise<MemberPage> {
    checkPageLimit(options.limit);
    const start = options.cursor ? `(${decodeCursor(options.cursor)}` : '-';
    const [more, flat] = (await this.run('members', room, start, options.limit)) as [number, string[]];
    const members: MemberPage['members'] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const key = flat[i]!;
      const at = key.indexOf(MEMBER_SEPARATOR);
      members.push({ userId: key.slice(0, at), nodeId: key.slice(at + 1), sessions: Number(flat[i + 1]) });
    }
    const last = flat.at(-2);
    return more === 1 && last !== undefined ? { members, nextCursor: encodeCursor(last) } : { members };
  }

  async close(): Promise<void> {}

  private run(script: Script, ...args: (string | number)[]): Promise<unknown> {
    return this.commands.get(script)!(0, this.prefix, ...args);
  }
}
