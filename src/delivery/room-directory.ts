/**
 * The cluster-wide view of room membership, for the admin API (`GET /api/rooms`,
 * `GET /api/rooms/:room/members`). Message fan-out never reads it: each node keeps its own
 * members in memory (delivery/rooms.ts) and rooms travel over the bus. So the directory is written
 * on join and leave (not a hot path) and may lag; a node that failed to write it re-syncs its
 * whole share (`syncNode`). Two implementations share one contract suite:
 * `MemoryRoomDirectory` (one process) and `RedisRoomDirectory` (a cluster).
 *
 * Model (Redis keys, prefixed; `{room}` in braces so a room's keys share a cluster slot):
 * - `rooms:index`: sorted set (score 0) of rooms with at least one member session anywhere.
 * - `room:{<room>}:nodes`: hash nodeId -> member sessions of the room on that node.
 * - `room:{<room>}:members`: sorted set (score 0) of `<userId>|<nodeId>`, one per user and node.
 * - `room:{<room>}:node:<nodeId>`: hash userId -> that user's member sessions on the node.
 * - `rooms:node:<nodeId>`: set of rooms the node has members of (to purge a node's share).
 * Entries of dead nodes stay until purged: readers filter them by the live node set.
 */

export interface RoomMember {
  userId: string;
  /** Node holding the member sessions. */
  nodeId: string;
  /** Member sessions of the user in the room on that node (>= 1). */
  sessions: number;
}

export interface RoomSummary {
  room: string;
  /** Member sessions per node (dead nodes included until purged). */
  nodes: Record<string, number>;
}

export interface RoomPage {
  rooms: RoomSummary[];
  /** Undefined when the iteration is complete. */
  nextCursor?: string;
}

export interface MemberPage {
  members: RoomMember[];
  nextCursor?: string;
}

export interface PageOptions {
  /** 1..1000 */
  limit: number;
  /** Opaque cursor from a previous page. */
  cursor?: string;
}

/** One (room, user) membership of a node, with its session count (for `syncNode`). */
export interface NodeMembership {
  room: string;
  userId: string;
  sessions: number;
}

export interface RoomDirectory {
  /** One more member session of `userId` in `room` on `nodeId`. Atomic. */
  join(nodeId: string, room: string, userId: string): Promise<void>;

  /** One member session less of `userId` for each of `rooms` on `nodeId`. Atomic. */
  leave(nodeId: string, userId: string, rooms: readonly string[]): Promise<void>;

  /**
   * Replaces the node's whole share with `memberships` (after a failed write, or at startup to
   * clear what a previous process with the same node id left). Not atomic as a whole: callers
   * hold back their own join/leave writes until it resolves.
   */
  syncNode(nodeId: string, memberships: readonly NodeMembership[]): Promise<void>;

  /** Rooms the node has members of according to the directory (a cheap consistency check). */
  nodeRoomCount(nodeId: string): Promise<number>;

  /** Removes up to `limit` rooms of a (dead) node's share; returns how many rooms are left. */
  purgeNode(nodeId: string, limit: number): Promise<number>;

  /** Rooms with members anywhere, in name (byte) order, paged by an opaque cursor. */
  listRooms(options: PageOptions): Promise<RoomPage>;

  /** Member sessions of one room per node (empty when nobody is a member). */
  getRoom(room: string): Promise<Record<string, number>>;

  /** Members of one room, in `userId|nodeId` order, paged by an opaque cursor. */
  listMembers(room: string, options: PageOptions): Promise<MemberPage>;

  close(): Promise<void>;
}

/** Separator of `<userId>|<nodeId>` member keys: in neither userIds nor node ids. */
export const MEMBER_SEPARATOR = '|';
