/**
 * A node frozen whole (SIGSTOP) past NODE_DEAD_AFTER_MS is reaped by the other node, once: one
 * `node_lost` logout per logical session in PostgreSQL. When it is resumed (SIGCONT) it finds its
 * lease generation fenced: its clients get a `reconnect` frame and close 1012 (never 4000), it
 * writes no second logout, registers a fresh lease, and the clients log in again and stay online.
 */
import t from 'tap';
import { eventually } from '../helpers/build.ts';
import { startCluster, type ClusterNode } from '../helpers/cluster.ts';
import { connectPostgres, playerSessionRows } from '../helpers/services.ts';
import { TestClient } from '../helpers/ws-client.ts';

const LEASE_MS = 250;
const DEAD_AFTER_MS = 1500;
/** Below HEARTBEAT_TIMEOUT_MS: what the clients see on resume is the fence, not a silence. */
const FREEZE_MS = 4000;
const PLAYERS = 20;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

t.test('a node frozen past NODE_DEAD_AFTER_MS is reaped once, then reconnects its clients with 1012', { timeout: 180_000 }, async (t) => {
  const cluster = await startCluster(t, ['fence-a', 'fence-b'], {
    AUTH_MODE: 'none',
    AUTH_JWT_SECRET: '',
    NODE_LEASE_INTERVAL_MS: String(LEASE_MS),
    NODE_DEAD_AFTER_MS: String(DEAD_AFTER_MS),
    HEARTBEAT_TIMEOUT_MS: '10000',
  });
  if (!cluster) return;
  const [a, b] = cluster.nodes as [ClusterNode, ClusterNode];
  const url = (node: ClusterNode, u: string) => `${node.wsUrl}/ws?userId=${u}`;
  const users = Array.from({ length: PLAYERS }, (_, i) => `frozen-${i}`);
  const clients = await Promise.all(users.map(async (u) => (await TestClient.open(url(b, u))).client));
  for (const c of clients) c.startPing(500);
  t.teardown(() => Promise.all(clients.map((c) => c.terminate())));
  const db = await connectPostgres(t);
  const rowsOf = () => playerSessionRows(db, cluster.schema, 'frozen-');
  await eventually(async () => (await rowsOf()).length === PLAYERS, 15_000);
  // A has renewed steadily for longer than deadAfter: its reaper is armed.
  await sleep(DEAD_AFTER_MS + 1000);

  const frozenAt = Date.now();
  b.child.kill('SIGSTOP');
  let resumed = false;
  t.teardown(() => {
    if (!resumed) b.child.kill('SIGCONT');
  });
  await eventually(
    () => a.logs.some((l) => l.msg === 'reaped dead node' && l.deadNodeId === 'fence-b' && Number(l.loggedOut) === PLAYERS),
    FREEZE_MS + 5000,
    50,
  );
  const stamped = await eventually(async () => {
    const rows = await rowsOf();
    return rows.length === PLAYERS && rows.every((r) => r.disconnected_at !== null) ? rows : undefined;
  }, 10_000);
  t.ok(
    stamped.every((r) => r.reason === 'node_lost'),
    'reaped: node_lost',
  );
  const lastLease = Math.max(...stamped.map((r) => r.disconnected_at!.getTime()));
  t.ok(lastLease <= frozenAt + 100 && lastLease >= frozenAt - 1000, "stamped with the frozen node's last lease");
  await sleep(Math.max(0, FREEZE_MS - (Date.now() - frozenAt)));
  t.same(
    clients.filter((c) => c.closedWith),
    [],
    'nothing was closed while the node was frozen (the clients kept pinging into its socket buffers)',
  );

  b.child.kill('SIGCONT');
  resumed = true;
  await eventually(() => clients.every((c) => c.closedWith), 15_000, 50);
  const codes = clients.map((c) => c.closedWith!.code);
  t.same([...new Set(codes)], [1012], 'every client closed with 1012 (service restart), never 4000');
  for (const [i, c] of clients.entries()) {
    const user = users[i]!;
    const reconnect = c.frames.find((f) => f.type === 'reconnect');
    if (!reconnect) t.fail(`${user} got no reconnect frame`);
    else t.match(reconnect, { type: 'reconnect', reason: 'node fenced', afterMs: Number }, `${user}: reconnect frame before the close`);
  }
  t.equal(
    b.logs.filter(
      (l) => l.msg === 'this node was reaped while it could not renew its lease (frozen, stalled or cut off): its clients reconnect, it registers anew',
    ).length,
    1,
    'B saw its fence once',
  );
  await eventually(() => b.logs.some((l) => l.msg === 'registered anew after being fenced'), 10_000);
  t.equal(b.child.exitCode, null, 'B is alive');

  // No second logout: the reaper's rows are the only ones, and B logged nobody out.
  await sleep(1000);
  const after = await rowsOf();
  t.equal(after.length, PLAYERS, 'exactly one logical session row per player');
  t.ok(
    after.every((r) => r.reason === 'node_lost' && r.disconnected_at !== null),
    'each closed once, by the reaper',
  );
  t.same(
    b.logs.filter((l) => l.msg === 'user logged out').map((l) => l.userId),
    [],
    'the fenced node wrote no logout',
  );

  // They log in again on B (a fresh lease generation) and stay online.
  const again = await Promise.all(users.map(async (u) => (await TestClient.open(url(b, u))).client));
  t.teardown(() => Promise.all(again.map((c) => c.terminate())));
  again.forEach((c) => c.startPing(500));
  await sleep(2 * DEAD_AFTER_MS);
  const online = await cluster.admin(a, 'GET', '/api/online/players?limit=100&prefix=frozen-');
  t.equal(online.body.total, PLAYERS, 'every player online again, seen from A');
  const final = await rowsOf();
  t.equal(final.length, 2 * PLAYERS, 'one new logical session each');
  t.equal(final.filter((r) => r.disconnected_at === null).length, PLAYERS, 'the new ones are open');
  t.equal(a.logs.filter((l) => l.msg === 'reaped dead node' && l.deadNodeId === 'fence-b').length, 1, 'the new generation was not reaped');
});
