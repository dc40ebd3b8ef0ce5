/**
 * Liveness and readiness. Ready means: the database and the online store answer within a
 * second and this node is not draining; otherwise 503 naming what failed.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { withTimeout } from '../../util/promise-timeout.ts';
import { PACKAGE_VERSION } from '../../version.ts';

// Generous enough for embedded PGlite on a busy 2-core machine, short enough for a probe.
const CHECK_TIMEOUT_MS = 2000;

const Check = (description: string) =>
  Type.Union([Type.Literal('ok'), Type.Literal('unreachable'), Type.Literal('draining')], { description, examples: ['ok'] });
const ReadyBody = Type.Object(
  {
    status: Type.Union([Type.Literal('ok'), Type.Literal('unavailable')], { description: 'ok when every check is ok', examples: ['ok'] }),
    nodeId: Type.String({ description: 'This gateway node', examples: ['gw-1'] }),
    version: Type.String({ description: 'Gatehouse version this node runs', examples: ['0.1.0'] }),
    checks: Type.Object(
      {
        database: Check('The database answered a ping within a second (ok) or not (unreachable)'),
        onlineStore: Check('The online store (Redis or in-process) answered a ping within a second (ok) or not (unreachable)'),
        gateway: Check('draining while this node shuts down, ok otherwise'),
      },
      { description: 'One result per dependency' },
    ),
  },
  {
    description: 'Readiness of this node',
    examples: [{ status: 'ok', nodeId: 'gw-1', version: '0.1.0', checks: { database: 'ok', onlineStore: 'ok', gateway: 'ok' } }],
  },
);

async function probe(fn: () => Promise<void>): Promise<'ok' | 'unreachable'> {
  try {
    await withTimeout(fn(), CHECK_TIMEOUT_MS);
    return 'ok';
  } catch {
    return 'unreachable';
  }
}

const healthRoutes: FastifyPluginAsync = async (app) => {
  app.get(
    '/health/live',
    {
      schema: {
        tags: ['health'],
        summary: 'The process is up',
        response: { 200: Type.Object({ status: Type.Literal('ok', { description: 'Always ok: the process answers HTTP' }) }, { description: 'Alive' }) },
      },
    },
    async () => ({ status: 'ok' as const }),
  );

  const ready = async (_request: unknown, reply: import('fastify').FastifyReply) => {
    const [database, onlineStore] = await Promise.all([probe(() => app.players.ping()), probe(() => app.presence.ping())]);
    const gateway = app.gateway.draining ? ('draining' as const) : ('ok' as const);
    const ok = database === 'ok' && onlineStore === 'ok' && gateway === 'ok';
    if (!ok) reply.code(503).header('retry-after', '2');
    return {
      status: ok ? ('ok' as const) : ('unavailable' as const),
      nodeId: app.config.NODE_ID,
      version: PACKAGE_VERSION,
      checks: { database, onlineStore, gateway },
    };
  };
  const readySchema = {
    tags: ['health'],
    response: { 200: ReadyBody, 503: ReadyBody },
  };
  app.get('/health/ready', { schema: { ...readySchema, summary: 'Database and online store reachable, not draining' } }, ready);
  app.get('/health', { schema: { ...readySchema, summary: 'Alias of /health/ready' } }, ready);
};

export default healthRoutes;
