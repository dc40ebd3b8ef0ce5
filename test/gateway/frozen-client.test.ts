/**
 * Liveness on real services (a gateway process on Redis + PostgreSQL, short configured
 * durations):
 * - frozen game clients: their `ws` keeps answering the server's WebSocket pings, but their game
 *   loop sends nothing after login (and a few vanished ones, which answer nothing, not even the
 *   close). Each is offline in the store and has its logout row in PostgreSQL within
 *   HEARTBEAT_TIMEOUT_MS + one watchdog tick + 500 ms of its last frame, stamped last frame +
 *   timeout, 1,000 of them at once; pinging clients alongside are untouched;
 * - a node frozen (SIGSTOP) for longer than the heartbeat timeout but less than the node-death
 *   bound, then resumed: the pings its clients sent meanwhile are still unread when its overdue
 *   watchdog tick runs, and no client is timed out or logged out.
 */
import t, { type Test } from 'tap';
import type pg from 'pg';
import { Redis } from 'ioredis';
import type { Socket } from 'node:net';
import { CloseCode } from '../../src/protocol/close-codes.ts';
import { connectPostgres } from '../helpers/services.ts';
import { startCluster, type ClusterNode, type TestCluster } from '../helpers/cluster.ts';
import { type RawClient, logoutRows, nodeStalledMs as stalledMsAt, openMany as openManyAt, ping, watchLogouts } from '../helpers/silent-clients.ts';

const TIMEOUT_MS = 1500;
const TICK_MS = 250;
const FAST = {
  HEARTBEAT_TIMEOUT_MS: String(TIMEOUT_MS),
  WATCHDOG_INTERVAL_MS: String(TICK_MS),
  WS_PING_INTERVAL_MS: '200',
  HEARTBEAT_FLUSH_INTERVAL_MS: '250',
  MAX_CONNECTIONS: '2000',
};

/**
 * Frozen clients that still answer WebSocket pings, and vanished ones that answer nothing:
 * 1,000 silent clients at once, all timed out in the same one or two watchdog ticks (issue 15).
 */
const FROZEN = 980;
const VANISHED = 20;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** `count` clients of `node` named `<prefix>-<i>`, opened 25 at a time. */
const openMany = (cluster: TestCluster, node: ClusterNode, prefix: string, count: number) => openManyAt((userId) => cluster.wsUrl(node, userId), prefix, count);
const nodeStalledMs = (node: ClusterNode) => stalledMsAt(node.baseUrl);

/** Every one of `clients` is online in the store and has no logout row in PostgreSQL. */
async function expectOnlineWithoutLogout(
  t: Test,
  redis: Redis,
  db: pg.Client,
  cluster: TestCluster,
  clients: ReadonlyArray<{ userId: string }>,
  who: string,
): Promise<void> {
  const statuses = await Promise.all(clients.map((c) => redis.hget(`${cluster.prefix}player:online:${c.userId}`, 'status')));
  t.ok(
    statuses.every((s) => s === 'online'),
    `${who} is online in the store`,
  );
  const userIds = clients.map((c) => c.userId);
  t.equal((await logoutRows(db, cluster.schema, userIds)).size, 0, `${who} has no logout row in PostgreSQL`);
}

t.test('frozen game clients: offline and stamped within timeout + tick + 500 ms, at last frame + timeout', async (t) => {
  const cluster = await startCluster(t, ['frozen-node'], FAST);
  if (!cluster) return;
  const node = cluster.nodes[0]!;
  const redis = new Redis(cluster.env.REDIS_URL!);
  t.teardown(() => redis.disconnect());
  const db = await connectPostgres(t, cluster.env.DATABASE_URL);

  const live = await openMany(cluster, node, 'live', 20);
  const pinger = setInterval(() => live.forEach(ping), 250);
  t.teardown(() => clearInterval(pinger));
  // The frozen ones ping like the others while they all connect...
  const frozen: RawClient[] = [];
  const frozenPinger = setInterval(() => frozen.forEach(ping), 250);
  t.teardown(() => clearInterval(frozenPinger));
  for (let i = 0; i < FROZEN; i += 25) frozen.push(...(await openMany(cluster, node, `frozen-${i / 25}`, 25)));
  // A few vanish instead (network gone): they answer neither WebSocket pings nor the close, so a
  // logout that waited for the close handshake would come CLOSE_TIMEOUT_MS (2 s) late.
  const vanished = await openMany(cluster, node, 'gone', VANISHED);
  frozen.push(...vanished);
  // An overloaded machine (other suites alongside on 2 cores) runs the node late: the bound below
  // grows by the node's own stall (its late watchdog ticks, as it reports them), or by this test's
  // own scheduling delay if that is larger.
  const stalledBefore = await nodeStalledMs(node);
  let lagMs = 0;
  let expectedAt = Date.now() + 10;
  const probe = setInterval(() => {
    lagMs = Math.max(lagMs, Date.now() - expectedAt);
    expectedAt = Date.now() + 10;
  }, 10);
  t.teardown(() => clearInterval(probe));
  // ...then their game loops freeze, all at once, after one last frame each; from then on only
  // their socket library speaks (it answers WebSocket pings).
  clearInterval(frozenPinger);
  frozen.forEach(ping);
  for (const c of vanished) (c.ws as unknown as { _socket: Socket })._socket.pause();
  const firstFrame = Math.min(...frozen.map((c) => c.lastFrame));

  // Two watchers, each in its own loop so neither waits for the other: the store, the database.
  const { offlineAt, writtenAt, rows } = await watchLogouts(redis, db, cluster, frozen, firstFrame + TIMEOUT_MS + 10_000);
  clearInterval(probe);
  const nodeStallMs = (await nodeStalledMs(node)) - stalledBefore;
  const allowanceMs = Math.max(lagMs, nodeStallMs);
  const bound = TIMEOUT_MS + TICK_MS + 500 + allowanceMs;

  t.equal(offlineAt.size, frozen.length, 'every frozen client went offline in the store');
  t.equal(writtenAt.size, frozen.length, 'every frozen client has its logout row in PostgreSQL');
  // The bound runs from the moment the node received the last frame: the stamp minus the
  // timeout. How long that frame took to arrive after the client sent it is the stamp's error.
  const receivedAt = (c: RawClient) => (rows.get(c.userId)?.[0] ?? Infinity) - TIMEOUT_MS;
  const offlineAfter = frozen.map((c) => (offlineAt.get(c.userId) ?? Infinity) - receivedAt(c));
  const writtenAfter = frozen.map((c) => (writtenAt.get(c.userId) ?? Infinity) - receivedAt(c));
  const sentToWritten = frozen.map((c) => (writtenAt.get(c.userId) ?? Infinity) - c.lastFrame);
  const stampError = frozen.map((c) => receivedAt(c) - c.lastFrame);
  const max = (xs: number[]) => Math.max(...xs);
  const min = (xs: number[]) => Math.min(...xs);
  t.comment(
    `after the last frame arrived: offline ${min(offlineAfter)}..${max(offlineAfter)} ms, written ${min(writtenAfter)}..${max(writtenAfter)} ms; ` +
      `after it was sent: written ${min(sentToWritten)}..${max(sentToWritten)} ms; stamp - (sent + timeout): ${min(stampError)}..${max(stampError)} ms; ` +
      `node stall ${nodeStallMs} ms, test scheduling delay ${lagMs} ms`,
  );
  t.ok(max(offlineAfter) <= bound, `offline within ${bound} ms of the last frame, every one (max ${max(offlineAfter)} ms)`);
  t.ok(min(offlineAfter) > TIMEOUT_MS, `never before the timeout (min ${min(offlineAfter)} ms)`);
  t.ok(max(writtenAfter) <= bound, `stamped in the database within ${bound} ms, every one (max ${max(writtenAfter)} ms)`);
  t.ok(
    stampError.every((e) => e >= 0 && e <= TICK_MS + allowanceMs),
    `logoutAt = last frame sent + timeout, within a tick (${min(stampError)}..${max(stampError)} ms)`,
  );
  t.ok(
    [...rows.values()].every(([, reason]) => reason === 'timeout'),
    'reason timeout',
  );
  const answering = frozen.filter((c) => !vanished.includes(c));
  t.ok(
    answering.every((c) => c.wsPings >= 2),
    `every frozen client kept answering WebSocket pings (min ${min(answering.map((c) => c.wsPings))})`,
  );
  await sleep(500);
  t.ok(
    answering.every((c) => c.closed?.code === CloseCode.HEARTBEAT_TIMEOUT),
    'their sockets were closed with 4000',
  );
  const logouts = node.logs.filter((l) => l.msg === 'user logged out' && String(l.userId).startsWith('frozen-'));
  t.equal(logouts.length, frozen.length - vanished.length, 'one logout per frozen client');
  t.equal(node.logs.filter((l) => l.msg === 'user logged out' && String(l.userId).startsWith('gone-')).length, vanished.length, 'and per vanished one');

  // The pinging clients alongside.
  t.ok(
    live.every((c) => c.closed === undefined),
    'no pinging client was closed',
  );
  await expectOnlineWithoutLogout(t, redis, db, cluster, live, 'every pinging client');
  clearInterval(pinger);
  for (const c of [...live, ...frozen]) c.ws.terminate();
});

t.test('a node frozen past the heartbeat timeout (not past node death) times out none of its pinging clients', async (t) => {
  const cluster = await startCluster(t, ['sigstop-node'], { ...FAST, NODE_DEAD_AFTER_MS: '6000', NODE_LEASE_INTERVAL_MS: '1000' });
  if (!cluster) return;
  const node = cluster.nodes[0]!;
  const redis = new Redis(cluster.env.REDIS_URL!);
  t.teardown(() => redis.disconnect());
  const db = await connectPostgres(t, cluster.env.DATABASE_URL);

  const clients = await openMany(cluster, node, 'pinger', 50);
  // Every client pings every 250 ms (a test process starved for a while still pings well within
  // the timeout), at its own phase; the pings sent while the node is stopped wait in its kernel
  // buffers.
  const timers: NodeJS.Timeout[] = [];
  clients.forEach((c, i) => timers.push(setTimeout(() => timers.push(setInterval(() => ping(c), 250)), (i * 5) % 250)));
  t.teardown(() => timers.forEach((timer) => clearInterval(timer)));
  await sleep(1000);

  const stalledBefore = await nodeStalledMs(node);
  node.child.kill('SIGSTOP');
  t.teardown(() => node.child.kill('SIGCONT'));
  await sleep(3000); // twice the heartbeat timeout, half the node-death bound
  node.child.kill('SIGCONT');
  await sleep(2500);

  t.same(
    clients.filter((c) => c.closed).map((c) => `${c.userId} ${c.closed!.code}`),
    [],
    'no client closed (no 4000)',
  );
  t.equal(node.logs.filter((l) => l.msg === 'heartbeat timeout').length, 0, 'no heartbeat timeout');
  t.equal(node.logs.filter((l) => l.msg === 'user logged out').length, 0, 'no logout');
  const stalled = (await nodeStalledMs(node)) - stalledBefore;
  t.ok(stalled >= 2000, `the node counted its own stall (${stalled} ms)`);
  await expectOnlineWithoutLogout(t, redis, db, cluster, clients, 'every client');
  timers.forEach((timer) => clearInterval(timer));
  for (const c of clients) c.ws.terminate();
});
