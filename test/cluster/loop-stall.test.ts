/**
 * The lease keeper's stall bound on real processes (chaos/faults/process-faults.mjs blocks the
 * main event loop of a node for real; worker threads run on). NODE_STALL_LIMIT_MS = 4 s,
 * NODE_DEAD_AFTER_MS = 1.5 s:
 * - a main loop blocked 2.5 s at a time (longer than NODE_DEAD_AFTER_MS, below the bound) keeps
 *   its lease: nobody is reaped, no client is closed, nobody is logged out (when the lease was
 *   renewed from the main loop, such a node was reaped every few seconds);
 * - a main loop blocked 9 s (past the bound) stops renewing: the node is reaped once, and when its
 *   loop runs again it finds itself fenced and reconnects its clients with 1012.
 */
import t from 'tap';
import { eventually } from '../helpers/build.ts';
import { ProcessFault } from '../helpers/process-faults.ts';
import { startCluster, type ClusterNode } from '../helpers/cluster.ts';
import { connectPostgres, playerSessionRows } from '../helpers/services.ts';
import { TestClient } from '../helpers/ws-client.ts';

const PLAYERS = 10;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

t.test('a lagging main loop keeps its lease; one stuck past NODE_STALL_LIMIT_MS is reaped and fenced', { timeout: 180_000 }, async (t) => {
  const fault = new ProcessFault();
  const cluster = await startCluster(t, ['stall-a'], {
    AUTH_MODE: 'none',
    AUTH_JWT_SECRET: '',
    NODE_LEASE_INTERVAL_MS: '250',
    NODE_DEAD_AFTER_MS: '1500',
    NODE_STALL_LIMIT_MS: '4000',
    // The pings of a stalled loop are read in bursts: the watchdog is not what this test is about.
    HEARTBEAT_TIMEOUT_MS: '30000',
  });
  if (!cluster) return;
  const [a] = cluster.nodes as [ClusterNode];
  const b = await cluster.addNode('stall-b', fault.env());
  const url = (u: string) => `${b.wsUrl}/ws?userId=${u}`;
  const users = Array.from({ length: PLAYERS }, (_, i) => `lag-${i}`);
  const clients = await Promise.all(users.map(async (u) => (await TestClient.open(url(u))).client));
  for (const c of clients) c.startPing(500);
  t.teardown(() => Promise.all(clients.map((c) => c.terminate())));
  const db = await connectPostgres(t);
  const rowsOf = () => playerSessionRows(db, cluster.schema, 'lag-');
  await eventually(async () => (await rowsOf()).length === PLAYERS, 15_000);
  await sleep(2500); // A's reaper is armed

  // Lagging: blocked 2.5 s, runs 50 ms, blocked again... for 10 s.
  fault.set({ loopStallMs: 2500, loopRunMs: 50 });
  await sleep(10_000);
  fault.clear();
  await sleep(3000);
  t.ok(b.logs.some((l) => l.msg === 'session closed') === false, 'no session closed on the lagging node');
  t.same(
    clients.filter((c) => c.closedWith),
    [],
    'no client was closed',
  );
  t.same(
    a.logs.filter((l) => l.msg === 'reaped dead node'),
    [],
    'the lagging node was never reaped',
  );
  t.ok(
    (await rowsOf()).every((r) => r.disconnected_at === null),
    'nobody logged out',
  );
  await Promise.all(clients.map((c) => c.ping(5000)));

  // Stuck: blocked 9 s, past the 4 s bound.
  fault.set({ loopStallMs: 9000, loopRunMs: 50 });
  const reaped = await eventually(() => a.logs.find((l) => l.msg === 'reaped dead node' && l.deadNodeId === 'stall-b'), 20_000, 50);
  fault.clear();
  t.equal(Number(reaped.loggedOut), PLAYERS, 'reaped once the lease ran out');
  await eventually(() => clients.every((c) => c.closedWith), 30_000, 50);
  t.same([...new Set(clients.map((c) => c.closedWith!.code))], [1012], 'its clients were told to reconnect (1012)');
  t.ok(
    clients.every((c) => c.frames.some((f) => f.type === 'reconnect')),
    'each after a reconnect frame',
  );
  t.ok(
    b.logs.some((l) => l.msg === 'main event loop stalled past NODE_STALL_LIMIT_MS: lease renewal stops (the node will be reaped)'),
    'the keeper said why it stopped',
  );
  await sleep(1000);
  const rows = await rowsOf();
  t.equal(rows.length, PLAYERS, 'one logical session each');
  t.ok(
    rows.every((r) => r.reason === 'node_lost' && r.disconnected_at !== null),
    'logged out once, by the reaper',
  );
  t.equal(b.child.exitCode, null, 'the node lives on');
});
