/**
 * GET /api/stats/history: this node's connections and the cluster's online players over the
 * last hour, one point every STATS_HISTORY_INTERVAL_MS (src/metrics/history.ts). The admin
 * dashboard draws its chart from it.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { authErrors, bearerSecurity } from './schemas.ts';

const EXAMPLE_TIME = 1763800000000;

const HistoryPoint = Type.Object(
  {
    t: Type.Integer({ minimum: 0, description: 'Time of the sample, ms since the Unix epoch', examples: [EXAMPLE_TIME] }),
    connections: Type.Integer({ minimum: 0, description: 'Live WebSocket connections on this node', examples: [1200] }),
    onlineUsers: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()], {
      description: 'Players online in the whole cluster; null when the online store did not answer',
      examples: [2500],
    }),
  },
  { description: 'One sample', additionalProperties: false },
);

export const StatsHistoryBody = Type.Object(
  {
    nodeId: Type.String({ description: 'The node answering (each node keeps its own series)', examples: ['gw-1'] }),
    intervalMs: Type.Integer({ minimum: 1, description: 'Sampling interval (STATS_HISTORY_INTERVAL_MS)', examples: [10000] }),
    points: Type.Array(HistoryPoint, { description: 'Samples of the last hour, oldest first (empty right after the start)' }),
  },
  {
    description: 'Recent history of this node',
    additionalProperties: false,
    examples: [
      {
        nodeId: 'gw-1',
        intervalMs: 10000,
        points: [
          { t: EXAMPLE_TIME, connections: 1190, onlineUsers: 2480 },
          { t: EXAMPLE_TIME + 10000, connections: 1200, onlineUsers: 2500 },
        ],
      },
    ],
  },
);
type StatsHistoryBody = Static<typeof StatsHistoryBody>;

const statsHistoryRoutes: FastifyPluginAsync = async (app) => {
  app.get<{ Reply: StatsHistoryBody }>(
    '/api/stats/history',
    {
      onRequest: app.requireAdmin,
      schema: {
        tags: ['stats'],
        summary: 'Connections and online players of the last hour',
        description:
          "A small in-memory time series of the answering node: its connections and the cluster's online players every STATS_HISTORY_INTERVAL_MS (10 s), the last hour kept. " +
          'Lost when the node restarts; Prometheus (/metrics) keeps the long-term history. Admin token only.',
        security: bearerSecurity,
        response: { 200: StatsHistoryBody, ...authErrors },
      },
    },
    async () => ({ nodeId: app.config.NODE_ID, intervalMs: app.statsHistory.intervalMs, points: app.statsHistory.points() }),
  );
};

export default statsHistoryRoutes;
