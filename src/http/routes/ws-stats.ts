/**
 * GET /ws/stats: the counters of this node (gateway/node-stats.ts), or of every live node
 * gathered over the bus (the gateway plugin's StatsExchange), for operators (admin token).
 */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { collectNodeStats } from '../../gateway/node-stats.ts';
import { liveNodeIds } from '../../cluster/node-liveness.ts';
import { withTimeout } from '../../util/promise-timeout.ts';
import { authErrors, bearerSecurity, ClusterWsStats, errorResponse, StatsQuery, WsStats } from './api/schemas.ts';

/** How long scope=cluster waits for the other nodes. */
const CLUSTER_TIMEOUT_MS = 1000;

/** How long listing the live nodes may take before every other node counts as unknown. */
const STORE_TIMEOUT_MS = 1000;

const wsStatsRoute: FastifyPluginAsync = async (app) => {
  const { statsExchange: exchange } = app;

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
      if (request.query.scope !== 'cluster') return collectNodeStats(app.gateway, app.logoutPipeline, app.now());
      const now = app.now();
      const live = await withTimeout(app.nodeRegistry.listNodes(), STORE_TIMEOUT_MS)
        .then((nodes) => liveNodeIds(nodes, now, app.config.NODE_DEAD_AFTER_MS))
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
