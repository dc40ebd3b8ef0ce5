/**
 * The cluster-wide view of room membership, for the admin API (`GET /api/rooms`,
 * `GET /api/rooms/:room/members`). Message fan-out never reads it: each node keeps its own
 * members in memory (delivery/rooms.ts) and rooms travel over the bus. So the directory is written
 * with the joins and leaves of a node batched (`apply`: one call per flush of the node's room
 * changes, whatever the number of sessions and rooms; a join and a leave that cancel out are never
 * written) and may lag; a node that failed to write it re-syncs its whole share (`syncNode`). Two implementations share one contract suite:
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

/**
 * A net change of one user's member sessions in one room on a node: `sessions` > 0 joined,
 * < 0 left (never 0: a change that cancels out is not sent).
 */
export interface MembershipChange {
  room: string;
  userId: string;
  sessions: number;
}

export interface RoomDirectory {
  /**
   * Applies the node's membership changes in order: a positive count adds member sessions, a
   * negative one removes them (the user's entry goes at 0, the node's share of the room when its
   * count reaches 0, the room when no node is left; removing what is not there takes nothing from
   * another node). Atomic per call for up to a few hundred changes (larger lists may be split).
   */
  apply(nodeId: string, changes: readonly MembershipChange[]): Promise<void>;

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
