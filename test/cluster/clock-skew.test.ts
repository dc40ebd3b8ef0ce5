/**
 * Three nodes on Redis + PostgreSQL whose hosts' clocks disagree: one is right, one 60 s behind,
 * one 60 s ahead (chaos/faults/process-faults.mjs skews Date in the process), and one skew flips
 * to the other side at runtime. With leases judged on the cluster clock (Redis server time), ~30
 * pinging players per node for ~10 s see nothing: no reap, no close, no logout. A clean close on a
 * skewed node is stamped with the true time, and the offset gauge shows each host's error.
 * (When each node judged leases on its own clock, a node 8 s behind was reaped every second.)
 */
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually, TEST_ADMIN_TOKEN } from '../helpers/build.ts';
import { ProcessFault } from '../helpers/process-faults.ts';
import { startCluster, type ClusterNode } from '../helpers/cluster.ts';
import { connectPostgres } from '../helpers/services.ts';
import { TestClient, type Closed } from '../helpers/ws-client.ts';

const PER_NODE = 30;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function offsetGauge(node: ClusterNode): Promise<number> {
  const res = await fetch(`${node.baseUrl}/metrics`, { headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` } });
  const line = (await res.text()).split('\n').find((l) => l.startsWith('gatehouse_clock_offset_seconds '));
  if (!line) throw new Error('no gatehouse_clock_offset_seconds');
  return Number(line.split(' ')[1]);
}

t.test('nodes with clocks ±60 s off behave like correct ones', { timeout: 180_000 }, async (t) => {
  const faultOf = new Map<string, ProcessFault>();
  const skew = (nodeId: string, skewMs: number) => faultOf.get(nodeId)!.set({ skewMs });
  for (const [nodeId, skewMs] of [
    ['skew-ok', 0],
    ['skew-minus', -60_000],
    ['skew-plus', 60_000],
  ] as const) {
    faultOf.set(nodeId, new ProcessFault({ skewMs }));
  }
  const cluster = await startCluster(t, [], {
    AUTH_MODE: 'none',
    AUTH_JWT_SECRET: '',
    NODE_LEASE_INTERVAL_MS: '250',
    NODE_DEAD_AFTER_MS: '1500',
    LOGOUT_GRACE_MS: '0',
  });
  if (!cluster) return;
  const faulty = (nodeId: string) => faultOf.get(nodeId)!.env();
  const ok = await cluster.addNode('skew-ok', faulty('skew-ok'));
  const [minus, plus] = await Promise.all([cluster.addNode('skew-minus', faulty('skew-minus')), cluster.addNode('skew-plus', faulty('skew-plus'))]);
  const nodes = [ok, minus, plus];
  // Debug aid: every node's log lines, kept when the test fails.
  t.teardown(() => {
    if (!t.passing()) for (const n of nodes) writeFileSync(join(tmpdir(), `clock-skew-${n.nodeId}.log`), n.logs.map((l) => JSON.stringify(l)).join('\n'));
  });

  const clients: Array<{ user: string; node: ClusterNode; client: TestClient; closed?: Closed }> = [];
  for (const node of nodes) {
    const opened = await Promise.all(
      Array.from({ length: PER_NODE }, async (_, i) => {
        const user = `${node.nodeId}-${i}`;
        return { user, node, client: (await TestClient.open(`${node.wsUrl}/ws?userId=${user}`)).client };
      }),
    );
    clients.push(...opened);
  }
  for (const c of clients) {
    c.client.startPing(1000);
    void c.client.closed.then((closed) => (c.closed = closed));
  }
  t.teardown(() => Promise.all(clients.map((c) => c.client.terminate())));
  const db = await connectPostgres(t);
  const rows = async () =>
    (
      await db.query<{ user_id: string; disconnected_at: Date | null; connected_at: Date }>(
        `SELECT user_id, connected_at, disconnected_at FROM "${cluster.schema}".player_sessions`,
      )
    ).rows;
  await eventually(async () => (await rows()).length === 3 * PER_NODE, 15_000);
  const connectedAt = (await rows()).map((r) => r.connected_at.getTime());
  t.ok(
    connectedAt.every((at) => Math.abs(at - Date.now()) < 20_000),
    'logins stamped on the true time, whatever the node (not 60 s off)',
  );

  await sleep(5000);
  skew('skew-minus', 60_000); // stepped at runtime, 2 minutes forward
  skew('skew-plus', -60_000);
  await sleep(5000);

  const gauges = await Promise.all(nodes.map(offsetGauge));
  t.ok(Math.abs(gauges[0]!) < 1, `correct host: offset ${gauges[0]} s`);
  t.ok(Math.abs(gauges[1]! + 60) < 1, `host now 60 s ahead: offset ${gauges[1]} s`);
  t.ok(Math.abs(gauges[2]! - 60) < 1, `host now 60 s behind: offset ${gauges[2]} s`);
  const warning = "this host's clock is off the cluster clock (Redis server time); the node uses the cluster clock";
  t.same(
    nodes.map((n) => n.logs.filter((l) => l.msg === warning).length),
    [0, 1, 1],
    'the skewed hosts warned once (rate-limited), the correct one not',
  );

  t.same(
    clients.filter((c) => c.closed).map((c) => `${c.user}:${c.closed!.code}`),
    [],
    'no connection closed',
  );
  t.same(
    nodes.flatMap((n) => n.logs.filter((l) => l.msg === 'reaped dead node' || l.msg === 'user logged out')),
    [],
    'no reaper line, no logout',
  );
  t.same(
    (await rows()).filter((r) => r.disconnected_at !== null),
    [],
    'no logout in PostgreSQL',
  );
  t.equal((await cluster.admin(ok, 'GET', '/api/online/players?limit=1')).body.total, 3 * PER_NODE, 'every player online in the presence store');
  await Promise.all(clients.map((c) => c.client.ping(5000)));

  // A clean close on each skewed node is stamped with the true time.
  const leaving = [clients[PER_NODE]!, clients[2 * PER_NODE]!];
  const closedAt = Date.now();
  await Promise.all(leaving.map((c) => c.client.close(1000)));
  const stamps = await eventually(async () => {
    const r = (await rows()).filter((row) => leaving.some((c) => c.user === row.user_id) && row.disconnected_at !== null);
    return r.length === 2 ? r : undefined;
  }, 10_000);
  for (const r of stamps) {
    const error = r.disconnected_at!.getTime() - closedAt;
    t.ok(Math.abs(error) < 1000, `${r.user_id} stamped ${error} ms from the true close time`);
  }
  for (const c of leaving) {
    const player = (await cluster.admin(ok, 'GET', `/api/online/players/${c.user}`)).body;
    t.ok(Math.abs(player.logoutTime - closedAt) < 1000, `${c.user}: presence logoutTime ${player.logoutTime - closedAt} ms from the true time`);
  }
});
