/**
 * The dashboard's two admin routes: GET /api/nodes (the leases of the cluster's nodes with their
 * age) and GET /api/stats/history (this node's connections and the cluster's online players,
 * sampled). Auth like every admin route; two nodes sharing real Redis + PostgreSQL see each other.
 */
import t, { type Test } from 'tap';
import { backendEnv, buildTestApp, eventually, TEST_ADMIN_TOKEN, type TestApp } from '../helpers/build.ts';
import { TestClient } from '../helpers/ws-client.ts';
import { call, errorShape } from '../api/http.ts';
import { leaseStatus } from '../../src/http/routes/api/nodes.ts';

const ADMIN = TEST_ADMIN_TOKEN;

interface NodesBody {
  nodeId: string;
  now: number;
  leaseIntervalMs: number;
  deadAfterMs: number;
  nodes: Array<{ nodeId: string; lastRenewal: number; leaseAgeMs: number; status: string; self: boolean }>;
}
interface HistoryBody {
  nodeId: string;
  intervalMs: number;
  points: Array<{ t: number; connections: number; onlineUsers: number | null }>;
}

async function checkAuth(t: Test, h: TestApp, url: string) {
  for (const authorization of [undefined, 'Bearer nope-nope-nope-nope', `Bearer ${ADMIN}x`]) {
    const r = await call(h, 'GET', url, authorization === undefined ? {} : { authorization });
    t.equal(r.status, 401, `${url} with ${authorization ?? 'no header'}: 401`);
    t.match(r.body, errorShape(401, 'GW_UNAUTHORIZED'));
  }
  const r = await call(h, 'GET', url, { token: h.token('alice') });
  t.equal(r.status, 403, `${url} with a player token: 403`);
  t.match(r.body, errorShape(403, 'GW_FORBIDDEN'));
}

t.test('GET /api/nodes (embedded): this node, alive, with its lease age', async (t) => {
  const h = await buildTestApp(t, 'embedded');
  if (!h) return;
  await checkAuth(t, h, '/api/nodes');
  const r = await call<NodesBody>(h, 'GET', '/api/nodes', { token: ADMIN });
  t.equal(r.status, 200);
  t.match(r.body, { nodeId: h.config.NODE_ID, leaseIntervalMs: h.config.NODE_LEASE_INTERVAL_MS, deadAfterMs: h.config.NODE_DEAD_AFTER_MS });
  t.equal(r.body.nodes.length, 1);
  const self = r.body.nodes[0]!;
  t.match(self, { nodeId: h.config.NODE_ID, status: 'alive', self: true });
  t.ok(self.leaseAgeMs >= 0 && self.leaseAgeMs <= 2 * h.config.NODE_LEASE_INTERVAL_MS, `lease age ${self.leaseAgeMs} ms`);
  t.equal(self.leaseAgeMs, Math.max(0, Math.round(r.body.now - self.lastRenewal)), 'age = now - lastRenewal');
  t.same(Object.keys(self).sort(), ['lastRenewal', 'leaseAgeMs', 'nodeId', 'self', 'status']);

  // A node that stopped renewing 3 s ago (lease interval 1 s, dead after 5 s): late.
  await h.app.nodeRegistry.renewLease('ghost-node', Date.now() - 3000, 'g-ghost');
  const late = await call<NodesBody>(h, 'GET', '/api/nodes', { token: ADMIN });
  t.match(
    late.body.nodes.find((n) => n.nodeId === 'ghost-node'),
    { status: 'late', self: false },
  );
  t.ok(late.body.nodes.find((n) => n.nodeId === 'ghost-node')!.leaseAgeMs >= 3000, 'its lease age');
});

t.test('lease status: alive, late, dead', async (t) => {
  t.equal(leaseStatus(0, 1000, 5000), 'alive');
  t.equal(leaseStatus(2000, 1000, 5000), 'alive', 'two intervals: still alive');
  t.equal(leaseStatus(2001, 1000, 5000), 'late');
  t.equal(leaseStatus(5000, 1000, 5000), 'late', 'dead only past NODE_DEAD_AFTER_MS, like the reaper');
  t.equal(leaseStatus(5001, 1000, 5000), 'dead');
});

t.test('GET /api/nodes (real): two nodes see each other; a stopped node disappears', async (t) => {
  const services = await backendEnv(t, 'real');
  if (!services) return;
  // Both nodes on the same schema and key prefix: one cluster.
  const env = { ...services, NODE_LEASE_INTERVAL_MS: '200', NODE_DEAD_AFTER_MS: '5000' };
  const a = await buildTestApp(t, 'embedded', env);
  const b = await buildTestApp(t, 'embedded', env);
  if (!a || !b) return;
  const r = await call<NodesBody>(a, 'GET', '/api/nodes', { token: ADMIN });
  t.equal(r.status, 200);
  t.same(
    r.body.nodes.map((n) => [n.nodeId, n.self]),
    [
      [a.config.NODE_ID, true],
      [b.config.NODE_ID, false],
    ].sort((x, y) => String(x[0]).localeCompare(String(y[0]))),
    'both nodes, sorted by nodeId, self flagged',
  );
  // alive unless this machine is too busy to renew every 200 ms; never dead
  t.ok(
    r.body.nodes.every((n) => n.status !== 'dead'),
    `statuses: ${r.body.nodes.map((n) => n.status).join(', ')}`,
  );
  await b.app.close();
  await eventually(async () => {
    const after = await call<NodesBody>(a, 'GET', '/api/nodes', { token: ADMIN });
    return after.body.nodes.length === 1 && after.body.nodes[0]!.nodeId === a.config.NODE_ID;
  });
  t.pass('a node that shut down removed its lease');
});

t.test('GET /api/stats/history: samples connections and online players', async (t) => {
  const h = await buildTestApp(t, 'embedded', { STATS_HISTORY_INTERVAL_MS: '100', HEARTBEAT_TIMEOUT_MS: '60000' });
  if (!h) return;
  await checkAuth(t, h, '/api/stats/history');
  const first = await call<HistoryBody>(h, 'GET', '/api/stats/history', { token: ADMIN });
  t.equal(first.status, 200);
  t.match(first.body, { nodeId: h.config.NODE_ID, intervalMs: 100 });
  t.ok(first.body.points.length >= 1, 'a sample is taken at startup');
  t.same(Object.keys(first.body.points[0]!).sort(), ['connections', 'onlineUsers', 't']);

  const started = Date.now();
  const clients = await Promise.all(['ann', 'ben'].map(async (u) => (await TestClient.open(`${h.wsUrl}/ws?token=${h.token(u)}`)).client));
  t.teardown(() => Promise.all(clients.map((c) => c.terminate())));
  const withPlayers = await eventually(async () => {
    const r = await call<HistoryBody>(h, 'GET', '/api/stats/history', { token: ADMIN });
    const last = r.body.points.at(-1);
    return last && last.t >= started && last.connections === 2 && last.onlineUsers === 2 ? r.body : undefined;
  });
  const ts = withPlayers.points.map((p) => p.t);
  t.ok(
    ts.every((x, i) => i === 0 || x > ts[i - 1]!),
    'points oldest first',
  );
  t.ok(withPlayers.points.length <= 36_000, 'bounded');
  t.equal(h.app.statsHistory.capacity, 36_000, 'one hour of 100 ms samples at most');
});
