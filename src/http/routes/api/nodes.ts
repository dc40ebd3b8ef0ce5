/**
 * GET /api/nodes: the gateway nodes holding a lease in the online store, with the age of each
 * lease, so an operator (and the admin dashboard) sees which nodes are alive, late or dead.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { GatewayErrors } from '../../../errors.ts';
import { NODE_ID_PATTERN } from '../../../protocol/ids.ts';
import { leaseStatus, type LeaseStatus } from '../../../cluster/node-liveness.ts';
import { authErrors, bearerSecurity, unavailableError } from './schemas.ts';

const EXAMPLE_TIME = 1763800000000;

const NodeEntry = Type.Object(
  {
    nodeId: Type.String({ pattern: NODE_ID_PATTERN, description: 'The gateway node', examples: ['gw-1'] }),
    lastRenewal: Type.Integer({ minimum: 0, description: 'Last renewal of its lease, ms since the Unix epoch', examples: [EXAMPLE_TIME] }),
    leaseAgeMs: Type.Integer({
      minimum: 0,
      description: "Milliseconds since that renewal, on the answering node's clock (a live node renews every NODE_LEASE_INTERVAL_MS)",
      examples: [420],
    }),
    status: Type.Union([Type.Literal('alive'), Type.Literal('late'), Type.Literal('dead')], {
      description:
        'alive: renewed within two lease intervals; late: older than that but within NODE_DEAD_AFTER_MS; dead: older than NODE_DEAD_AFTER_MS (its players are being logged out with node_lost)',
      examples: ['alive'],
    }),
    self: Type.Boolean({ description: 'true for the node answering this request', examples: [true] }),
  },
  { description: 'One node lease', additionalProperties: false },
);

export const NodesList = Type.Object(
  {
    nodeId: Type.String({ description: 'The node answering this request', examples: ['gw-1'] }),
    now: Type.Integer({ minimum: 0, description: "The answering node's clock, ms since the Unix epoch", examples: [EXAMPLE_TIME + 420] }),
    leaseIntervalMs: Type.Integer({ minimum: 1, description: 'NODE_LEASE_INTERVAL_MS of the answering node', examples: [1000] }),
    deadAfterMs: Type.Integer({ minimum: 1, description: 'NODE_DEAD_AFTER_MS of the answering node', examples: [5000] }),
    nodes: Type.Array(NodeEntry, { description: 'Every lease in the online store, by nodeId' }),
  },
  {
    description: 'The gateway nodes of the cluster',
    additionalProperties: false,
    examples: [
      {
        nodeId: 'gw-1',
        now: EXAMPLE_TIME + 420,
        leaseIntervalMs: 1000,
        deadAfterMs: 5000,
        nodes: [
          { nodeId: 'gw-1', lastRenewal: EXAMPLE_TIME, leaseAgeMs: 420, status: 'alive', self: true },
          { nodeId: 'gw-2', lastRenewal: EXAMPLE_TIME - 200, leaseAgeMs: 620, status: 'alive', self: false },
        ],
      },
    ],
  },
);
type NodesList = Static<typeof NodesList>;

export { leaseStatus, type LeaseStatus };

const nodesRoutes: FastifyPluginAsync = async (app) => {
  app.get<{ Reply: NodesList }>(
    '/api/nodes',
    {
      onRequest: app.requireAdmin,
      schema: {
        tags: ['stats'],
        summary: 'List the gateway nodes',
        description:
          'The nodes holding a lease in the online store (server:nodes) with the age of their lease. ' +
          'A node that stopped renewing turns late, then dead after NODE_DEAD_AFTER_MS, when a live node reaps its players. Admin token only.',
        security: bearerSecurity,
        response: { 200: NodesList, ...authErrors, 503: unavailableError },
      },
    },
    async (request) => {
      const { config } = app;
      let leases;
      try {
        leases = await app.nodeRegistry.listNodes();
      } catch (error) {
        request.log.warn({ err: (error as Error).message }, 'online store unavailable');
        throw new GatewayErrors.Unavailable('online store unavailable, try again later');
      }
      const now = app.now();
      const nodes = [...leases]
        .sort((a, b) => (a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : 0))
        .map((lease) => {
          const leaseAgeMs = Math.max(0, Math.round(now - lease.lastRenewal));
          const status = leaseStatus(leaseAgeMs, config.NODE_LEASE_INTERVAL_MS, config.NODE_DEAD_AFTER_MS);
          return { nodeId: lease.nodeId, lastRenewal: lease.lastRenewal, leaseAgeMs, status, self: lease.nodeId === config.NODE_ID };
        });
      return {
        nodeId: config.NODE_ID,
        now,
        leaseIntervalMs: config.NODE_LEASE_INTERVAL_MS,
        deadAfterMs: config.NODE_DEAD_AFTER_MS,
        nodes,
      };
    },
  );
};

export default nodesRoutes;
