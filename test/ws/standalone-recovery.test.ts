/**
 * A node without Redis loses no logout to a crash or to a restart during a database outage
 * (src/presence/standalone-recovery.ts), on the real entry point as child processes:
 * - kill -9 of a node (memory online store, PostgreSQL): the next start stamps every player that
 *   was online with the time the node was last alive (node_lost). PostgreSQL rather than the
 *   embedded PGlite: PGlite does not promise that its last commits survive a killed process, and
 *   the recovery can only close the session rows the database kept;
 * - SIGTERM while PostgreSQL is unreachable: the logouts not yet written survive the restart
 *   and land with their original timestamps once the database is back.
 */
import t from 'tap';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { openDatabase } from '../../src/database/database.ts';
import { PrismaPlayerRepository } from '../../src/database/prisma-player-repository.ts';
import { eventually, TEST_ADMIN_TOKEN } from '../helpers/build.ts';
import { startServer } from '../helpers/server-process.ts';
import { testPostgres, TEST_DATABASE_URL } from '../helpers/services.ts';
import { TcpProxy } from '../helpers/tcp-proxy.ts';
import { TestClient } from '../helpers/ws-client.ts';

const PLAYERS = 20;
const users = Array.from({ length: PLAYERS }, (_, i) => `crash-${i}`);

/** A sample of the node's /metrics. */
async function metric(port: number, sample: string): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`, { headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` } });
  const line = (await res.text()).split('\n').find((l) => l.startsWith(`${sample} `));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

async function connectAll(port: number) {
  return Promise.all(users.map(async (u) => (await TestClient.open(`ws://127.0.0.1:${port}/ws?userId=${u}`)).client));
}

t.test('kill -9 without Redis: the next start logs every player out as of the crash', async (t) => {
  const svc = await testPostgres(t);
  if (!svc) return;
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-crash-'));
  const env = {
    AUTH_MODE: 'none',
    DATABASE_URL: svc.url,
    DATABASE_SCHEMA: svc.schema,
    NODE_STATE_FILE: join(dir, 'node-state.json'),
    NODE_ID: 'standalone-1',
    NODE_LEASE_INTERVAL_MS: '200',
    NODE_DEAD_AFTER_MS: '1000',
    ADMIN_TOKEN: TEST_ADMIN_TOKEN,
    LOG_LEVEL: 'info',
  };
  const first = await startServer(env);
  t.teardown(() => first.stop('SIGKILL'));
  const clients = await connectAll(first.port);
  t.teardown(() => clients.forEach((c) => c.terminate()));
  // The session rows are written just after each login: the node's own metrics say when all landed.
  await eventually(async () => (await metric(first.port, 'gatehouse_logins_written_total')) >= PLAYERS, 15_000, 100);

  const killedAt = Date.now();
  await first.stop('SIGKILL');
  clients.forEach((c) => c.terminate());

  const second = await startServer({ ...env, NODE_ID: 'standalone-2' });
  t.teardown(() => second.stop('SIGKILL'));
  const recovered = second.logs.find((l) => l.msg === 'recovered the logouts of the previous run');
  t.ok(recovered, 'the start reports the recovery');
  t.equal(recovered?.orphaned, PLAYERS, 'every player of the crashed run');
  t.equal(second.logs.filter((l) => l.msg === 'user logged out' && l.reason === 'node_lost').length, PLAYERS, 'one logout line each');
  // Run after the join, the recovery's duration would look like a lapse of the lease taken
  // before it. A lapse from a loaded machine later on is another matter: judged by its lease.
  const recoveredAt = Number(recovered?.time);
  t.ok(recoveredAt > 0, 'the recovery line has its time');
  t.notOk(
    second.logs.some((l) => typeof l.msg === 'string' && l.msg.startsWith('own lease lapsed') && typeof l.lastLease === 'number' && l.lastLease < recoveredAt),
    'the recovery ran before the node joined: no lease older than the recovery lapsed',
  );

  const { code } = await second.stop('SIGTERM');
  t.equal(code, 0);
  const db = await openDatabase({ url: svc.url, schema: svc.schema, pgliteDir: 'unused', poolMax: 1, migrate: false });
  t.teardown(() => db.close());
  const repo = new PrismaPlayerRepository(db.prisma);
  for (const u of users) {
    const [session] = await repo.listSessions(u, 1);
    t.equal(session?.reason, 'node_lost', `${u}: ended by the crash`);
    const at = session?.disconnectedAt?.getTime() ?? 0;
    // The last-alive time is refreshed every 200 ms: at most that long (plus a write) before the kill.
    t.ok(at <= killedAt && at >= killedAt - 1000, `${u}: stamped ${killedAt - at} ms before the kill`);
    t.equal((await repo.getUser(u))?.lastSpiritGainTime?.getTime(), at, `${u}: last_spirit_gain_time set`);
  }
});

t.test('SIGTERM during a database outage: the unwritten logouts land after the restart', async (t) => {
  const svc = await testPostgres(t);
  if (!svc) return;
  const proxy = await TcpProxy.start(TEST_DATABASE_URL);
  t.teardown(() => proxy.close());
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-outage-'));
  const env = {
    AUTH_MODE: 'none',
    DATABASE_URL: proxy.rewrite(svc.url),
    DATABASE_SCHEMA: svc.schema,
    NODE_STATE_FILE: join(dir, 'node-state.json'),
    LOGOUT_GRACE_MS: '0',
    LOGOUT_RETRY_BASE_MS: '50',
    LOGOUT_RETRY_MAX_MS: '200',
    SHUTDOWN_TIMEOUT_MS: '3000',
    LOG_LEVEL: 'info',
  };
  const first = await startServer({ ...env, NODE_ID: 'outage-1' });
  t.teardown(() => first.stop('SIGKILL'));
  const clients = await connectAll(first.port);
  const db = new pg.Client({ connectionString: svc.url });
  await db.connect();
  t.teardown(() => db.end());
  const sessions = async () =>
    (
      await db.query<{ user_id: string; disconnected_at: Date | null; reason: string | null }>(
        `SELECT user_id, disconnected_at, reason FROM "${svc.schema}".player_sessions ORDER BY user_id`,
      )
    ).rows;
  await eventually(async () => (await sessions()).length === PLAYERS, 10_000);

  proxy.cut();
  const closedFrom = Date.now();
  await Promise.all(clients.map((c) => c.close()));
  await eventually(() => first.logs.filter((l) => l.msg === 'user logged out').length === PLAYERS, 10_000);
  const closedUntil = Date.now();
  const { code } = await first.stop('SIGTERM');
  t.equal(code, 0, 'the node still shuts down cleanly');
  t.ok(
    first.logs.some((l) => l.msg === 'shutdown: logouts kept in NODE_STATE_FILE for the next start' && l.unwrittenLogouts === PLAYERS),
    'it says what it kept',
  );
  t.ok(
    (await sessions()).every((s) => s.disconnected_at === null),
    'nothing reached the database during the outage',
  );

  proxy.restore();
  const second = await startServer({ ...env, NODE_ID: 'outage-2' });
  t.teardown(() => second.stop('SIGKILL'));
  const rows = await sessions();
  t.equal(rows.length, PLAYERS);
  for (const row of rows) {
    t.equal(row.reason, 'closed', `${row.user_id}: the reason it really had`);
    const at = row.disconnected_at?.getTime() ?? 0;
    t.ok(at >= closedFrom - 5 && at <= closedUntil, `${row.user_id}: the time it really left`);
  }
  t.equal(second.logs.filter((l) => l.msg === 'user logged out').length, 0, 'no second logout: the first one was only late to the database');
});
