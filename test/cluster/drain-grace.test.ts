/**
 * Drain with a logout grace across two nodes on real Redis + PostgreSQL: node A drains (SIGTERM)
 * and exits while its player is `reconnecting`; the player never comes back. Node B, still
 * alive (so A's shutdown leaves the grace to it instead of ending it at once), logs the player
 * out when the grace runs out, exactly once, and the database rows carry the time the session
 * ended on A, not the time B expired the grace.
 */
import t from 'tap';
import pg from 'pg';
import { CloseCode } from '../../src/protocol/close-codes.ts';
import { eventually } from '../helpers/build.ts';
import { startCluster } from '../helpers/cluster.ts';
import { TEST_DATABASE_URL } from '../helpers/services.ts';
import { TestClient } from '../helpers/ws-client.ts';

const GRACE_MS = 4000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

t.test('the grace of a drained node is expired by a surviving node, stamped with the end on the drained one', { timeout: 120_000 }, async (t) => {
  const cluster = await startCluster(t, ['drain-a', 'drain-b'], { LOGOUT_GRACE_MS: String(GRACE_MS), HEARTBEAT_TIMEOUT_MS: '10000' });
  if (!cluster) return;
  const [a, b] = cluster.nodes as [(typeof cluster.nodes)[0], (typeof cluster.nodes)[0]];
  const db = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await db.connect();
  t.teardown(() => db.end());
  const sessionRows = async () =>
    (await db.query(`SELECT disconnected_at, reason FROM "${cluster.schema}".player_sessions WHERE user_id = $1`, ['leaver'])).rows as Array<{
      disconnected_at: Date | null;
      reason: string | null;
    }>;
  const userRow = async () =>
    (await db.query(`SELECT last_logout_at, last_spirit_gain_time FROM "${cluster.schema}".users WHERE id = $1`, ['leaver'])).rows[0] as
      | { last_logout_at: Date | null; last_spirit_gain_time: Date | null }
      | undefined;
  const presence = async () => (await cluster.admin(b, 'GET', '/api/online/players/leaver')).body as { status: string; graceUntil: number | null };
  const logoutsOn = (node: typeof a) => node.logs.filter((l) => l.msg === 'user logged out' && l.userId === 'leaver');

  const { client } = await TestClient.open(cluster.wsUrl(a, 'leaver'));
  client.startPing(200);
  await eventually(async () => (await sessionRows()).length === 1, 10_000);
  t.equal((await presence()).status, 'online');

  // Drain A. The client does not reconnect (a TestClient never does).
  const exit = a.stop('SIGTERM');
  t.match(await client.next('reconnect', 5000), { type: 'reconnect' }, 'told to reconnect');
  const closed = await client.closed;
  const endedAt = Date.now();
  t.equal(closed.code, CloseCode.RESTART, 'closed with 1012');

  const during = await eventually(async () => {
    const p = await presence();
    return p.status === 'reconnecting' ? p : undefined;
  }, 5000);
  t.ok(during.graceUntil! >= endedAt + GRACE_MS - 1000 && during.graceUntil! <= endedAt + GRACE_MS + 1000, 'reconnecting until end + grace');
  t.equal((await exit).code, 0, 'node A exits 0');
  const exitedAt = Date.now();
  t.ok(exitedAt < endedAt + GRACE_MS, 'A was gone before the grace ran out');
  t.same(logoutsOn(a), [], 'A did not log the player out (another node was alive)');
  t.equal((await presence()).status, 'reconnecting', 'still reconnecting after A left');
  t.equal((await userRow())?.last_logout_at ?? null, null, 'database untouched during the grace');

  // B expires the grace.
  const line = await eventually(() => logoutsOn(b)[0], GRACE_MS + 10_000, 50);
  const expiredAt = Date.now();
  t.ok(expiredAt >= endedAt + GRACE_MS - 500, `logged out by B after the grace (${expiredAt - endedAt} ms after the end)`);
  t.equal(line.reason, 'shutdown', 'reason shutdown');
  t.equal(line.nodeId, 'drain-b', 'by node B');

  const rows = await eventually(async () => {
    const r = await sessionRows();
    return r.length === 1 && r[0]!.disconnected_at ? r : undefined;
  }, 10_000);
  const user = (await userRow())!;
  const disconnectedAt = rows[0]!.disconnected_at!.getTime();
  const lastLogoutAt = user.last_logout_at!.getTime();
  t.ok(Math.abs(disconnectedAt - endedAt) < 1000, `player_sessions.disconnected_at is the end on A (${disconnectedAt - endedAt} ms off)`);
  t.ok(Math.abs(lastLogoutAt - endedAt) < 1000, `users.last_logout_at too (${lastLogoutAt - endedAt} ms off)`);
  t.ok(lastLogoutAt < expiredAt - GRACE_MS / 2, 'not the time B expired the grace');
  t.equal(user.last_spirit_gain_time?.getTime(), lastLogoutAt, 'last_spirit_gain_time stamped the same');
  t.equal(rows[0]!.reason, 'shutdown');
  t.equal((await presence()).status, 'offline');

  await sleep(2500); // more than two polls of B's logout pipeline
  t.equal(logoutsOn(b).length, 1, 'exactly one logout');
  t.equal((await sessionRows()).length, 1, 'one session row');
});
