/**
 * The online-status API used by the admin dashboard and the game backend:
 * - GET  /api/online/players          online players, paged by an opaque cursor, by node or userId prefix (admin)
 * - GET  /api/online/players/:userId  one player's status, online or offline (admin)
 * - POST /api/online/logout           end a player's logical session (admin, or the player)
 * Store or database outages answer 503 GW_UNAVAILABLE, never a 500 with internals.
 */
import type { FastifyBaseLogger, FastifyPluginAsync } from 'fastify';
import { CloseCode } from '../../../protocol/close-codes.ts';
import { USER_ID_PATTERN } from '../../../protocol/ids.ts';
import { GatewayErrors } from '../../../errors.ts';
import { InvalidCursorError } from '../../../presence/online-paging.ts';
import type { PlayerPresence } from '../../../presence/presence-store.ts';
import type { PlayerSessionRow, UserRow } from '../../../presence/player-repository.ts';
import {
  authErrors,
  bearerSecurity,
  DEFAULT_PAGE_LIMIT,
  errorResponse,
  ListPlayersQuery,
  LogoutBody,
  LogoutResult,
  OnlinePlayersPage,
  PlayerParams,
  PlayerStatus,
  unavailableError,
} from './schemas.ts';

type Dependency = 'online store' | 'database';

/** Runs a store or database call; any failure becomes a logged, coded 503. */
async function guarded<T>(log: FastifyBaseLogger, what: Dependency, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof InvalidCursorError || (error as { code?: unknown }).code === 'GW_ERR_INVALID_CURSOR') {
      throw new GatewayErrors.InvalidCursor();
    }
    log.warn({ err: (error as Error).message }, `${what} unavailable`);
    throw new GatewayErrors.Unavailable(`${what} unavailable, try again later`);
  }
}

const time = (date: Date | null | undefined): number | null => (date ? date.getTime() : null);

/** Merges the online store's view (fresher) with the database row (durable). */
function playerStatus(userId: string, presence: PlayerPresence, user: UserRow | null): PlayerStatus {
  // A reconnecting player has not been logged out: the session is live, only its socket is not.
  const online = presence.status === 'online' || presence.status === 'reconnecting';
  return {
    userId,
    username: presence.username,
    status: presence.status,
    graceUntil: presence.graceUntil ?? null,
    nodeId: presence.nodeId,
    sessions: online ? presence.sessions : 0,
    connectedAt: presence.connectedAt,
    lastHeartbeat: presence.lastHeartbeat,
    logoutTime: online ? null : (presence.logoutTime ?? time(user?.lastLogoutAt)),
    logoutReason: online ? null : (presence.logoutReason ?? null),
    lastSpiritGainTime: time(user?.lastSpiritGainTime),
  };
}

/**
 * A player the online store no longer knows (offline longer than PRESENCE_OFFLINE_TTL_S after
 * their logout was written, or a store that lost its data): offline, as the database last
 * recorded them. `last` is their newest PlayerSession row; while it is still open (its logout
 * not written yet) the reason is unknown and the time is the user's last written logout.
 */
function storedStatus(user: UserRow, last: PlayerSessionRow | undefined): PlayerStatus {
  const closed = last?.disconnectedAt ? last : undefined;
  return {
    userId: user.id,
    username: user.username,
    status: 'offline',
    graceUntil: null,
    nodeId: last?.nodeId ?? null,
    sessions: 0,
    connectedAt: time(last?.connectedAt),
    lastHeartbeat: null,
    logoutTime: time(closed?.disconnectedAt ?? user.lastLogoutAt),
    logoutReason: closed?.reason ?? null,
    lastSpiritGainTime: time(user.lastSpiritGainTime),
  };
}

const onlineRoutes: FastifyPluginAsync = async (app) => {
  app.get<{ Querystring: ListPlayersQuery; Reply: OnlinePlayersPage }>(
    '/api/online/players',
    {
      onRequest: app.requireAdmin,
      schema: {
        tags: ['online'],
        summary: 'List online players',
        description:
          'Online players of the whole cluster from the online store, in userId order, one page at a time. Follow `nextCursor` until it is absent. ' +
          'A player online during the whole paging run appears exactly once, however many players connect or leave meanwhile. ' +
          '`prefix` searches by userId prefix across all pages (the admin dashboard search). Admin token only.',
        security: bearerSecurity,
        querystring: ListPlayersQuery,
        response: {
          200: OnlinePlayersPage,
          400: errorResponse('GW_VALIDATION (the message names the field) or GW_INVALID_CURSOR'),
          ...authErrors,
          503: unavailableError,
        },
      },
    },
    async (request) => {
      const { limit = DEFAULT_PAGE_LIMIT, cursor, nodeId, prefix } = request.query;
      const [page, total] = await guarded(request.log, 'online store', () =>
        Promise.all([app.presence.listOnline({ limit, cursor, nodeId, prefix }), app.presence.countOnline(prefix)]),
      );
      const players = page.players.map((p) => ({
        userId: p.userId,
        username: p.username,
        nodeId: p.nodeId,
        status: p.status === 'reconnecting' ? ('reconnecting' as const) : ('online' as const),
        sessions: p.sessions,
        connectedAt: p.connectedAt,
        lastHeartbeat: p.lastHeartbeat,
      }));
      return page.nextCursor === undefined ? { players, total } : { players, nextCursor: page.nextCursor, total };
    },
  );

  app.get<{ Params: PlayerParams; Reply: PlayerStatus }>(
    '/api/online/players/:userId',
    {
      onRequest: app.requireAdmin,
      schema: {
        tags: ['online'],
        summary: "One player's status",
        description:
          'Online or offline status of one player: the online store for presence, the database for `lastSpiritGainTime`. ' +
          'The online store forgets a player PRESENCE_OFFLINE_TTL_S after their logout is written; then the answer comes from the database: ' +
          'offline, with the last logical session (node, start, end, reason) as recorded there. Admin token only.',
        security: bearerSecurity,
        params: PlayerParams,
        response: {
          200: PlayerStatus,
          400: errorResponse(`GW_VALIDATION: userId does not match ${USER_ID_PATTERN}`),
          ...authErrors,
          404: errorResponse('GW_NOT_FOUND: the gateway has never seen this user'),
          503: unavailableError,
        },
      },
    },
    async (request) => {
      const { userId } = request.params;
      const [presence, user] = await Promise.all([
        guarded(request.log, 'online store', () => app.presence.getPlayer(userId)),
        guarded(request.log, 'database', () => app.players.getUser(userId)),
      ]);
      if (presence) return playerStatus(userId, presence, user);
      if (!user) throw new GatewayErrors.NotFound(`user ${userId} has never connected`);
      const [last] = await guarded(request.log, 'database', () => app.players.listSessions(userId, 1));
      return storedStatus(user, last);
    },
  );

  app.post<{ Body: LogoutBody; Reply: LogoutResult }>(
    '/api/online/logout',
    {
      onRequest: app.authenticate,
      preHandler: app.requireAdminOrSelf((request) => (request.body as LogoutBody | undefined)?.userId),
      schema: {
        tags: ['online'],
        summary: 'Log a player out',
        description:
          "Ends the player's logical session exactly like a heartbeat timeout would (reason `logout`: database stamped, online store updated) " +
          'and closes every connection of the player, on every node, with close code 4002. ' +
          "Callable with the admin token for any player, or with a player's own JWT for that player only. " +
          'Idempotent: a repeated call answers `{"loggedOut": false}` with 200.',
        security: bearerSecurity,
        body: LogoutBody,
        response: {
          200: LogoutResult,
          400: errorResponse('GW_VALIDATION: the body is not `{"userId": "..."}` with a well-formed userId (the message names the field)'),
          ...authErrors,
          503: unavailableError,
        },
      },
    },
    async (request) => {
      const { userId } = request.body;
      const result = await guarded(request.log, 'online store', () => app.logoutPipeline.forceLogout(userId, 'logout'));
      // Also when loggedOut is false: covers a connection whose login is still in flight.
      app.gateway.closeUser(userId, CloseCode.LOGGED_OUT, 'logout');
      const others = Object.keys(result.nodes).filter((nodeId) => nodeId !== app.config.NODE_ID);
      const sent = await Promise.allSettled(
        others.map((nodeId) => app.bus.publish(nodeId, { kind: 'logout', userId, code: CloseCode.LOGGED_OUT, reason: 'logout' })),
      );
      sent.forEach((outcome, i) => {
        if (outcome.status === 'rejected') {
          // The logical session has ended anyway; that node's connections stay open until they
          // close by themselves (their end is then a stale no-op).
          request.log.warn({ userId, nodeId: others[i], err: (outcome.reason as Error).message }, 'logout notice not sent');
        }
      });
      request.log.info({ userId, by: request.caller?.kind, loggedOut: result.loggedOut }, 'logout requested');
      return { loggedOut: result.loggedOut };
    },
  );
};

export default onlineRoutes;
