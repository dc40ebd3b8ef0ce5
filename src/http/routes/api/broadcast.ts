/**
 * POST /api/broadcast: a server push to every session of the cluster, each exactly once
 * (this node delivers locally, every other node gets one bus message). Admin only.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { GatewayErrors } from '../../../errors.ts';
import { authErrors, bearerSecurity, errorResponse } from './schemas.ts';
import { assertPushContent, PUSH_CONTENT_ERRORS } from './push-content.ts';

const BroadcastBody = Type.Object(
  {
    content: Type.Unknown({
      description:
        'Any JSON value, delivered as `content` of a `{"type":"broadcast"}` frame (at most MAX_CONTENT_BYTES once encoded, nested at most 64 levels, numbers within the doubles)',
      examples: [{ event: 'maintenance', inMinutes: 10 }],
    }),
  },
  { description: 'What to push' },
);
type BroadcastBody = Static<typeof BroadcastBody>;

const BroadcastResult = Type.Object(
  {
    localSessions: Type.Integer({
      minimum: 0,
      description: 'Sessions of the answering node that accepted the frame (other nodes deliver on their own)',
      examples: [1200],
    }),
  },
  { description: 'The broadcast was handed to every node' },
);

const broadcastRoutes: FastifyPluginAsync = async (app) => {
  app.post<{ Body: BroadcastBody }>(
    '/api/broadcast',
    {
      onRequest: app.requireAdmin,
      schema: {
        tags: ['messaging'],
        summary: 'Broadcast to every session',
        description: 'Pushes `{"type":"broadcast","content":...,"ts":...}` to every live session on every node, each exactly once. Admin token only.',
        security: bearerSecurity,
        body: BroadcastBody,
        response: {
          200: BroadcastResult,
          400: errorResponse(`GW_VALIDATION (no content), ${PUSH_CONTENT_ERRORS}`),
          ...authErrors,
          503: errorResponse('GW_UNAVAILABLE: the other nodes cannot be reached (nothing was sent)'),
        },
      },
    },
    async (request) => {
      const { content } = request.body;
      assertPushContent(content, app.config.MAX_CONTENT_BYTES);
      try {
        return await app.gateway.broadcast(content);
      } catch (error) {
        request.log.warn({ err: (error as Error).message }, 'broadcast not sent');
        throw new GatewayErrors.Unavailable('the other nodes cannot be reached, nothing was sent');
      }
    },
  );
};

export default broadcastRoutes;
