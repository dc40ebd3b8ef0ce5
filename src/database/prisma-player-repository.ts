/**
 * `PlayerRepository` over Prisma, for PGlite and PostgreSQL alike. The writes are raw SQL
 * because they need what Prisma's query API cannot express in one statement: upserts whose
 * update keeps the greater timestamp, and a batch of logouts written in a single round trip.
 * Reads use the typed client. Table and column names are those of prisma/schema.prisma; the
 * raw statements are unqualified and rely on the connection's search_path for the schema.
 */
import type { PrismaClient } from '../generated/prisma/client.ts';
import type { LogoutRecord } from '../presence/logout-outbox.ts';
import type { LoginWrite, OpenSessionRow, PlayerRepository, PlayerSessionRow, UserRow } from '../presence/player-repository.ts';

/*
 * One statement for the whole batch, whatever its size: the records arrive as eight parallel
 * arrays and are turned back into rows by unnest. Foreign keys are checked at the end of the
 * statement, so sessions may reference users inserted by the sibling CTE.
 * - users: the latest logout of each user in the batch; timestamps only ever move forward.
 * - player_sessions: the first logout of each session in the batch (ON CONFLICT cannot touch a
 *   row twice in one statement); an existing row is closed only if it is still open, so a
 *   retried write never overwrites the original disconnected_at / reason.
 */
const RECORD_LOGOUTS = `
WITH input AS (
  SELECT *
  FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[],
              $6::timestamptz[], $7::timestamptz[], $8::text[])
    AS r(user_id, username, session_id, node_id, epoch, connected_at, logout_at, reason)
),
latest AS (
  SELECT DISTINCT ON (user_id) user_id, username, logout_at
  FROM input
  ORDER BY user_id, logout_at DESC
),
upsert_users AS (
  INSERT INTO users AS u (id, username, last_spirit_gain_time, last_logout_at)
  SELECT user_id, username, logout_at, logout_at FROM latest
  ON CONFLICT (id) DO UPDATE SET
    last_spirit_gain_time = GREATEST(u.last_spirit_gain_time, EXCLUDED.last_spirit_gain_time),
    last_logout_at = GREATEST(u.last_logout_at, EXCLUDED.last_logout_at),
    updated_at = now()
  WHERE u.last_spirit_gain_time IS NULL OR u.last_spirit_gain_time < EXCLUDED.last_spirit_gain_time
     OR u.last_logout_at IS NULL OR u.last_logout_at < EXCLUDED.last_logout_at
)
INSERT INTO player_sessions AS s (id, user_id, node_id, epoch, connected_at, disconnected_at, reason)
SELECT DISTINCT ON (session_id) session_id, user_id, node_id, epoch, connected_at, logout_at, reason
FROM input
ORDER BY session_id, logout_at
ON CONFLICT (id) DO UPDATE SET
  disconnected_at = EXCLUDED.disconnected_at,
  reason = EXCLUDED.reason
WHERE s.disconnected_at IS NULL`;

/*
 * The logins of a batch as six parallel arrays (session columns NULL for a login that joined an
 * open logical session). Users: created, or refreshed with the latest login of each; only rows
 * that change are updated (the WHERE of DO UPDATE), so a replay leaves updated_at alone too:
 * "idempotent" means the second write is invisible, not merely harmless. Sessions: inserted
 * once; they may reference users inserted by the sibling CTE (foreign keys are checked at the
 * end of the statement).
 */
const RECORD_LOGINS = `
WITH input AS (
  SELECT *
  FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[], $5::text[], $6::bigint[])
    AS r(user_id, username, login_at, session_id, node_id, epoch)
),
latest AS (
  SELECT DISTINCT ON (user_id) user_id, username, login_at
  FROM input
  ORDER BY user_id, login_at DESC
),
upsert_users AS (
  INSERT INTO users AS u (id, username, last_login_at)
  SELECT user_id, username, login_at FROM latest
  ON CONFLICT (id) DO UPDATE SET
    username = EXCLUDED.username,
    last_login_at = GREATEST(u.last_login_at, EXCLUDED.last_login_at),
    updated_at = now()
  WHERE u.username IS DISTINCT FROM EXCLUDED.username
     OR u.last_login_at IS NULL
     OR u.last_login_at < EXCLUDED.last_login_at
)
INSERT INTO player_sessions (id, user_id, node_id, epoch, connected_at)
SELECT DISTINCT ON (session_id) session_id, user_id, node_id, epoch, login_at
FROM input
WHERE session_id IS NOT NULL
ORDER BY session_id, login_at
ON CONFLICT (id) DO NOTHING`;

interface RawSessionFields {
  id: string;
  userId: string;
  nodeId: string;
  epoch: bigint;
  connectedAt: Date;
  disconnectedAt: Date | null;
  reason: string | null;
}

/** Prisma-backed repository. It does not own the client: `close()` leaves it to the Database. */
export class PrismaPlayerRepository implements PlayerRepository {
  constructor(private readonly prisma: PrismaClient) {}

  async recordLogins(logins: readonly LoginWrite[]): Promise<void> {
    if (logins.length === 0) return;
    const n = logins.length;
    const userIds = new Array<string>(n);
    const usernames = new Array<string>(n);
    const loginAt = new Array<Date>(n);
    const sessionIds = new Array<string | null>(n);
    const nodeIds = new Array<string | null>(n);
    const epochs = new Array<number | null>(n);
    logins.forEach((l, i) => {
      userIds[i] = l.userId;
      usernames[i] = l.username;
      loginAt[i] = new Date(l.loginAt);
      sessionIds[i] = l.session?.id ?? null;
      nodeIds[i] = l.session?.nodeId ?? null;
      epochs[i] = l.session?.epoch ?? null;
    });
    await this.prisma.$executeRawUnsafe(RECORD_LOGINS, userIds, usernames, loginAt, sessionIds, nodeIds, epochs);
  }

  async recordLogouts(records: readonly LogoutRecord[]): Promise<void> {
    if (records.length === 0) return;
    const n = records.length;
    const userIds = new Array<string>(n);
    const usernames = new Array<string>(n);
    const sessionIds = new Array<string>(n);
    const nodeIds = new Array<string>(n);
    const epochs = new Array<number>(n);
    const connectedAt = new Array<Date>(n);
    const logoutAt = new Array<Date>(n);
    const reasons = new Array<string>(n);
    records.forEach((r, i) => {
      userIds[i] = r.userId;
      usernames[i] = r.username;
      sessionIds[i] = r.logicalSessionId;
      nodeIds[i] = r.nodeId;
      epochs[i] = r.epoch;
      connectedAt[i] = new Date(r.connectedAt);
      logoutAt[i] = new Date(r.logoutAt);
      reasons[i] = r.reason;
    });
    await this.prisma.$executeRawUnsafe(RECORD_LOGOUTS, userIds, usernames, sessionIds, nodeIds, epochs, connectedAt, logoutAt, reasons);
  }

  async listOpenSessions(nodeId: string, limit: number): Promise<OpenSessionRow[]> {
    const rows = await this.prisma.$queryRawUnsafe<
      Array<{ id: string; user_id: string; username: string; node_id: string; epoch: bigint; connected_at: Date }>
    >(
      `SELECT s.id, s.user_id, u.username, s.node_id, s.epoch, s.connected_at
       FROM player_sessions s JOIN users u ON u.id = s.user_id
       WHERE s.node_id = $1 AND s.disconnected_at IS NULL
       ORDER BY s.connected_at, s.id
       LIMIT $2`,
      nodeId,
      Math.max(0, Math.floor(limit)),
    );
    return rows.map((row) => ({
      logicalSessionId: row.id,
      userId: row.user_id,
      username: row.username,
      nodeId: row.node_id,
      epoch: Number(row.epoch),
      connectedAt: row.connected_at.getTime(),
    }));
  }

  async findClosedSessions(ids: readonly string[]): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    const rows = await this.prisma.$queryRawUnsafe<Array<{ id: string }>>(
      'SELECT id FROM player_sessions WHERE id = ANY($1::text[]) AND disconnected_at IS NOT NULL',
      [...ids],
    );
    return new Set(rows.map((r) => r.id));
  }

  async getUser(userId: string): Promise<UserRow | null> {
    const user = await this.prisma.user.findUnique({ where: { id: userId } });
    if (!user) return null;
    return {
      id: user.id,
      username: user.username,
      lastSpiritGainTime: user.lastSpiritGainTime,
      lastLoginAt: user.lastLoginAt,
      lastLogoutAt: user.lastLogoutAt,
      createdAt: user.createdAt,
      updatedAt: user.updatedAt,
    };
  }

  async existingUsers(userIds: readonly string[]): Promise<Set<string>> {
    if (userIds.length === 0) return new Set();
    const rows = await this.prisma.$queryRawUnsafe<Array<{ id: string }>>('SELECT id FROM users WHERE id = ANY($1::text[])', [...userIds]);
    return new Set(rows.map((r) => r.id));
  }

  /** Newest sessions first (by connectedAt, then id), at most `limit`. */
  async listSessions(userId: string, limit: number): Promise<PlayerSessionRow[]> {
    const rows: RawSessionFields[] = await this.prisma.playerSession.findMany({
      where: { userId },
      orderBy: [{ connectedAt: 'desc' }, { id: 'desc' }],
      take: Math.max(0, Math.floor(limit)),
    });
    return rows.map((row) => ({
      id: row.id,
      userId: row.userId,
      nodeId: row.nodeId,
      // Epochs count logins of one user: far below 2^53, so a number is exact.
      epoch: Number(row.epoch),
      connectedAt: row.connectedAt,
      disconnectedAt: row.disconnectedAt,
      reason: row.reason,
    }));
  }

  async ping(): Promise<void> {
    await this.prisma.$queryRawUnsafe('SELECT 1');
  }

  /** No-op: the PrismaClient belongs to the `Database` that created it, which closes it. */
  async close(): Promise<void> {}
}
