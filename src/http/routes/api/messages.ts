/**
 * POST /api/users/:userId/messages: a server push to one user. Delivered to every live session
 * of the user on every node (exactly once each), or, while the user is offline, stored in their
 * offline queue and replayed at their next connection. Admin only.
 */
import createError from '@fastify/error';
import type { FastifyPluginAsync } from 'fastify';
import { GatewayErrors } from '../../../errors.ts';
import { authErrors, bearerSecurity, errorResponse, PlayerParams, PushBody, UserPushResult } from './schemas.ts';

/** The user is offline and the offline queue is off (OFFLINE_QUEUE_MAX=0). */
const UserOffline = createError('GW_USER_OFFLINE', '%s', 409);

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
          'While the user is offline it is kept in their offline queue (newest OFFLINE_QUEUE_MAX, for OFFLINE_QUEUE_TTL_S) and replayed, marked `"offline": true`, when they connect again. ' +
          'The answer says what became of it: `delivered` only when a live session took it (`sessions` counts those that did, `dropped` those whose send queue was full); ' +
          "`dropped` when none did; `unconfirmed` when the user's node did not confirm in time. Admin token only.",
        security: bearerSecurity,
        params: PlayerParams,
        body: PushBody,
        response: {
          200: UserPushResult,
          400: errorResponse('GW_VALIDATION (bad userId, no content) or GW_TOO_LARGE (content over MAX_CONTENT_BYTES)'),
          ...authErrors,
          409: errorResponse('GW_USER_OFFLINE: the user is offline and the offline queue is off (OFFLINE_QUEUE_MAX=0)'),
          503: errorResponse("GW_UNAVAILABLE: the user's node, the bus or the online store cannot be reached (retry)"),
        },
      },
    },
    async (request) => {
      const { content } = request.body;
      if (Buffer.byteLength(JSON.stringify(content)) > app.config.MAX_CONTENT_BYTES) {
        throw new GatewayErrors.TooLarge(`content is over MAX_CONTENT_BYTES (${app.config.MAX_CONTENT_BYTES})`);
      }
      const { userId } = request.params;
      const { id, status, sessions, dropped } = await app.gateway.pushToUser(userId, content);
      if (status === 'offline') throw new UserOffline(`user ${userId} is offline and the offline queue is off`);
      if (status === 'unavailable') throw new GatewayErrors.Unavailable("the user's node or the online store cannot be reached, try again");
      // Counted only for a live delivery: a queued message reached no session yet.
      return status === 'queued' ? { id, status } : { id, status, sessions, dropped };
    },
  );
};

export default messageRoutes;
