/**
 * GET /ws/stats: the counters of this node for operators (admin token). Computed at request
 * time from the gateway's plain counters and the live sessions; not a hot path.
 */
import type { FastifyPluginAsync } from 'fastify';
import { authErrors, bearerSecurity, errorResponse, StatsQuery, WsStats } from './api/schemas.ts';

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

const wsStatsRoute: FastifyPluginAsync = async (app) => {
  app.get<{ Querystring: StatsQuery; Reply: WsStats }>(
    '/ws/stats',
    {
      onRequest: app.requireAdmin,
      schema: {
        tags: ['stats'],
        summary: 'Counters of this node',
        description:
          'Connections, users, message counters, drops, heartbeat timeouts, logouts by reason, pending logouts and send-queue depth percentiles of the node answering. ' +
          'Counters start at zero when the node starts. Admin token only.',
        security: bearerSecurity,
        querystring: StatsQuery,
        response: {
          200: WsStats,
          400: errorResponse('GW_VALIDATION: unknown scope (the message names the field)'),
          ...authErrors,
        },
      },
    },
    async () => {
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
    },
  );
};

export default wsStatsRoute;
