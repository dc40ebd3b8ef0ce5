/**
 * The room directory of a single process, mirroring the Redis model of room-directory.ts key
 * for key (index, per-room node counts, member index, per-node user counts, per-node room sets)
 * so both pass the same contract suite.
 */
import { checkPageLimit, decodeCursor, encodeCursor } from '../../presence/online-paging.ts';
import {
  MEMBER_SEPARATOR,
  type MemberPage,
  type MembershipChange,
  type NodeMembership,
  type PageOptions,
  type RoomDirectory,
  type RoomPage,
  type RoomSummary,
} from '../../delivery/room-directory.ts';
import { SortedList } from './sorted-list.ts';
import { compareCodePoints } from '../../presence/code-point-order.ts';

interface RoomEntry {
  /** `room:{<room>}:nodes` */
  nodes: Map<string, number>;
  /** `room:{<room>}:members` */
  members: SortedList<string>;
  /** `room:{<room>}:node:<nodeId>` */
  byNode: Map<string, Map<string, number>>;
}

export class MemoryRoomDirectory implements RoomDirectory {
  /** `rooms:index` */
  private readonly index = new SortedList<string>(compareCodePoints);
  private readonly rooms = new Map<string, RoomEntry>();
  /** `rooms:node:<nodeId>` */
  private readonly nodeRooms = new Map<string, Set<string>>();

  async apply(nodeId: string, changes: readonly MembershipChange[]): Promise<void> {
    for (const { room, userId, sessions } of changes) {
      if (sessions > 0) this.add(nodeId, room, userId, sessions);
      else if (sessions < 0) this.remove(nodeId, room, userId, -sessions);
    }
  }

  async syncNode(nodeId: string, memberships: readonly NodeMembership[]): Promise<void> {
    while ((await this.purgeNode(nodeId, 1000)) > 0);
    for (const m of memberships) if (m.sessions > 0) this.add(nodeId, m.room, m.userId, m.sessions);
  }

  async nodeRoomCount(nodeId: string): Promise<number> {
    return this.nodeRooms.get(nodeId)?.size ?? 0;
  }

  async purgeNode(nodeId: string, limit: number): Promise<number> {
    const rooms = this.nodeRooms.get(nodeId);
    if (!rooms) return 0;
    let done = 0;
    for (const room of rooms) {
      if (done++ === limit) break;
      const entry = this.rooms.get(room);
      if (entry) this.dropNode(room, entry, nodeId);
      else rooms.delete(room);
    }
    return this.nodeRooms.get(nodeId)?.size ?? 0;
  }

  async listRooms(options: PageOptions): Promise<RoomPage> {
    checkPageLimit(options.limit);
    const after = options.cursor ? decodeCursor(options.cursor) : undefined;
    const rooms: RoomSummary[] = [];
    let more = false;
    for (const room of this.index.valuesAfter(after)) {
      if (rooms.length === options.limit) {
        more = true;
        break;
      }
      rooms.push({ room, nodes: Object.fromEntries(this.rooms.get(room)?.nodes ?? []) });
    }
    const last = rooms.at(-1);
    return more && last ? { rooms, nextCursor: encodeCursor(last.room) } : { rooms };
  }

  async getRoom(room: string): Promise<Record<string, number>> {
    return Object.fromEntries(this.rooms.get(room)?.nodes ?? []);
  }

  async listMembers(room: string, options: PageOptions): Promise<MemberPage> {
    checkPageLimit(options.limit);
    const after = options.cursor ? decodeCursor(options.cursor) : undefined;
    const entry = this.rooms.get(room);
    if (!entry) return { members: [] };
    const members: MemberPage['members'] = [];
    let last: string | undefined;
    let more = false;
    for (const key of entry.members.valuesAfter(after)) {
      if (members.length === options.limit) {
        more = true;
        break;
      }
      last = key;
      const [userId = '', nodeId = ''] = key.split(MEMBER_SEPARATOR);
      members.push({ userId, nodeId, sessions: entry.byNode.get(nodeId)?.get(userId) ?? 0 });
    }
    return more && last ? { members, nextCursor: encodeCursor(last) } : { members };
  }

  async close(): Promise<void> {}

  private add(nodeId: string, room: string, userId: string, sessions: number): void {
    let entry = this.rooms.get(room);
    if (!entry) {
      entry = { nodes: new Map(), members: new SortedList(compareCodePoints), byNode: new Map() };
      this.rooms.set(room, entry);
      this.index.insert(room);
    }
    entry.nodes.set(nodeId, (entry.nodes.get(nodeId) ?? 0) + sessions);
    let users = entry.byNode.get(nodeId);
    if (!users) entry.byNode.set(nodeId, (users = new Map()));
    users.set(userId, (users.get(userId) ?? 0) + sessions);
    entry.members.insert(userId + MEMBER_SEPARATOR + nodeId);
    let rooms = this.nodeRooms.get(nodeId);
    if (!rooms) this.nodeRooms.set(nodeId, (rooms = new Set()));
    rooms.add(room);
  }

  private remove(nodeId: string, room: string, userId: string, sessions: number): void {
    const entry = this.rooms.get(room);
    if (!entry) return;
    const users = entry.byNode.get(nodeId);
    const left = (users?.get(userId) ?? 0) - sessions;
    if (users && left > 0) users.set(userId, left);
    else {
      users?.delete(userId);
      if (users?.size === 0) entry.byNode.delete(nodeId);
      entry.members.delete(userId + MEMBER_SEPARATOR + nodeId);
    }
    const count = (entry.nodes.get(nodeId) ?? 0) - sessions;
    if (count > 0) entry.nodes.set(nodeId, count);
    else this.dropNode(room, entry, nodeId);
  }

  /** Removes the node's whole share of one room; the room goes when no node is left. */
  private dropNode(room: string, entry: RoomEntry, nodeId: string): void {
    for (const userId of entry.byNode.get(nodeId)?.keys() ?? []) entry.members.delete(userId + MEMBER_SEPARATOR + nodeId);
    entry.byNode.delete(nodeId);
    entry.nodes.delete(nodeId);
    const rooms = this.nodeRooms.get(nodeId);
    rooms?.delete(room);
    if (rooms?.size === 0) this.nodeRooms.delete(nodeId);
    if (entry.nodes.size === 0) {
      this.rooms.delete(room);
      this.index.delete(room);
    }
  }
}
