/**
 * GET /metrics: the Prometheus text exposition of this node (src/metrics/). Readable with the
 * METRICS_TOKEN (a scraper's credential that opens nothing else) or the ADMIN_TOKEN, as
 * `Authorization: Bearer <token>`; 401 without a valid token, 403 for a player token.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { authErrors, bearerSecurity } from './api/schemas.ts';

function bearerToken(request: FastifyRequest): string | undefined {
  const match = /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? '');
  return match?.[1];
}

/** Constant-time whatever the lengths (both sides hashed first). */
function sameSecret(given: string, expected: string): boolean {
  return timingSafeEqual(createHash('sha256').update(given).digest(), createHash('sha256').update(expected).digest());
}

const EXAMPLE = [
  '# HELP gatehouse_connections Live WebSocket connections on this node',
  '# TYPE gatehouse_connections gauge',
  'gatehouse_connections 1200',
  '',
  '# HELP gatehouse_sessions_closed_total WebSocket sessions ended on this node, by close code',
  '# TYPE gatehouse_sessions_closed_total counter',
  'gatehouse_sessions_closed_total{code="1000"} 3900',
  'gatehouse_sessions_closed_total{code="4000"} 17',
  '',
].join('\n');

const metricsRoute: FastifyPluginAsync = async (app) => {
  const metricsToken = app.config.METRICS_TOKEN;

  async function metricsAccess(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const token = bearerToken(request);
    if (metricsToken && token && sameSecret(token, metricsToken)) return;
    await app.requireAdmin.call(app, request, reply);
  }

  app.get(
    '/metrics',
    {
      onRequest: metricsAccess,
      schema: {
        tags: ['stats'],
        summary: 'Prometheus metrics of this node',
        description:
          'Prometheus text exposition format 0.0.4 of the node answering: connections, online users, sessions opened and closed by close code, ' +
          'frames in and out by type, dropped messages, send-queue depth and WebSocket ping round-trip histograms, heartbeat timeouts, ' +
          'logouts by reason, pending logouts, logout latency (session end to database row), online-store and database call latency by method, ' +
          'bus messages, lease age, node info (node_id, version), and the Node.js process metrics (event-loop lag, heap, GC, CPU). ' +
          'Metric names start with `gatehouse_` (process metrics: `process_`, `nodejs_`). ' +
          '`Authorization: Bearer` with the METRICS_TOKEN (reads this route only) or the ADMIN_TOKEN.',
        security: bearerSecurity,
        produces: ['text/plain'],
        response: {
          200: {
            description: 'The exposition, `Content-Type: text/plain; version=0.0.4; charset=utf-8`',
            content: {
              'text/plain': {
                schema: Type.String({ description: 'Prometheus text exposition format 0.0.4', examples: [EXAMPLE] }),
              },
            },
          },
          ...authErrors,
        },
      },
    },
    async (_request, reply) => {
      const body = await app.metrics.render();
      return reply.type(app.metrics.contentType).header('cache-control', 'no-store').send(body);
    },
  );
};

export default metricsRoute;
