/**
 * Presence: who is online, on which node, since when. One of the four narrow stores that
 * together replace the former `OnlineStore` (the others: logout-outbox.ts, and in cluster/
 * node-registry.ts and locks.ts). Each has a memory and a Redis implementation
 * (src/stores/memory, src/stores/redis) built together by one factory per backend, because one
 * atomic step may span them (an ending session queues its LogoutRecord in the outbox; reaping
 * a node logs its users out).
 *
 * Model (Redis keys in docs/architecture.md; the memory store mirrors it):
 * - A user's *logical session* runs from their first live connection anywhere in the cluster
 *   until their last one ends. It has an id (`logicalSessionId`, also the PlayerSession row id).
 * - Every login increments the user's `epoch`. Session ends are compare-and-set on the logical
 *   session id, so a late close of a connection whose logical session already ended (kicked,
 *   reaped, logged out by REST) changes nothing and never logs out a newer login.
 * - Connections are counted per node (`nodes`), so a dead node's share can be subtracted.
 * - When the count reaches zero the user goes offline (status, logoutTime, removed from the
 *   online set) and a `LogoutRecord` is appended to the pending-logout queue (logout-outbox.ts)
 *   *in the same atomic step*: a crash between "offline" and "written to the database" cannot
 *   lose the logout.
 * - Once the logout is in the database (acked in the outbox) the offline entry expires after
 *   PRESENCE_OFFLINE_TTL_S unless the user logs in again: the store holds online and recently
 *   offline users, not everyone ever seen.
 * - Optional connection ids (`LoginInput.connectionId` / `EndSessionInput.connectionId`) make a
 *   repeated end of the same connection harmless; without them the per-node count alone decides.
 * Nodes, their leases, crash cleanup and re-assertion: cluster/node-registry.ts.
 */
import type { LogoutRecord } from './logout-outbox.ts';

/**
 * `reconnecting`: the user's last connection ended by a client close, a socket error or a drain,
 * and their logout waits out the grace period (LOGOUT_GRACE_MS); a login within it resumes the
 * same logical session and nothing is logged out.
 */
export type PresenceStatus = 'online' | 'reconnecting' | 'offline';

export interface PlayerPresence {
  userId: string;
  status: PresenceStatus;
  username: string;
  /** Node of the most recent login. */
  nodeId: string;
  /** Live connections per node (empty when offline). */
  nodes: Record<string, number>;
  /** Live connections in the whole cluster. */
  sessions: number;
  epoch: number;
  logicalSessionId: string;
  /** ms since epoch: start of the current (or last) logical session. */
  connectedAt: number;
  /** ms since epoch: last heartbeat known to the store (flushed at most once per interval). */
  lastHeartbeat: number;
  /** ms since epoch, set when the logical session ended. */
  logoutTime?: number;
  logoutReason?: string;
  /** ms since epoch: while `reconnecting`, when the logout happens unless the user returns. */
  graceUntil?: number;
}

export interface LoginInput {
  userId: string;
  username: string;
  nodeId: string;
  /** Used as the logical session id when this login starts a new logical session. */
  candidateLogicalSessionId: string;
  now: number;
  /**
   * Unique id of this connection (e.g. the gateway's session id). When given here *and* to the
   * matching `endSession`, ending the same connection twice is recognised (stale) instead of
   * taking another connection's count. Pass it on both calls or on neither.
   */
  connectionId?: string;
}

export interface LoginResult {
  epoch: number;
  logicalSessionId: string;
  /** True when the user was offline: a new logical session (and PlayerSession row) starts. */
  newLogicalSession: boolean;
  /** Live connections in the cluster including this one. */
  sessions: number;
  /** Connections per node before this login (for the replace policy across nodes). */
  previousNodes: Record<string, number>;
  /**
   * True when the store saw, in the same step as the login, that the user has no offline
   * messages (their session's replay need not read the queue); absent when it cannot tell.
   * Saves a round trip on every login (~9 % of a login's CPU on Redis, --cpu-prof this stop).
   */
  offlineQueueEmpty?: boolean;
}

export interface EndSessionInput {
  userId: string;
  nodeId: string;
  /** The logical session the ending connection belongs to (from its LoginResult). */
  logicalSessionId: string;
  reason: string;
  now: number;
  /** The id given to `login` for this connection (see `LoginInput.connectionId`). */
  connectionId?: string;
  /**
   * When this is the user's last connection: wait this long before logging out (status
   * `reconnecting`), so a reconnect resumes the logical session. 0 or absent: log out now.
   */
  graceMs?: number;
}

export interface EndSessionResult {
  /** The logical session id no longer matched: nothing changed. */
  stale: boolean;
  /** The last connection ended: the user is now offline and a LogoutRecord was queued. */
  loggedOut: boolean;
  /** The last connection ended with a grace period: `reconnecting` until this time (ms). */
  graceUntil?: number;
  /** Connections left in the cluster. */
  sessions: number;
  record?: LogoutRecord;
}

export interface ForceLogoutInput {
  userId: string;
  reason: string;
  now: number;
}

export interface ForceLogoutResult {
  /** False when the user was not online (idempotent second call). */
  loggedOut: boolean;
  /** Nodes that held connections, so they can be told to close them. */
  nodes: Record<string, number>;
  record?: LogoutRecord;
}

export interface ListOnlineOptions {
  /** 1..1000 */
  limit: number;
  /** Opaque cursor from a previous page; undefined = first page. */
  cursor?: string;
  /** Only players with a live connection on this node. */
  nodeId?: string;
  /**
   * Only players whose userId starts with this (case-sensitive; USER_ID_PREFIX_PATTERN of
   * online-paging.ts, RangeError otherwise; empty = everyone). The walk covers just that range
   * of the index, so a page costs the same as without a prefix and the exactly-once rule holds
   * within it. Keep it unchanged while following a cursor (a cursor before the range starts at
   * the range, one past it ends the iteration).
   */
  prefix?: string;
}

export interface OnlinePage {
  players: PlayerPresence[];
  /** Undefined when the iteration is complete. */
  nextCursor?: string;
}

export interface PresenceStore {
  /** Registers one new connection of a user on a node. Atomic. */
  login(input: LoginInput): Promise<LoginResult>;

  /**
   * Ends one connection. CAS on the logical session id; decrements the node's count; at zero
   * marks the user offline and queues the LogoutRecord. Atomic.
   */
  endSession(input: EndSessionInput): Promise<EndSessionResult>;

  /**
   * Ends many connections at once (the heartbeat timeouts of one watchdog tick), each exactly
   * as `endSession` would and atomic on its own, in one round trip on Redis: a burst of 1,000
   * separate calls cost one socket write each, 150 ms of the node's event loop before the last
   * one left. Results in input order; an end that failed is an Error in its place (the others
   * still applied). Rejects only when nothing could be sent (the store is unreachable).
   */
  endSessions(inputs: readonly EndSessionInput[]): Promise<Array<EndSessionResult | Error>>;

  /** Ends the user's logical session regardless of connection count (REST logout, kick). */
  forceLogout(input: ForceLogoutInput): Promise<ForceLogoutResult>;

  /**
   * Writes lastHeartbeat for many users of one node in one round trip (a single command on
   * Redis), never one command per user or per ping.
   */
  flushHeartbeats(nodeId: string, beats: ReadonlyMap<string, number>): Promise<void>;

  /**
   * One player, online or offline; null if the store has never seen them, or has forgotten them
   * (offline for PRESENCE_OFFLINE_TTL_S since their logout was acked: LogoutOutbox.ackPendingLogouts).
   */
  getPlayer(userId: string): Promise<PlayerPresence | null>;

  /**
   * Online players in userId order, paged by an opaque cursor. A player online for the whole
   * paging run appears exactly once; a page may hold fewer than `limit` when a filter applies.
   */
  listOnline(options: ListOnlineOptions): Promise<OnlinePage>;

  /**
   * Number of online users in the cluster; with `prefix` (as in `ListOnlineOptions`), of those
   * whose userId starts with it, counted from the index range without reading the players.
   */
  countOnline(prefix?: string): Promise<number>;

  /**
   * Logs out up to `limit` users whose grace period ended by `now` without a reconnect: offline,
   * stamped with the time their last connection ended (not `now`), LogoutRecord queued. Atomic
   * per user; any node may run it; a user who reconnected meanwhile is skipped.
   */
  expireGrace(now: number, limit: number): Promise<LogoutRecord[]>;

  /** Throws when the store is unreachable (readiness probe). */
  ping(): Promise<void>;
}
