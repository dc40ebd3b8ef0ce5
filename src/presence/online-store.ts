/**
 * The online store: who is online, on which node, since when, and the durable queue of logouts
 * still to be written to the database. Two implementations share this contract (and one test
 * suite): `MemoryOnlineStore` (one process, no setup) and `RedisOnlineStore` (a cluster).
 *
 * Model (Redis keys in ARCHITECTURE.md; the memory store mirrors it):
 * - A user's *logical session* runs from their first live connection anywhere in the cluster
 *   until their last one ends. It has an id (`logicalSessionId`, also the PlayerSession row id).
 * - Every login increments the user's `epoch`. Session ends are compare-and-set on the logical
 *   session id, so a late close of a connection whose logical session already ended (kicked,
 *   reaped, logged out by REST) changes nothing and never logs out a newer login.
 * - Connections are counted per node (`nodes`), so a dead node's share can be subtracted.
 * - When the count reaches zero the user goes offline (status, logoutTime, removed from the
 *   online set) and a `LogoutRecord` is appended to the pending-logout queue *in the same atomic
 *   step*: a crash between "offline" and "written to the database" cannot lose the logout.
 *
 * Cluster (see the node methods of `OnlineStore`):
 * - Every node holds a lease in `server:nodes` (nodeId -> last renewal, ms), taken by
 *   `registerNode` at startup and renewed periodically. A node whose lease is older than the
 *   configured dead-after delay is dead: a reaper (one at a time, through `tryLock`) ends its
 *   users' connections with `reapNode`, which logs out (reason `node_lost`) exactly the users
 *   left with no connection anywhere.
 * - After Redis lost its data, each node re-asserts its live sessions with `reassert`; whatever
 *   the store still holds wins (another logical session, or an ended one): those connections are
 *   reported stale for the node to close. Epochs cannot order sessions across an empty restart
 *   (they restart at 1), so they are never used for that.
 * - Optional connection ids (`LoginInput.connectionId` / `EndSessionInput.connectionId`) make a
 *   repeated end of the same connection harmless; without them the per-node count alone decides.
 */

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

/** Everything the database write of one logout needs (it is idempotent per logicalSessionId). */
export interface LogoutRecord {
  userId: string;
  username: string;
  logicalSessionId: string;
  nodeId: string;
  epoch: number;
  connectedAt: number;
  logoutAt: number;
  reason: string;
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

export interface PendingLogout {
  /** Opaque handle for ack / retry. */
  id: string;
  record: LogoutRecord;
  attempts: number;
}

/** Thrown by `registerNode` while another live node holds the id. */
export class NodeIdInUseError extends Error {
  readonly code = 'GW_NODE_ID_IN_USE';
  constructor(readonly nodeId: string) {
    super(`NODE_ID ${nodeId} is already used by a live node`);
    this.name = 'NodeIdInUseError';
  }
}

export interface NodeLease {
  nodeId: string;
  /** ms since epoch: the last `registerNode` / `renewLease` / `reassert` of the node. */
  lastRenewal: number;
}

export interface RegisterNodeResult {
  /**
   * Logouts of the users a dead previous holder of the id left behind (reason `node_lost`,
   * logoutAt = its last lease), reaped by this call so the new process never adopts them.
   */
  reaped: LogoutRecord[];
}

export interface ReapResult {
  /** Users taken offline by this batch (reason `node_lost`, logoutAt = `at`, nodeId = the dead node). */
  records: LogoutRecord[];
  /** Users still to reap on the node; 0 when done (or when the node turned out alive). */
  remaining: number;
  /** The node's lease is newer than `at` (it renewed or registered again): nothing was reaped. */
  alive: boolean;
}

/** One user's live connections on the re-asserting node. */
export interface ReassertSession {
  userId: string;
  username: string;
  logicalSessionId: string;
  /** The highest epoch among the node's connections of the user (their LoginResult.epoch). */
  epoch: number;
  connectedAt: number;
  /** Live connections of the user on this node (>= 1). */
  connections: number;
  /** Their connection ids when the node tracks them (`LoginInput.connectionId`); length = connections. */
  connectionIds?: readonly string[];
}

export interface ReassertResult {
  /** Users whose presence was recreated or corrected. */
  restored: number;
  /**
   * Users the store knows a different logical session for, or whose session already ended
   * (kicked, reaped): left untouched; the node should close these connections. No LogoutRecord
   * is queued for them: when the store had lost the session (it came back empty and the user
   * logged in anew), that session's logout is for the node to write (the write is idempotent).
   */
  stale: string[];
}

export interface OnlineStore {
  /** Registers one new connection of a user on a node. Atomic. */
  login(input: LoginInput): Promise<LoginResult>;

  /**
   * Ends one connection. CAS on the logical session id; decrements the node's count; at zero
   * marks the user offline and queues the LogoutRecord. Atomic.
   */
  endSession(input: EndSessionInput): Promise<EndSessionResult>;

  /** Ends the user's logical session regardless of connection count (REST logout, kick). */
  forceLogout(input: ForceLogoutInput): Promise<ForceLogoutResult>;

  /**
   * Writes lastHeartbeat for many users of one node in one round trip (a single command on
   * Redis), never one command per user or per ping.
   */
  flushHeartbeats(nodeId: string, beats: ReadonlyMap<string, number>): Promise<void>;

  /** One player, online or offline; null if the store has never seen them. */
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
   * Takes up to `limit` due pending logouts and hides them for `leaseMs` (after which, if not
   * acked, they become due again: a crashed writer loses nothing).
   */
  claimPendingLogouts(limit: number, now: number, leaseMs: number): Promise<PendingLogout[]>;

  /** Removes written logouts from the queue. */
  ackPendingLogouts(ids: readonly string[]): Promise<void>;

  /** Puts logouts back, due at `retryAt`, with attempts incremented. */
  retryPendingLogouts(ids: readonly string[], retryAt: number): Promise<void>;

  /** Pending logouts not yet acked (due or leased). */
  countPendingLogouts(): Promise<number>;

  /**
   * Logs out up to `limit` users whose grace period ended by `now` without a reconnect: offline,
   * stamped with the time their last connection ended (not `now`), LogoutRecord queued. Atomic
   * per user; any node may run it; a user who reconnected meanwhile is skipped.
   */
  expireGrace(now: number, limit: number): Promise<LogoutRecord[]>;

  /**
   * Takes the lease of `nodeId` at startup (sets it to `now`). Throws `NodeIdInUseError` when the
   * id has a lease newer than `now - deadAfterMs` (another process runs with it). When a dead
   * previous holder left users behind they are reaped first (as `reapNode`, at = its last lease)
   * and returned for logging: the new process never adopts them. Atomic per batch of users (one
   * round trip when the previous holder left at most 500); the lease is set with the last batch.
   * Call it once: a retry after an ambiguous failure may find its own, live lease.
   */
  registerNode(nodeId: string, now: number, deadAfterMs: number): Promise<RegisterNodeResult>;

  /**
   * Sets the node's lease to `now`. Returns the previous lease, or null when there was none. Null
   * (the store lost its data, or the node was reaped or removed) or a previous lease older than
   * the dead-after delay (a reaper may have ended some of its users) means: call `reassert`.
   */
  renewLease(nodeId: string, now: number): Promise<number | null>;

  /** Every node lease, oldest renewal first (ties by nodeId). */
  listNodes(): Promise<NodeLease[]>;

  /**
   * Graceful shutdown, after the node's sessions ended: drops its lease and heartbeats. Returns
   * false, changing nothing, while users are still recorded on the node: the lease then expires
   * and a reaper ends them, rather than leaving them online under a node nobody watches.
   */
  removeNode(nodeId: string): Promise<boolean>;

  /**
   * Takes the named lock for `owner` until `now + ttlMs`, or extends it when `owner` already
   * holds it. False while another owner holds an unexpired lock. Expiry is judged on `now`
   * (callers' clocks: keep ttlMs well above clock skew); an exclusion aid for idempotent work such
   * as reaping, not a fencing token.
   */
  tryLock(name: string, owner: string, ttlMs: number, now: number): Promise<boolean>;

  /** Releases the lock if `owner` holds it (expired or not); returns whether it did. */
  unlock(name: string, owner: string): Promise<boolean>;

  /**
   * One batch of the crash cleanup of a dead node. Atomic: takes up to `limit` users off the
   * node's players set and removes that node's connections from each (its `nodes` entry and its
   * heartbeat); a user left with no connection goes offline exactly as with `endSession` (reason
   * `node_lost`, logoutTime = logoutAt = `at`) and their LogoutRecord is queued. A user still
   * connected elsewhere (including after reconnecting since the crash) keeps their session.
   * Only what the node's count holds is subtracted, so reapers racing, or a repeated batch, never
   * decrement or queue twice. When no user is left the node's heartbeats and lease are removed.
   *
   * `at` should be the node's `lastRenewal` as read from `listNodes` (the last moment it was known
   * alive): a node whose lease is newer than `at` renewed since, and is left alone (`alive`).
   * Call again while `remaining > 0`.
   */
  reapNode(deadNodeId: string, at: number, limit: number): Promise<ReapResult>;

  /**
   * Re-asserts a node's live sessions after the store lost data (Redis restarted empty or from an
   * older snapshot) or after `renewLease` reported a missing or expired lease. Per user: an
   * unknown user's logical session is recreated online from the node's data; for the same
   * logical session, still online, the node's own count is set to `connections` (the cluster
   * count moves by the difference); anything else (a different logical session, or this one
   * already ended) is left untouched and reported `stale`. Epochs never move backwards. Also sets
   * the node's lease to `now`. One atomic round trip per 500 sessions.
   */
  reassert(nodeId: string, now: number, sessions: ReadonlyArray<ReassertSession>): Promise<ReassertResult>;

  /** Throws when the store is unreachable (readiness probe). */
  ping(): Promise<void>;

  close(): Promise<void>;
}
