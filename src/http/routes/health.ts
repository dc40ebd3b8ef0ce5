/**
 * Liveness and readiness. Ready means: the database and the online store answer within a
 * second and this node is not draining; otherwise 503 naming what failed. On a Redis Cluster the
 * online store is ok when the cluster serves every slot and every primary answers, and the
 * answer says which primary is not (`redisCluster`).
 */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { Cluster } from 'ioredis';
import { redisClusterHealth, type RedisClusterHealth } from '../../stores/redis/cluster-health.ts';
import { BucketLayout } from '../../stores/redis/buckets.ts';
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
    redisCluster: Type.Optional(
      Type.Object(
        {
          state: Type.Union([Type.Literal('ok'), Type.Literal('fail')], { description: 'ok when the cluster serves every slot and every primary answered' }),
          slotsOk: Type.Integer({ description: "CLUSTER INFO's cluster_slots_ok: 16384 when every slot is served", examples: [16384] }),
          shards: Type.Array(
            Type.Object({
              primary: Type.String({ description: 'host:port of the primary', examples: ['10.0.0.11:6379'] }),
              up: Type.Boolean({ description: 'It answered PING within the probe timeout' }),
              buckets: Type.Integer({ description: 'Buckets of the deployment (REDIS_BUCKETS) whose slot it serves' }),
            }),
            { description: 'One entry per primary' },
          ),
        },
        { description: 'Only on a Redis Cluster (REDIS_CLUSTER_NODES): the cluster as this node sees it' },
      ),
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

  const layout = new BucketLayout(app.config.REDIS_BUCKETS);
  const ready = async (_request: unknown, reply: import('fastify').FastifyReply) => {
    const redis = app.redis;
    const clusterProbe: Promise<RedisClusterHealth | undefined> =
      redis instanceof Cluster ? redisClusterHealth(redis, layout, CHECK_TIMEOUT_MS).catch(() => undefined) : Promise.resolve(undefined);
    const [database, storePing, redisCluster] = await Promise.all([probe(() => app.players.ping()), probe(() => app.presence.ping()), clusterProbe]);
    const onlineStore = redis instanceof Cluster && redisCluster?.state !== 'ok' ? ('unreachable' as const) : storePing;
    const gateway = app.gateway.draining ? ('draining' as const) : ('ok' as const);
    const ok = database === 'ok' && onlineStore === 'ok' && gateway === 'ok';
    if (!ok) reply.code(503).header('retry-after', '2');
    return {
      status: ok ? ('ok' as const) : ('unavailable' as const),
      nodeId: app.config.NODE_ID,
      version: PACKAGE_VERSION,
      checks: { database, onlineStore, gateway },
      ...(redisCluster ? { redisCluster } : {}),
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
