/**
 * POST /api/users/:userId/messages: a server push to one user. Delivered to every live session
 * of the user on every node (exactly once each), or, while the user is offline, stored in their
 * offline queue and replayed at their next connection. Admin only.
 */
import createError from '@fastify/error';
import type { FastifyPluginAsync } from 'fastify';
import { GatewayErrors } from '../../../errors.ts';
import { refusalText } from '../../../delivery/direct-messages.ts';
import { authErrors, bearerSecurity, errorResponse, PlayerParams, PushBody, UserPushResult } from './schemas.ts';
import { assertPushContent, PUSH_CONTENT_ERRORS } from './push-content.ts';

/** The user is offline and the offline queue is off (OFFLINE_QUEUE_MAX=0). */
const UserOffline = createError('GW_USER_OFFLINE', '%s', 409);
/** The user is offline and unknown (never logged in): nothing is queued for them. */
const UnknownUser = createError('GW_UNKNOWN_USER', '%s', 404);
/** The push does not fit the user's server lane at all (over OFFLINE_QUEUE_MAX_BYTES). */
const QuotaExceeded = createError('GW_QUOTA_EXCEEDED', '%s', 429);

const messageRoutes: FastifyPluginAsync = async (app) => {
  app.post<{ Params: PlayerParams; Body: PushBody; Reply: UserPushResult }>(
    '/api/users/:userId/messages',
    {
      onRequest: app.requireAdmin,
      schema: {
        tags: ['messaging'],
        summary: 'Push to a user',
        description:
          'Pushes `{"type":"message","server":true,"content":...,"id":...,"ts":...}` to every live session of the user on every node, each exactly once (no `from`: the server sent it). ' +
          'While the user is offline it is kept in the server lane of their offline queue (the newest OFFLINE_QUEUE_MAX pushes within OFFLINE_QUEUE_MAX_BYTES, for OFFLINE_QUEUE_TTL_S; ' +
          'players\' messages never evict it) and replayed, marked `"offline": true`, when they connect again. Only for a user who ever logged in (otherwise 404). ' +
          'The answer says what became of it: `delivered` only when a live session took it (`sessions` counts those that did, `dropped` those whose send queue was full); ' +
          "`dropped` when none did; `unconfirmed` when the user's node did not confirm in time. Admin token only.",
        security: bearerSecurity,
        params: PlayerParams,
        body: PushBody,
        response: {
          200: UserPushResult,
          400: errorResponse(`GW_VALIDATION (bad userId, no content), ${PUSH_CONTENT_ERRORS}`),
          ...authErrors,
          404: errorResponse('GW_UNKNOWN_USER: the user is offline and unknown (never logged in): nothing was queued'),
          409: errorResponse('GW_USER_OFFLINE: the user is offline and the offline queue is off (OFFLINE_QUEUE_MAX=0)'),
          429: errorResponse('GW_QUOTA_EXCEEDED: the push alone is over OFFLINE_QUEUE_MAX_BYTES, it cannot be queued'),
          503: errorResponse("GW_UNAVAILABLE: the user's node, the bus or the online store cannot be reached (retry)"),
        },
      },
    },
    async (request) => {
      const { content } = request.body;
      assertPushContent(content, app.config.MAX_CONTENT_BYTES);
      const { userId } = request.params;
      const { id, status, sessions, dropped } = await app.gateway.pushToUser(userId, content);
      if (status === 'offline') throw new UserOffline(`user ${userId} is offline and the offline queue is off`);
      if (status === 'unavailable') throw new GatewayErrors.Unavailable("the user's node or the online store cannot be reached, try again");
      if (status === 'unknown_user') throw new UnknownUser(refusalText(status, userId));
      // The server lane evicts its oldest pushes and ignores the sender and cluster quotas: only a
      // push that alone is over OFFLINE_QUEUE_MAX_BYTES is refused.
      if (status !== 'delivered' && status !== 'queued' && status !== 'dropped' && status !== 'unconfirmed') {
        throw new QuotaExceeded(`the push alone is over OFFLINE_QUEUE_MAX_BYTES (${app.config.OFFLINE_QUEUE_MAX_BYTES}): it cannot be queued`);
      }
      // Counted only for a live delivery: a queued message reached no session yet.
      return status === 'queued' ? { id, status } : { id, status, sessions, dropped };
    },
  );
};

export default messageRoutes;
