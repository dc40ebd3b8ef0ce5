/**
 * The logout outbox: the durable queue of logouts still to be written to the database. The
 * presence store appends to it in the same atomic step that takes a user offline
 * (presence-store.ts); the logout pipeline claims, writes, and acks or retries.
 */

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

export interface PendingLogout {
  /** Opaque handle for ack / retry. */
  id: string;
  record: LogoutRecord;
  attempts: number;
}

/**
 * What an ack needs of a written logout: its id, and whose presence entry may now expire (a
 * `PendingLogout` is one). The user and the logout's node name the store entries to collect.
 */
export interface WrittenLogout {
  id: string;
  record: Pick<LogoutRecord, 'userId' | 'nodeId'>;
}

export interface LogoutOutbox {
  /**
   * Takes up to `limit` due pending logouts and hides them for `leaseMs` (after which, if not
   * acked, they become due again: a crashed writer loses nothing).
   */
  claimPendingLogouts(limit: number, now: number, leaseMs: number): Promise<PendingLogout[]>;

  /**
   * Removes written logouts from the queue. Their logout is now in the database, so the
   * presence entry of each user still offline in that logical session starts to expire: it is
   * removed PRESENCE_OFFLINE_TTL_S later unless the user logs in again (login cancels it). A
   * user who logged in again since that logout (another logical session, or online) is left
   * alone. Unknown ids are ignored.
   */
  ackPendingLogouts(written: readonly WrittenLogout[]): Promise<void>;

  /** Puts logouts back, due at `retryAt`, with attempts incremented. */
  retryPendingLogouts(ids: readonly string[], retryAt: number): Promise<void>;

  /** Pending logouts not yet acked (due or leased). */
  countPendingLogouts(): Promise<number>;
}
