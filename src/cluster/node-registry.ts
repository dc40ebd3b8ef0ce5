/**
 * The node registry: every node's lease, the crash cleanup of a dead node and the re-assertion
 * of a node's sessions after the store lost data. Its operations change presence (reaping logs
 * users out), so its implementations share their backend's state with the presence store
 * (src/stores/*; presence model in presence/presence-store.ts).
 *
 * - Every node holds a lease in `server:nodes` (nodeId -> last renewal, ms), taken by
 *   `registerNode` at startup and renewed periodically. A node whose lease is older than the
 *   configured dead-after delay is dead: a reaper (one at a time, through `Locks.tryLock`) ends
 *   its users' connections with `reapNode`, which logs out (reason `node_lost`) exactly the users
 *   left with no connection anywhere.
 * - Fencing: every registration gives the lease a new *generation*. The first reap step of a
 *   dead node marks its generation fenced, and a renewal of a fenced (or superseded) generation
 *   is refused (`fenced`): a process that was only frozen, stalled or cut off from the store
 *   learns that it was reaped, registers anew (which finishes the reaping of whatever the
 *   reaper left) and tells its clients to reconnect, instead of serving sessions that were
 *   logged out. A lease that is simply missing (the store lost its data) is not fenced: the node
 *   re-asserts its sessions.
 * - Every time given to the registry is on the cluster clock (cluster/cluster-clock.ts): Redis
 *   server time in a cluster, so nodes with wrong wall clocks compare leases correctly.
 * - After Redis lost its data, each node re-asserts its live sessions with `reassert`; whatever
 *   the store still holds wins (another logical session, or an ended one): those connections are
 *   reported stale for the node to close. Epochs cannot order sessions across an empty restart
 *   (they restart at 1), so they are never used for that.
 */
import type { LogoutRecord } from '../presence/logout-outbox.ts';

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
  /** The generation of the new lease: pass it to every `renewLease`. */
  generation: string;
}

export interface RenewLeaseResult {
  /**
   * The lease's generation was fenced by a reaper, or the id was registered by another process:
   * nothing was renewed. Register again (a new generation) and drop the local sessions.
   */
  fenced: boolean;
  /** The lease before this call (ms), or null when there was none. */
  previous: number | null;
  /**
   * With `lapseAfterMs`: the last time a renewal of this node found its previous lease missing
   * or older than that (this one included), or null when none ever did. Kept in the store, so a
   * node learns of a lapse whichever of its renewers saw it.
   */
  lapsedAt?: number | null;
}

export interface ReapResult {
  /** Users taken offline by this batch (reason `node_lost`, logoutAt = `at`, nodeId = the dead node). */
  records: LogoutRecord[];
  /**
   * Users still to reap on the node; 0 when done (or when the node turned out alive). A store
   * split into buckets sums each bucket's count as the batch passed it: with reapers racing it may
   * count users another reaper took meanwhile, never fewer than are left.
   */
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

/**
 * A logical session whose last connection on the re-asserting node ended while this node still
 * waits for its logout (its grace period, or the check of an end the store answered as stale).
 */
export interface ReassertGrace {
  userId: string;
  username: string;
  logicalSessionId: string;
  epoch: number;
  connectedAt: number;
  /** When the last connection ended (the logout's stamp) and why. */
  endedAt: number;
  endReason: string;
  /** When the grace period ends (= `endedAt` when there was none: the logout is due at once). */
  graceUntil: number;
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

export interface NodeRegistry {
  /**
   * Takes the lease of `nodeId` at startup (sets it to `now`). Throws `NodeIdInUseError` when the
   * id has a lease newer than `now - deadAfterMs` (another process runs with it). When a dead
   * previous holder left users behind they are reaped first (as `reapNode`, at = its last lease)
   * and returned for logging: the new process never adopts them. Atomic per user, in batches of
   * 500 users (Redis: one round trip for an id with nothing to reap, two per batch otherwise); the
   * lease is set with the last batch.
   * Call it once: a retry after an ambiguous failure may find its own, live lease.
   */
  registerNode(nodeId: string, now: number, deadAfterMs: number): Promise<RegisterNodeResult>;

  /**
   * Sets the node's lease to `now`, unless `generation` was fenced by a reaper or another process
   * registered the id since (`fenced`, nothing changes). Otherwise returns the previous lease, or
   * null when there was none: null (the store lost its data, or the node was removed) or a
   * previous lease older than the dead-after delay (a reaper may have ended some of its users)
   * means: call `reassert`. A generation the store does not know (data lost) is adopted.
   */
  renewLease(nodeId: string, now: number, generation: string, lapseAfterMs?: number): Promise<RenewLeaseResult>;

  /** Every node lease, oldest renewal first (ties by nodeId). */
  listNodes(): Promise<NodeLease[]>;

  /**
   * Graceful shutdown, after the node's sessions ended: drops its lease and heartbeats. Returns
   * false, changing nothing, while users are still recorded on the node: the lease then expires
   * and a reaper ends them, rather than leaving them online under a node nobody watches.
   */
  removeNode(nodeId: string): Promise<boolean>;

  /**
   * One batch of the crash cleanup of a dead node. Takes up to `limit` users off the node's
   * players set (racing reapers get disjoint batches; Redis claims them first, and a claim left by
   * a reaper that stopped mid-batch is taken again after a while) and, atomically per user,
   * removes that node's connections from each (its `nodes` entry and its heartbeat); a user left with no connection goes offline exactly as with `endSession` (reason
   * `node_lost`, logoutTime = logoutAt = `at`) and their LogoutRecord is queued. A user still
   * connected elsewhere (including after reconnecting since the crash) keeps their session.
   * Only what the node's count holds is subtracted, so reapers racing, or a repeated batch, never
   * decrement or queue twice. When no user is left the node's heartbeats and lease are removed.
   *
   * `at` should be the node's `lastRenewal` as read from `listNodes` (the last moment it was known
   * alive): a node whose lease is newer than `at` renewed since, and is left alone (`alive`).
   * Otherwise the node's lease generation is fenced before anything is reaped.
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

  /**
   * The other half of what a node holds: the logical sessions it saw end and still waits to see
   * logged out (`ReassertGrace`). A store that lost data lost their pending grace with it, and
   * nobody would ever expire them; once a node crashed, not even the node would write their
   * logout. Per user: only where the store does not know the logical session (no record, or
   * offline in an older logical session with a lower epoch, as `reassert` judges) it is recreated
   * `reconnecting` until `graceUntil`, with its end's stamp, reason and node, so that any node's
   * `expireGrace` logs it out (and a reconnect within the grace resumes it). Anything else is
   * left untouched. Returns how many were recreated. One atomic round trip per 500 entries.
   */
  reassertGraces(nodeId: string, graces: ReadonlyArray<ReassertGrace>): Promise<number>;

  /**
   * The other half of a re-assertion: ends the node's share of every user the store records on
   * it but the node does not hold (`holds(userId)` false, asked just before each batch is sent).
   * A store that went back in time (restored from an older snapshot, a promoted replica behind
   * the primary) brings back users who had left; without this they would stay online forever.
   * Atomically per user, as `reapNode` does: only what the node's count holds is removed; a user
   * left with no connection goes offline (reason `node_lost`, logoutAt = `at`) and their
   * LogoutRecord is queued; a user connected elsewhere keeps their session. The lease is not
   * touched. Returns the logouts; batches of 500 users per round trip.
   */
  releaseAbsent(nodeId: string, at: number, holds: (userId: string) => boolean): Promise<LogoutRecord[]>;
}
