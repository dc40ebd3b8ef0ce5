/**
 * Graceful shutdown of the real process: SIGTERM tells every session to reconnect (a reconnect
 * frame, close 1012), and, this being the only node, runs their logouts (reason shutdown, after
 * no grace since nobody would be left to expire it) into the database, and exits 0 within
 * SHUTDOWN_TIMEOUT_MS.
 */
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSigner } from 'fast-jwt';
import { CloseCode } from '../../src/protocol/close-codes.ts';
import { openDatabase } from '../../src/database/database.ts';
import { PrismaPlayerRepository } from '../../src/database/prisma-player-repository.ts';
import { startServer } from '../helpers/server-process.ts';
import { TestClient } from '../helpers/ws-client.ts';

const SECRET = 'shutdown-test-secret-0123456789abcdef';

t.test('SIGTERM: reconnect frame + close 1012, logouts land, exit 0', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-shutdown-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const server = await startServer({ PGLITE_DIR: dir, AUTH_JWT_SECRET: SECRET, SHUTDOWN_TIMEOUT_MS: '8000' });
  t.teardown(() => server.stop('SIGKILL'));
  const sign = createSigner({ key: SECRET, expiresIn: 60_000 });
  const users = ['s1', 's2', 's3'];
  const clients = await Promise.all(users.map(async (u) => (await TestClient.open(`ws://127.0.0.1:${server.port}/ws?token=${sign({ sub: u })}`)).client));
  clients.forEach((c) => c.startPing(200));

  const started = Date.now();
  const exit = server.stop('SIGTERM');
  const closes = await Promise.all(clients.map((c) => c.closed));
  t.same(
    closes.map((c) => c.code),
    users.map(() => CloseCode.RESTART),
    'every session closed with 1012',
  );
  for (const c of clients) t.match(await c.next('reconnect', 1000), { type: 'reconnect', reason: 'server restarting' }, 'told to reconnect first');
  const { code } = await exit;
  t.equal(code, 0, 'exit 0');
  t.ok(Date.now() - started < 8000, 'within SHUTDOWN_TIMEOUT_MS');
  const logouts = server.logs.filter((l) => l.msg === 'user logged out');
  t.same(logouts.map((l) => l.userId).sort(), users, 'one logout per user');
  t.ok(
    logouts.every((l) => l.reason === 'shutdown'),
    'reason shutdown',
  );
  t.notOk(JSON.stringify(server.logs).includes(SECRET), 'secret never logged');

  // The logouts reached the database before exit.
  const db = await openDatabase({ pgliteDir: dir, poolMax: 1, migrate: false });
  t.teardown(() => db.close());
  const repo = new PrismaPlayerRepository(db.prisma);
  for (const u of users) {
    const row = await repo.getUser(u);
    t.ok(row?.lastSpiritGainTime, `${u} stamped`);
    t.equal((await repo.listSessions(u, 1))[0]?.reason, 'shutdown');
  }
});
