/**
 * Overload: a node whose event loop is starved (several seconds of lag at a time, via the fault
 * preload chaos/faults/process-faults.mjs: `{"loopStallMs":3000,"loopRunMs":50}`) is still alive:
 * its players keep pinging and get their pongs, late. It must not be reaped by the other node,
 * none of its clients may be closed, no logout may be written, and after the stall every client
 * is online with its original logical session (issue 15, item 2: lease renewal must not depend
 * on the main loop answering within NODE_DEAD_AFTER_MS).
 *
 * NODE_DEAD_AFTER_MS (2000) is shorter than one stall (3000): a lease renewed from the main loop
 * lapses every stall. NODE_STALL_LIMIT_MS (the main loop's own, longer bound) is 60 s here: the
 * loop shows progress every 3 s. The stall lasts OVERLOAD_STALL_S seconds (default 20 here; the
 * chaos run starves a node for 30-60 s, and `OVERLOAD_STALL_S=60` runs this test at the length
 * the issue names).
 *
 * The companion case: a stall longer than NODE_STALL_LIMIT_MS (4000; one uninterrupted 8 s
 * stall) is a frozen node, and it is reaped as today.
 */
import t, { type Test } from 'tap';
import type pg from 'pg';
import { eventually } from '../helpers/build.ts';
import { ProcessFault, type Fault } from '../helpers/process-faults.ts';
import { startCluster, type TestCluster } from '../helpers/cluster.ts';
import { connectPostgres } from '../helpers/services.ts';
import { ReconnectingClient } from '../helpers/ws-client.ts';

const CLIENTS = 300;
const STALL_MS = Number(process.env.OVERLOAD_STALL_S || 20) * 1000;

interface Setup {
  cluster: TestCluster;
  fault: ProcessFault;
  clients: ReconnectingClient[];
  db: pg.Client;
  sessionIds: string[];
}

async function setup(t: Test, stallLimitMs: number): Promise<Setup | null> {
  const fault = new ProcessFault();
  const cluster = await startCluster(t, [], {
    AUTH_MODE: 'none',
    AUTH_JWT_SECRET: '',
    NODE_LEASE_INTERVAL_MS: '500',
    NODE_DEAD_AFTER_MS: '2000',
    NODE_STALL_LIMIT_MS: String(stallLimitMs),
    LOGOUT_GRACE_MS: '5000',
  });
  if (!cluster) return null;
  // Node A carries the fault preload; B is the healthy node that would reap it.
  await cluster.addNode('overload-a', fault.env());
  await cluster.addNode('overload-b');
  const a = cluster.nodes[0]!;
  const clients: ReconnectingClient[] = [];
  for (let i = 0; i < CLIENTS; i += 100) {
    const batch = Array.from({ length: 100 }, (_, k) => new ReconnectingClient([`${a.wsUrl}/ws?userId=starved-${i + k}`], { pingMs: 1000, backoffMs: 500 }));
    await Promise.all(batch.map((c) => c.start()));
    clients.push(...batch);
  }
  t.teardown(() => clients.forEach((c) => c.stop()));
  const db = await connectPostgres(t);
  // The login writer has put one open logical session per client in the database.
  const sessionIds = await eventually(
    async () => {
      const { rows } = await db.query(`SELECT id FROM "${cluster.schema}".player_sessions WHERE disconnected_at IS NULL ORDER BY id`);
      return rows.length === CLIENTS ? rows.map((r) => r.id as string) : null;
    },
    20_000,
    200,
  );
  return { cluster, fault, clients, db, sessionIds };
}

const stall = async (fault: ProcessFault, stalls: Fault, ms: number) => {
  fault.set(stalls);
  await new Promise((resolve) => setTimeout(resolve, ms));
  fault.clear();
};

t.test('a starved node (seconds of event-loop lag) is not reaped and keeps every player', { timeout: STALL_MS + 120_000 }, async (t) => {
  const s = await setup(t, 60_000);
  if (!s) return;
  const { cluster, fault, clients, db } = s;
  const [a, b] = cluster.nodes as [(typeof cluster.nodes)[0], (typeof cluster.nodes)[0]];
  let pongs = 0;
  for (const c of clients) c.sdk.on('pong', () => pongs++);

  await stall(fault, { loopStallMs: 3000, loopRunMs: 50 }, STALL_MS);
  // Longer than NODE_DEAD_AFTER_MS after the stall: a reap or a fencing close would have happened.
  await new Promise((resolve) => setTimeout(resolve, 5000));

  // One pong per client at least every stall (3 s) while starved, then every second.
  t.ok(pongs > CLIENTS * (STALL_MS / 4000), `the starved node kept answering pings, late (${pongs} pongs)`);
  const closes = clients.flatMap((c) => c.closes.map((x) => `${x.code} ${x.reason}`));
  t.same(closes, [], 'no client of the starved node was closed');
  t.ok(
    clients.every((c) => c.connections.length === 1),
    'no client reconnected',
  );
  const reaped = b.logs.filter((l) => l.msg === 'reaped dead node' && l.deadNodeId === a.nodeId);
  t.same(reaped, [], 'no reaper line for the starved node');
  const logouts = cluster.nodes.flatMap((n) => n.logs.filter((l) => l.msg === 'user logged out'));
  t.equal(logouts.length, 0, 'no logout anywhere');
  const closed = await db.query(`SELECT count(*)::int AS n FROM "${cluster.schema}".player_sessions WHERE disconnected_at IS NOT NULL`);
  t.equal(closed.rows[0].n, 0, 'no logout row written');
  const stamped = await db.query(`SELECT count(*)::int AS n FROM "${cluster.schema}".users WHERE last_logout_at IS NOT NULL`);
  t.equal(stamped.rows[0].n, 0, 'no player stamped with a logout');
  const { rows } = await db.query(`SELECT id FROM "${cluster.schema}".player_sessions ORDER BY id`);
  t.same(
    rows.map((r) => r.id),
    s.sessionIds,
    'every client still has its original logical session (no new one)',
  );
  const total = await eventually(async () => (await cluster.admin(b, 'GET', '/api/online/players?limit=1')).body?.total, 10_000, 200);
  t.equal(total, CLIENTS, 'all clients online after the stall');
  const statuses = await Promise.all(clients.slice(0, 20).map((_, i) => cluster.admin(b, 'GET', `/api/online/players/starved-${i}`)));
  t.ok(
    statuses.every((r) => r.body?.status === 'online' && r.body?.nodeId === a.nodeId),
    'a sample of players is online on the starved node',
  );
});

t.test('a stall longer than NODE_STALL_LIMIT_MS is a frozen node: it is reaped', { timeout: 120_000 }, async (t) => {
  const s = await setup(t, 4000);
  if (!s) return;
  const { cluster, fault, clients } = s;
  const [a, b] = cluster.nodes as [(typeof cluster.nodes)[0], (typeof cluster.nodes)[0]];
  // One uninterrupted 8 s stall: the main loop shows no progress for twice the limit.
  await stall(fault, { loopStallMs: 8000, loopRunMs: 50 }, 8500);
  await eventually(() => b.logs.some((l) => l.msg === 'reaped dead node' && l.deadNodeId === a.nodeId), 15_000, 200);
  t.pass('the healthy node reaped the frozen one');
  // When the frozen node wakes up and finds it was reaped, it tells its clients to reconnect
  // (1012); never a heartbeat timeout (4000) for clients that pinged all along.
  await eventually(() => clients.every((c) => c.connections.length >= 2 || c.closes.length > 0), 20_000, 200).catch(() => {});
  const heartbeatCloses = clients.flatMap((c) => c.closes.filter((x) => x.code === 4000));
  t.equal(heartbeatCloses.length, 0, 'no client closed with 4000 (heartbeat timeout)');
});
