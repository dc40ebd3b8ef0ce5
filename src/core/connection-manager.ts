/**
 * The local index of live sessions on this node: by session id and by user id, O(1) add,
 * remove and lookup. It knows nothing about sockets' behaviour or the cluster; the gateway
 * decides policy (replace / multi) and uses this index to act on it.
 */
import type { Session } from './session.ts';

export class ConnectionManager {
  private readonly bySession = new Map<string, Session>();
  private readonly byUser = new Map<string, Set<Session>>();
  /** Sessions ever added (for /ws/stats). */
  totalAdded = 0;

  /** Adds a session. Returns the user's other sessions on this node, before this one. */
  add(session: Session): Session[] {
    this.bySession.set(session.id, session);
    let sessions = this.byUser.get(session.userId);
    const others = sessions ? [...sessions] : [];
    if (!sessions) {
      sessions = new Set();
      this.byUser.set(session.userId, sessions);
    }
    sessions.add(session);
    this.totalAdded++;
    return others;
  }

  /** Removes a session; false when it was not there (so callers can act exactly once). */
  remove(session: Session): boolean {
    if (this.bySession.get(session.id) !== session) return false;
    this.bySession.delete(session.id);
    const sessions = this.byUser.get(session.userId);
    if (sessions) {
      sessions.delete(session);
      if (sessions.size === 0) this.byUser.delete(session.userId);
    }
    return true;
  }

  get(sessionId: string): Session | undefined {
    return this.bySession.get(sessionId);
  }

  /** The user's live sessions on this node (do not mutate). */
  sessionsOf(userId: string): ReadonlySet<Session> | undefined {
    return this.byUser.get(userId);
  }

  countOf(userId: string): number {
    return this.byUser.get(userId)?.size ?? 0;
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
