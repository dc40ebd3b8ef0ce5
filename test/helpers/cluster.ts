/**
 * A cluster of real gateway processes (src/server.ts) on port 0, sharing the suite's own
 * PostgreSQL schema and Redis key prefix. Nodes can be killed (-9), stopped and added.
 */
import type { Test } from 'tap';
import { createSigner } from 'fast-jwt';
import { startServer, type ServerProcess } from './server-process.ts';
import { testPostgres, testRedis } from './services.ts';
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
}

export async function startCluster(t: Test, nodeIds: string[], extra: Record<string, string> = {}): Promise<TestCluster | null> {
  const pgInfo = await testPostgres(t);
  if (!pgInfo) return null;
  const redisInfo = await testRedis(t);
  if (!redisInfo) return null;
  const env: Record<string, string> = {
    DATABASE_URL: pgInfo.url,
    DATABASE_SCHEMA: pgInfo.schema,
    REDIS_URL: redisInfo.url,
    REDIS_KEY_PREFIX: redisInfo.prefix,
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
  return {
    nodes,
    env,
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
