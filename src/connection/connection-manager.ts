/**
 * The local index of live sessions on this node: by session id and by user id, O(1) add,
 * remove and lookup. It knows nothing about sockets' behaviour or the cluster; the gateway
 * decides policy (replace / multi) and uses this index to act on it.
 */
import type { Session } from './session.ts';

/**
 * A user's sessions on this node: most users have one, and a Set per user would cost every
 * connection a Set and its hash table; the Set appears with the second session.
 */
type UserSessions = Session | Set<Session>;

export class ConnectionManager {
  private readonly bySession = new Map<string, Session>();
  private readonly byUser = new Map<string, UserSessions>();
  /** Sessions ever added (for /ws/stats). */
  totalAdded = 0;

  /** Adds a session. Returns the user's other sessions on this node, before this one. */
  add(session: Session): Session[] {
    this.bySession.set(session.id, session);
    const sessions = this.byUser.get(session.userId);
    let others: Session[];
    if (sessions === undefined) {
      others = [];
      this.byUser.set(session.userId, session);
    } else if (sessions instanceof Set) {
      others = [...sessions];
      sessions.add(session);
    } else {
      others = [sessions];
      this.byUser.set(session.userId, new Set([sessions, session]));
    }
    this.totalAdded++;
    return others;
  }

  /** Removes a session; false when it was not there (so callers can act exactly once). */
  remove(session: Session): boolean {
    if (this.bySession.get(session.id) !== session) return false;
    this.bySession.delete(session.id);
    const sessions = this.byUser.get(session.userId);
    if (sessions === session) {
      this.byUser.delete(session.userId);
    } else if (sessions instanceof Set) {
      sessions.delete(session);
      if (sessions.size === 1) this.byUser.set(session.userId, sessions.values().next().value!);
    }
    return true;
  }

  get(sessionId: string): Session | undefined {
    return this.bySession.get(sessionId);
  }

  /** The user's live sessions on this node, in arrival order; undefined when none. */
  sessionsOf(userId: string): Iterable<Session> | undefined {
    const sessions = this.byUser.get(userId);
    // A one-element array for the common case: callers iterate once (a message, a kick), never per ping.
    return sessions === undefined || sessions instanceof Set ? sessions : [sessions];
  }

  countOf(userId: string): number {
    const sessions = this.byUser.get(userId);
    return sessions === undefined ? 0 : sessions instanceof Set ? sessions.size : 1;
  }

  /** Live sessions on this node. */
  get size(): number {
    return this.bySession.size;
  }

  /** Distinct users with a live session on this node. */
  get userCount(): number {
    return this.byUser.size;
  }

  sessions(): IterableIterator<Session> {
    return this.bySession.values();
  }

  users(): IterableIterator<string> {
    return this.byUser.keys();
  }
}
