/**
 * The joins and leaves of a node's sessions collected for one flush (room-service.ts): the net
 * change of member sessions per (room, user), and every room whose local membership moved. A join
 * and a leave of the same room and user inside one batch cancel out, so they are never written;
 * whether the node must (un)subscribe a room is decided at flush time from the local registry, so
 * a room that went from 0 to 1 local member and back costs the cluster nothing.
 */
import type { MembershipChange } from './room-directory.ts';

export class RoomBatch {
  /** room -> userId -> net change of member sessions on this node (never 0). */
  private readonly changes = new Map<string, Map<string, number>>();
  /** Rooms whose local membership changed: their subscription is re-checked at flush time. */
  readonly rooms = new Set<string>();
  /** Settles once the batch's directory write and (un)subscriptions are done (failed included). */
  readonly done: Promise<void>;
  private settleDone!: () => void;

  constructor() {
    this.done = new Promise((resolve) => {
      this.settleDone = resolve;
    });
  }

  record(room: string, userId: string, sessions: number): void {
    this.rooms.add(room);
    let users = this.changes.get(room);
    if (!users) this.changes.set(room, (users = new Map()));
    const net = (users.get(userId) ?? 0) + sessions;
    if (net !== 0) users.set(userId, net);
    else {
      users.delete(userId);
      if (users.size === 0) this.changes.delete(room);
    }
  }

  /**
   * Drops the directory changes (not the rooms): a re-sync of the node's share has just
   * snapshotted the local registry, which already holds them.
   */
  forgetChanges(): void {
    this.changes.clear();
  }

  /** The net directory changes, none of 0 sessions. */
  list(): MembershipChange[] {
    const out: MembershipChange[] = [];
    for (const [room, users] of this.changes) for (const [userId, sessions] of users) out.push({ room, userId, sessions });
    return out;
  }

  settle(): void {
    this.settleDone();
  }
}
