/**
 * The local room index of one node: room -> member sessions, session -> rooms. Pure and
 * synchronous; membership is per session and ends with it. Fan-out is a plain loop over a Set
 * pushing into send queues (never awaiting a socket), so a 10k-member room costs 10k queue
 * pushes and nothing else.
 */
import type { NodeMembership } from './room-directory.ts';
import type { Session } from '../connection/session.ts';

export type JoinOutcome =
  /** Now a member; `first`: the room had no member on this node before (subscribe to it). */
  | { status: 'joined'; first: boolean }
  /** Was a member already: nothing changed. */
  | { status: 'already' }
  /** The session is in `maxRoomsPerSession` rooms already: nothing changed. */
  | { status: 'limit' };

export interface LeaveOutcome {
  /** Was a member (and no longer is). */
  left: boolean;
  /** The room has no member on this node any more (unsubscribe from it). */
  last: boolean;
}

/** Queues a frame on a session; false when it was dropped. */
export type SendFn = (session: Session, frame: string) => boolean;

const directSend: SendFn = (session, frame) => session.send(frame);

export class RoomRegistry {
  private readonly byRoom = new Map<string, Set<Session>>();
  private readonly bySession = new Map<Session, Set<string>>();

  constructor(private readonly maxRoomsPerSession: number) {}

  /** `limited` false: not bounded by maxRoomsPerSession (a group's room: the admin decides memberships). */
  join(session: Session, room: string, limited = true): JoinOutcome {
    let rooms = this.bySession.get(session);
    if (rooms?.has(room)) return { status: 'already' };
    if (limited && (rooms?.size ?? 0) >= this.maxRoomsPerSession) return { status: 'limit' };
    if (!rooms) this.bySession.set(session, (rooms = new Set()));
    rooms.add(room);
    let members = this.byRoom.get(room);
    const first = !members;
    if (!members) this.byRoom.set(room, (members = new Set()));
    members.add(session);
    return { status: 'joined', first };
  }

  leave(session: Session, room: string): LeaveOutcome {
    const rooms = this.bySession.get(session);
    if (!rooms?.delete(room)) return { left: false, last: false };
    if (rooms.size === 0) this.bySession.delete(session);
    return { left: true, last: this.removeMember(room, session) };
  }

  /** Ends every membership of the session (it closed). Returns its rooms and those left empty. */
  leaveAll(session: Session): { rooms: string[]; emptied: string[] } {
    const rooms = this.bySession.get(session);
    if (!rooms) return { rooms: [], emptied: [] };
    this.bySession.delete(session);
    const emptied: string[] = [];
    for (const room of rooms) if (this.removeMember(room, session)) emptied.push(room);
    return { rooms: [...rooms], emptied };
  }

  has(session: Session, room: string): boolean {
    return this.bySession.get(session)?.has(room) ?? false;
  }

  /** The room's member sessions on this node (do not mutate). */
  members(room: string): ReadonlySet<Session> | undefined {
    return this.byRoom.get(room);
  }

  /** The session's rooms (do not mutate). */
  roomsOf(session: Session): ReadonlySet<string> | undefined {
    return this.bySession.get(session);
  }

  /** Member sessions of the room on this node. */
  localCount(room: string): number {
    return this.byRoom.get(room)?.size ?? 0;
  }

  /** Rooms with at least one member on this node. */
  get roomCount(): number {
    return this.byRoom.size;
  }

  rooms(): IterableIterator<string> {
    return this.byRoom.keys();
  }

  /**
   * Queues `frame` on every member session of the room except `except`. Returns how many
   * accepted it. Never awaits: a full queue drops only its own copy.
   */
  fanout(room: string, frame: string, except?: Session, send: SendFn = directSend): number {
    const members = this.byRoom.get(room);
    if (!members) return 0;
    let accepted = 0;
    for (const session of members) {
      if (session === except) continue;
      if (send(session, frame)) accepted++;
    }
    return accepted;
  }

  /** This node's memberships per (room, user), for a re-sync of the room directory. */
  memberships(): NodeMembership[] {
    const out: NodeMembership[] = [];
    for (const [room, members] of this.byRoom) {
      const perUser = new Map<string, number>();
      for (const session of members) perUser.set(session.userId, (perUser.get(session.userId) ?? 0) + 1);
      for (const [userId, sessions] of perUser) out.push({ room, userId, sessions });
    }
    return out;
  }

  /** Returns true when the room has no member left on this node. */
  private removeMember(room: string, session: Session): boolean {
    const members = this.byRoom.get(room);
    if (!members) return false;
    members.delete(session);
    if (members.size > 0) return false;
    this.byRoom.delete(room);
    return true;
  }
}
