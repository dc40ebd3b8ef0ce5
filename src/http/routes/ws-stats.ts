/**
 * GET /ws/stats: the counters of this node for operators (admin token). Computed at request
 * time from the gateway's plain counters and the live sessions; not a hot path.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import { StatsExchange } from '../../cluster/stats-exchange.ts';
import { authErrors, bearerSecurity, ClusterWsStats, errorResponse, StatsQuery, WsStats } from './api/schemas.ts';

/** How long scope=cluster waits for the other nodes. */
const CLUSTER_TIMEOUT_MS = 1000;

/** How long the pending-logout count may take before it is reported as null. */
const STORE_TIMEOUT_MS = 1000;

/** Nearest-rank percentile of an ascending array (0 when empty). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('timeout')), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** This node's numbers (also what it answers to another node's cluster request). */
async function nodeStats(app: FastifyInstance): Promise<WsStats> {
  const { gateway, logoutPipeline } = app;
  const now = app.now();
  const depths: number[] = [];
  for (const session of gateway.connections.sessions()) depths.push(session.queue.depth);
  depths.sort((a, b) => a - b);
  const pendingLogouts = await withTimeout(logoutPipeline.pendingCount(), STORE_TIMEOUT_MS).catch(() => null);
  const { counters } = gateway;
  return {
    nodeId: gateway.nodeId,
    scope: 'node' as const,
    startedAt: gateway.startedAt,
    uptimeSeconds: Math.max(0, (now - gateway.startedAt) / 1000),
    draining: gateway.draining,
    connections: gateway.connections.size,
    users: gateway.connections.userCount,
    connectionsOpened: counters.opened,
    connectionsClosed: counters.closed,
    messagesIn: counters.messagesIn,
    messagesOut: counters.messagesOut,
    framesIn: counters.framesIn,
    droppedMessages: counters.dropped,
    heartbeatTimeouts: gateway.watchdog.timeouts,
    writeTimeouts: gateway.watchdog.writeTimeouts,
    logoutsByReason: Object.fromEntries(logoutPipeline.logoutsByReason),
    pendingLogouts,
    sendQueueDepth: { p50: percentile(depths, 50), p99: percentile(depths, 99), max: depths.at(-1) ?? 0 },
  };
}

const wsStatsRoute: FastifyPluginAsync = async (app) => {
  const exchange = new StatsExchange<WsStats>({ bus: app.bus, nodeId: app.config.NODE_ID, collect: () => nodeStats(app) });
  app.gateway.statsExchange = exchange;

  app.get<{ Querystring: StatsQuery; Reply: WsStats | ClusterWsStats }>(
    '/ws/stats',
    {
      onRequest: app.requireAdmin,
      schema: {
        tags: ['stats'],
        summary: 'Counters of this node, or of the whole cluster',
        description:
          'Connections, users, message counters, drops, heartbeat timeouts, logouts by reason, pending logouts and send-queue depth percentiles of the node answering. ' +
          'Counters start at zero when the node starts. Admin token only.',
        security: bearerSecurity,
        querystring: StatsQuery,
        response: {
          200: Type.Union([WsStats, ClusterWsStats], { description: 'scope=node: this node; scope=cluster: every live node' }),
          400: errorResponse('GW_VALIDATION: unknown scope (the message names the field)'),
          ...authErrors,
        },
      },
    },
    async (request): Promise<WsStats | ClusterWsStats> => {
      if (request.query.scope !== 'cluster') return nodeStats(app);
      const now = app.now();
      const live = await withTimeout(app.nodeRegistry.listNodes(), STORE_TIMEOUT_MS)
        .then((nodes) => nodes.filter((n) => now - n.lastRenewal <= app.config.NODE_DEAD_AFTER_MS).map((n) => n.nodeId))
        .catch(() => null);
      const { nodes, missing } = await exchange.gather(live, CLUSTER_TIMEOUT_MS);
      const all = [...nodes.values()];
      const sum = (key: 'connections' | 'users' | 'messagesIn' | 'messagesOut' | 'droppedMessages' | 'heartbeatTimeouts') =>
        all.reduce((n, s) => n + s[key], 0);
      return {
        scope: 'cluster' as const,
        nodeId: app.gateway.nodeId,
        nodes: all,
        missing,
        totals: {
          connections: sum('connections'),
          users: sum('users'),
          messagesIn: sum('messagesIn'),
          messagesOut: sum('messagesOut'),
          droppedMessages: sum('droppedMessages'),
          heartbeatTimeouts: sum('heartbeatTimeouts'),
        },
      };
    },
  );
};

export default wsStatsRoute;
