/**
 * The OpenAPI 3.1 document, generated from the routes' TypeBox schemas (@fastify/swagger), and
 * Swagger UI at /docs (JSON at /docs/json). Registered before the routes so it sees them all.
 * The document is deterministic (no node id, host or time in it): `npm run openapi` writes it
 * to openapi/openapi.json and a test fails when that file drifts from the routes.
 */
import fp from 'fastify-plugin';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { Type } from '@sinclair/typebox';
import { errorResponse, sharedSchemas } from '../routes/api/schemas.ts';
import { USER_ID_PATTERN } from '../../protocol/ids.ts';
import { PACKAGE_DESCRIPTION, PACKAGE_VERSION } from '../../version.ts';

/** /ws is a WebSocket upgrade with no schema of its own: this describes it for the document only. */
const wsHandshakeDoc = {
  tags: ['websocket'],
  summary: 'Open a WebSocket session',
  description:
    'Upgrades to a WebSocket speaking the Gatehouse wire protocol v1 (JSON text frames: ping/pong, message, join/leave, room; see docs/protocol.md). ' +
    'Identity is decided before the upgrade, so a refused handshake gets a plain HTTP answer with the error body. ' +
    'AUTH_MODE=jwt (default when AUTH_JWT_SECRET is set): a player JWT (HS256, `sub` = userId, optional `name`, `exp` checked) in `?token=` or `Authorization: Bearer`. ' +
    'AUTH_MODE=none (development only): `?userId=` without a token. ' +
    'The first frame after the upgrade is `{"type":"connected","sessionId":...,"userId":...,"nodeId":...,"heartbeat":{"intervalMs":1000,"timeoutMs":10000},"serverTime":...}`; ' +
    'the client then pings every intervalMs, and a session silent for timeoutMs is closed with 4000 and logged out.',
  security: [{ bearerAuth: [] }, {}],
  querystring: Type.Object({
    token: Type.Optional(
      Type.String({
        description: 'Player JWT (AUTH_MODE=jwt), instead of the Authorization header',
        examples: ['eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2ln'],
      }),
    ),
    userId: Type.Optional(Type.String({ pattern: USER_ID_PATTERN, description: 'The player (AUTH_MODE=none only)', examples: ['alice'] })),
    name: Type.Optional(Type.String({ maxLength: 64, description: 'Display name (AUTH_MODE=none only; default: the userId)', examples: ['Alice'] })),
  }),
  response: {
    101: Type.Null({ description: 'Switching Protocols: the WebSocket is open and the `connected` frame follows' }),
    400: errorResponse(`GW_BAD_USER_ID: the userId (or the JWT \`sub\`) does not match ${USER_ID_PATTERN}`),
    401: errorResponse('GW_UNAUTHORIZED: no token, or a malformed, expired or wrongly signed one (or no `userId` with AUTH_MODE=none)'),
    503: errorResponse(
      'GW_DRAINING (node shutting down), GW_FULL (node at MAX_CONNECTIONS) or GW_BUSY (MAX_PENDING_LOGINS logins in flight: a reconnect storm); retry after `Retry-After` seconds (1-4 for GW_BUSY, spread), possibly on another node',
    ),
  },
};

export default fp(
  async (app) => {
    for (const schema of sharedSchemas) app.addSchema(schema);

    await app.register(swagger, {
      openapi: {
        openapi: '3.1.0',
        info: {
          title: 'Gatehouse',
          version: PACKAGE_VERSION,
          description:
            `${PACKAGE_DESCRIPTION}\n\n` +
            'Every error answer has the body `{statusCode, code, error, message}` with a stable `GW_...` code; 5xx answers never carry internals, ' +
            'and 503 answers carry a `Retry-After` header. Timestamps are integers in milliseconds since the Unix epoch.',
        },
        tags: [
          { name: 'online', description: 'Online status of players (admin dashboard, game backend)' },
          { name: 'stats', description: 'Counters of a gateway node' },
          { name: 'health', description: 'Liveness and readiness probes (no authentication)' },
          { name: 'websocket', description: 'The WebSocket endpoint of game and chat clients' },
          { name: 'chat', description: 'Persistent groups and the stored history of conversations (groups and direct messages)' },
        ],
        components: {
          securitySchemes: {
            bearerAuth: {
              type: 'http',
              scheme: 'bearer',
              description:
                '`Authorization: Bearer <token>`: the ADMIN_TOKEN for the admin routes (compared in constant time), ' +
                'or a player JWT (HS256, `sub` = userId) where a player may act for themself (POST /api/online/logout) and on /ws.',
            },
          },
        },
      },
      refResolver: {
        // Shared schemas keep their $id as component name: #/components/schemas/ErrorBody.
        buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`),
      },
      // @fastify/websocket hides WebSocket routes from the document; /ws gets its description
      // here instead, which changes nothing about how the route validates or answers.
      transform: ({ schema, url, route }) => {
        if (url === '/ws' && (route as { websocket?: boolean }).websocket) return { schema: wsHandshakeDoc as never, url };
        return { schema, url };
      },
    });

    await app.register(swaggerUi, {
      routePrefix: '/docs',
      uiConfig: { docExpansion: 'list', deepLinking: true, persistAuthorization: false },
    });
  },
  { name: 'swagger', dependencies: ['config'] },
);
