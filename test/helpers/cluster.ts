/**
 * A cluster of real gateway processes (src/server.ts) on port 0, sharing the suite's own
 * PostgreSQL schema and Redis key prefix. Nodes can be killed (-9), stopped and added.
 */
import type { Test } from 'tap';
import { createSigner } from 'fast-jwt';
import { startServer, type ServerProcess } from './server-process.ts';
import { Cluster, Redis } from 'ioredis';
import { RedisKeys } from '../../src/stores/redis/keys.ts';
import type { RedisClient } from '../../src/stores/redis/scripts.ts';
import { clusterNodes, TEST_REDIS_CLUSTER_NODES, testPostgres, testRedis, testRedisCluster, uniqueName } from './services.ts';
import { TEST_ADMIN_TOKEN, TEST_JWT_SECRET } from './build.ts';

export interface ClusterNode extends ServerProcess {
  nodeId: string;
  wsUrl: string;
  baseUrl: string;
}

export interface TestCluster {
  nodes: ClusterNode[];
  env: Record<string, string>;
  prefix: string;
  schema: string;
  /** Starts one more node with the shared settings (plus `extra`). */
  addNode(nodeId: string, extra?: Record<string, string>): Promise<ClusterNode>;
  /** SIGTERM a node (drain), wait for its exit, start it again with the same id and port. */
  restartNode(node: ClusterNode): Promise<ClusterNode>;
  /** A player token. */
  token(userId: string): string;
  /** `/ws?token=` URL of a node for a user. */
  wsUrl(node: ClusterNode, userId: string): string;
  /** An admin REST call against a node. */
  admin(node: ClusterNode, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }>;
  /** The nodes' key names (their prefix and buckets). */
  keys: RedisKeys;
  /** A client of the nodes' Redis or Redis Cluster, connected, closed at teardown. */
  redis(): Promise<RedisClient>;
  /** Subscribers of a node or room channel (PUBSUB NUMSUB; on a cluster SHARDNUMSUB on every primary). */
  channelSubscribers(channel: string): Promise<number>;
}

/**
 * Where the nodes keep their online state: the test Redis, the test Redis Cluster, or a Redis
 * Cluster of the test's own (private-redis-cluster.ts) by its seed nodes.
 */
export type ClusterStore = 'redis' | 'redis-cluster' | { clusterNodes: string };

/** Buckets of a gateway cluster on the Redis Cluster: a few per primary, as production's 64 would be. */
export const GATEWAY_CLUSTER_BUCKETS = 8;

/** The Redis settings of the nodes, on a fresh key prefix; null when the service is missing (skipped). */
async function redisEnv(t: Test, store: ClusterStore): Promise<{ env: Record<string, string>; prefix: string } | null> {
  if (store === 'redis') {
    const redisInfo = await testRedis(t);
    return redisInfo && { env: { REDIS_URL: redisInfo.url, REDIS_KEY_PREFIX: redisInfo.prefix }, prefix: redisInfo.prefix };
  }
  const clusterInfo = typeof store === 'object' ? { prefix: `${uniqueName('ghtest')}:` } : await testRedisCluster(t);
  return (
    clusterInfo && {
      env: {
        REDIS_URL: 'redis://127.0.0.1',
        REDIS_CLUSTER_NODES: typeof store === 'object' ? store.clusterNodes : TEST_REDIS_CLUSTER_NODES,
        REDIS_BUCKETS: String(GATEWAY_CLUSTER_BUCKETS),
        REDIS_KEY_PREFIX: clusterInfo.prefix,
      },
      prefix: clusterInfo.prefix,
    }
  );
}

export async function startCluster(t: Test, nodeIds: string[], extra: Record<string, string> = {}, store: ClusterStore = 'redis'): Promise<TestCluster | null> {
  const pgInfo = await testPostgres(t);
  if (!pgInfo) return null;
  const redisInfo = await redisEnv(t, store);
  if (!redisInfo) return null;
  const env: Record<string, string> = {
    DATABASE_URL: pgInfo.url,
    DATABASE_SCHEMA: pgInfo.schema,
    ...redisInfo.env,
    AUTH_JWT_SECRET: TEST_JWT_SECRET,
    ADMIN_TOKEN: TEST_ADMIN_TOKEN,
    LOG_LEVEL: 'info',
    LOGOUT_GRACE_MS: '0',
    // Suites open hundreds of connections at once to set a scene; admission control
    // (MAX_PENDING_LOGINS, MAX_EVENT_LOOP_LAG_MS) has its own suite, test/ws/login-admission.test.ts.
    MAX_PENDING_LOGINS: '100000',
    MAX_EVENT_LOOP_LAG_MS: '0',
    // Several node processes on a busy 2-core test machine: a receipt seconds late is load, not
    // what these suites test; a cross-node ack stays `delivered` (test/ws/acks.test.ts tests the
    // timeout itself).
    DELIVERY_RECEIPT_TIMEOUT_MS: '10000',
    ...extra,
  };
  const sign = createSigner({ key: TEST_JWT_SECRET, expiresIn: 3_600_000 });
  const nodes: ClusterNode[] = [];
  const addNode = async (nodeId: string, more: Record<string, string> = {}) => {
    const server = await startServer({ ...env, NODE_ID: nodeId, ...more });
    t.teardown(() => server.stop('SIGKILL'));
    const node: ClusterNode = Object.assign(server, {
      nodeId,
      wsUrl: `ws://127.0.0.1:${server.port}`,
      baseUrl: `http://127.0.0.1:${server.port}`,
    });
    nodes.push(node);
    return node;
  };
  // The first node migrates; the others start together (the migrator's lock is exercised too).
  if (nodeIds.length > 0) await addNode(nodeIds[0]!);
  await Promise.all(nodeIds.slice(1).map((id) => addNode(id)));
  // Started together, they registered in finishing order: keep the caller's order.
  nodes.sort((a, b) => nodeIds.indexOf(a.nodeId) - nodeIds.indexOf(b.nodeId));
  const restartNode = async (node: ClusterNode) => {
    const { code } = await node.stop('SIGTERM');
    if (code !== 0) throw new Error(`${node.nodeId} exited with ${code}`);
    nodes.splice(nodes.indexOf(node), 1);
    return addNode(node.nodeId, { PORT: String(node.port) });
  };
  const redis = async (): Promise<RedisClient> => {
    const client = env.REDIS_CLUSTER_NODES
      ? new Cluster(clusterNodes(env.REDIS_CLUSTER_NODES), { lazyConnect: true })
      : new Redis(env.REDIS_URL!, { lazyConnect: true });
    t.teardown(() => client.quit().catch(() => client.disconnect()));
    await client.connect();
    return client;
  };
  let spy: RedisClient | undefined;
  const channelSubscribers = async (channel: string) => {
    spy ??= await redis();
    if (!(spy instanceof Cluster)) return Number(((await spy.pubsub('NUMSUB', channel)) as [string, number])[1]);
    const counts = await Promise.all(spy.nodes('master').map(async (node) => Number(((await node.pubsub('SHARDNUMSUB', channel)) as [string, number])[1])));
    return counts.reduce((sum, n) => sum + n, 0);
  };
  return {
    nodes,
    env,
    keys: new RedisKeys(redisInfo.prefix, Number(env.REDIS_BUCKETS ?? 1)),
    redis,
    channelSubscribers,
    prefix: redisInfo.prefix,
    schema: pgInfo.schema,
    addNode,
    restartNode,
    token: (userId) => sign({ sub: userId }),
    wsUrl: (node, userId) => `${node.wsUrl}/ws?token=${sign({ sub: userId })}`,
    async admin(node, method, path, body) {
      const res = await fetch(`${node.baseUrl}${path}`, {
        method,
        headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, ...(body ? { 'content-type': 'application/json' } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      });
      return { status: res.status, body: await res.json().catch(() => null) };
    },
  };
}
