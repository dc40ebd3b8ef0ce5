/**
 * What the gateway needs from the database: users and their logical sessions. Every write is
 * idempotent (upserts keyed by user id / logical session id, timestamps never move backwards),
 * so a logout retried after a database outage lands exactly as if it had landed the first time.
 */
import type { LogoutRecord } from './logout-outbox.ts';

export interface UserRow {
  id: string;
  username: string;
  lastSpiritGainTime: Date | null;
  lastLoginAt: Date | null;
  lastLogoutAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface PlayerSessionRow {
  id: string;
  userId: string;
  nodeId: string;
  epoch: number;
  connectedAt: Date;
  disconnectedAt: Date | null;
  reason: string | null;
}

/** An open logical session as recorded in the database. */
export interface OpenSessionRow {
  logicalSessionId: string;
  userId: string;
  username: string;
  nodeId: string;
  epoch: number;
  connectedAt: number;
}

/** A login to record: the user row always, the PlayerSession row when it opened a logical session. */
export interface LoginWrite {
  userId: string;
  username: string;
  loginAt: number;
  /** The logical session this login opened (absent: it joined one already open). */
  session?: { id: string; nodeId: string; epoch: number };
}

export interface PlayerRepository {
  /**
   * Many logins in one round trip (a reconnect storm after a restart is thousands at once):
   * every user created or refreshed (username, last_login_at, never moved backwards), and the
   * PlayerSession rows of the logical sessions they opened (no-op for existing ones).
   */
  recordLogins(logins: readonly LoginWrite[]): Promise<void>;

  /**
   * Writes many logouts in one round trip: users.last_spirit_gain_time and last_logout_at
   * (never moved backwards), and the PlayerSession row closed with disconnected_at and reason
   * (created if the login's write never landed). Idempotent per logicalSessionId.
   */
  recordLogouts(records: readonly LogoutRecord[]): Promise<void>;

  /**
   * Up to `limit` PlayerSession rows of `nodeId` still open (no logout written), oldest first,
   * as the logouts they would become. Crash recovery of a node without Redis: what its previous
   * run left open never got a logout.
   */
  listOpenSessions(nodeId: string, limit: number): Promise<OpenSessionRow[]>;

  /** Of these logical session ids, the ones whose PlayerSession row is closed (logout written). */
  findClosedSessions(ids: readonly string[]): Promise<Set<string>>;

  getUser(userId: string): Promise<UserRow | null>;

  /**
   * Of these user ids, the ones with a user row (every user who ever logged in has one): the
   * offline queue takes messages only for users the gateway knows. One indexed query per call,
   * whatever the number of ids.
   */
  existingUsers(userIds: readonly string[]): Promise<Set<string>>;

  listSessions(userId: string, limit: number): Promise<PlayerSessionRow[]>;

  /** Throws when the database is unreachable (readiness probe). */
  ping(): Promise<void>;

  close(): Promise<void>;
}
