/**
 * The crash scenario of crash.test.ts (Redis) and redis-cluster.test.ts (Redis Cluster).
 * kill -9 of a node holding its players: the survivors' reaper logs every one of them out
 * within 10 s, stamped in PostgreSQL with the dead node's last lease, each exactly once; the
 * players whose clients reconnect to the surviving node are online again with a newer epoch
 * and are never logged out by the late reaper.
 */
import type { Test } from 'tap';
import pg from 'pg';
import { eventually } from '../helpers/build.ts';
import { startCluster, type ClusterStore } from '../helpers/cluster.ts';
import { TEST_DATABASE_URL } from '../helpers/services.ts';
import { ReconnectingClient, TestClient } from '../helpers/ws-client.ts';

/**
 * kill -9 of a node holding `players` players (`reconnecting` of them move to the survivor):
 * the reaper stamps every lost one within 10 s, each exactly once, and leaves the movers alone.
 */
export async function crashScenario(
  t: Test,
  store: ClusterStore,
  { players: PLAYERS, reconnecting: RECONNECTING }: { players: number; reconnecting: number },
): Promise<void> {
  const cluster = await startCluster(
    t,
    ['survivor', 'doomed'],
    {
      AUTH_MODE: 'none',
      AUTH_JWT_SECRET: '',
      // The doomed clients never ping: only the crash may end them, not the watchdog.
      HEARTBEAT_TIMEOUT_MS: '120000',
    },
    store,
  );
  if (!cluster) return;
  const [survivor, doomed] = cluster.nodes as [(typeof cluster.nodes)[0], (typeof cluster.nodes)[0]];
  const url = (node: typeof survivor, u: string) => `${node.wsUrl}/ws?userId=${u}`;

  // Players that will vanish with the node, and those whose clients reconnect to the survivor.
  const lost: TestClient[] = [];
  for (let i = 0; i < PLAYERS - RECONNECTING; i += 200) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(200, PLAYERS - RECONNECTING - i) }, (_, k) => TestClient.connect(url(doomed, `lost-${i + k}`))),
    );
    lost.push(...batch);
  }
  const movers = Array.from(
    { length: RECONNECTING },
    (_, i) => new ReconnectingClient([url(doomed, `mover-${i}`), url(survivor, `mover-${i}`)], { pingMs: 1000, backoffMs: 300 }),
  );
  await Promise.all(movers.map((m) => m.start()));
  t.teardown(() => {
    movers.forEach((m) => m.stop());
    lost.forEach((c) => c.socket.terminate());
  });
  const redis = await cluster.redis();
  const epochOf = async (userId: string) => Number(await redis.hget(cluster.keys.player(userId), 'epoch'));
  const epochsBefore = new Map<string, number>();
  await eventually(async () => (await cluster.admin(survivor, 'GET', '/api/online/players?limit=1')).body?.total === PLAYERS, 20_000);
  for (const i of [0, 7, RECONNECTING - 1]) epochsBefore.set(`mover-${i}`, await epochOf(`mover-${i}`));

  const killedAt = Date.now();
  doomed.child.kill('SIGKILL');
  await doomed.exited;

  const db = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await db.connect();
  t.teardown(() => db.end());
  const stampedCount = async () =>
    Number(
      (await db.query(`SELECT count(*) AS n FROM "${cluster.schema}".player_sessions WHERE reason = 'node_lost' AND disconnected_at IS NOT NULL`)).rows[0].n,
    );
  await eventually(async () => (await stampedCount()) >= PLAYERS - RECONNECTING, 15_000, 100);
  const elapsed = Date.now() - killedAt;
  t.ok(elapsed <= 10_000, `all ${PLAYERS - RECONNECTING} lost players stamped in PostgreSQL ${elapsed} ms after kill -9 (bound 10 s)`);
  t.comment(`crash cleanup: ${PLAYERS - RECONNECTING} players offline and stamped ${elapsed} ms after kill -9`);

  const total = (await cluster.admin(survivor, 'GET', '/api/online/players?limit=1')).body.total;
  t.equal(total, RECONNECTING, 'only the reconnected players are online');
  const perUser = await db.query(
    `SELECT user_id, count(*) AS n, min(disconnected_at) AS at FROM "${cluster.schema}".player_sessions WHERE user_id LIKE 'lost-%' GROUP BY user_id`,
  );
  t.equal(perUser.rows.length, PLAYERS - RECONNECTING, 'every lost player has a session row');
  t.ok(
    perUser.rows.every((r) => Number(r.n) === 1),
    'exactly one logical session row each (logged out once)',
  );
  const lease = perUser.rows[0].at.getTime();
  t.ok(killedAt - lease >= 0 && killedAt - lease < 2000, "stamped with the dead node's last lease, just before the kill");
  const users = await db.query(`SELECT count(*) AS n FROM "${cluster.schema}".users WHERE id LIKE 'lost-%' AND last_spirit_gain_time IS NOT NULL`);
  t.equal(Number(users.rows[0].n), PLAYERS - RECONNECTING, 'last_spirit_gain_time set for all');
  const reaperLogs = survivor.logs.filter((l) => l.msg === 'reaped dead node');
  t.equal(
    reaperLogs.reduce((n, l) => n + Number(l.loggedOut), 0),
    PLAYERS - RECONNECTING,
    'the reaper logged each out once',
  );

  // The movers reconnected to the survivor and stay online.
  await eventually(() => movers.every((m) => m.connections.length === 2), 15_000);
  for (const [userId, before] of epochsBefore) {
    const player: { status: string; nodeId: string } = (await cluster.admin(survivor, 'GET', `/api/online/players/${userId}`)).body;
    t.equal(player.status, 'online', `${userId} online after reconnecting`);
    t.ok((await epochOf(userId)) > before, `${userId} has a newer epoch`);
    t.equal(player.nodeId, 'survivor');
  }
  const moverLogouts = await db.query(
    `SELECT count(*) AS n FROM "${cluster.schema}".player_sessions WHERE user_id LIKE 'mover-%' AND disconnected_at IS NOT NULL`,
  );
  t.equal(Number(moverLogouts.rows[0].n), 0, 'no reconnected player was logged out by the late reaper');
}
