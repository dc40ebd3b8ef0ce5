import { createServer, type Socket } from 'node:net';
import t, { type Test as Tap } from 'tap';
import pg from 'pg';
import { openDatabase } from '../../src/database/database.ts';
import { PrismaPlayerRepository } from '../../src/database/prisma-player-repository.ts';
import { testPostgres } from '../helpers/services.ts';
import { playerRepositoryContract } from './player-repository.contract.ts';

t.test('PGlite (memory://)', async (t) => {
  playerRepositoryContract(t, (_t, onQuery) => openDatabase({ pgliteDir: 'memory://', poolMax: 1, migrate: true, onQuery }));
});

t.test('PostgreSQL', async (t) => {
  // Checked before the contract declares its tests: a missing service skips this whole test
  // (plans it empty), which it can no longer do once subtests exist.
  const svc = await testPostgres(t);
  if (!svc) return;
  playerRepositoryContract(t, (_t, onQuery) => openDatabase({ url: svc.url, schema: svc.schema, pgliteDir: 'unused', poolMax: 4, migrate: true, onQuery }));
});

const logoutRecord = {
  userId: 'u1',
  username: 'u1',
  logicalSessionId: 's1',
  nodeId: 'n1',
  epoch: 1,
  connectedAt: 1,
  logoutAt: 2,
  reason: 'client_close',
};

/** Elapsed ms of a promise that must reject. */
async function timeRejection(t: Tap, p: Promise<unknown>): Promise<number> {
  const started = Date.now();
  await t.rejects(p);
  return Date.now() - started;
}

t.test('a database outage makes writes reject quickly instead of hanging', async (t) => {
  // Nothing listens on port 1: connection refused.
  const refused = await openDatabase({ url: 'postgresql://postgres@127.0.0.1:1/test', pgliteDir: 'unused', poolMax: 2, migrate: false });
  t.teardown(() => refused.close());
  const repo = new PrismaPlayerRepository(refused.prisma);
  t.ok((await timeRejection(t, repo.recordLogouts([logoutRecord]))) < 3000, 'refused: rejected in under 3 s');
  t.ok((await timeRejection(t, repo.ping())) < 3000, 'ping rejects too');

  // A server that accepts and then never answers (a hung or black-holed database): the
  // connection timeout must turn it into an error.
  const sockets = new Set<Socket>();
  const silent = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    for (const socket of sockets) socket.destroy();
    silent.close();
  });
  const port = (silent.address() as { port: number }).port;
  const hung = await openDatabase({ url: `postgresql://postgres@127.0.0.1:${port}/test`, pgliteDir: 'unused', poolMax: 2, migrate: false });
  t.teardown(() => hung.close());
  const elapsed = await timeRejection(t, new PrismaPlayerRepository(hung.prisma).recordLogouts([logoutRecord]));
  t.ok(elapsed < 5000, `silent server: rejected after ${elapsed} ms (connect timeout), not hung`);
});

t.test('openDatabase with migrate=true fails on an unreachable server and leaks nothing', async (t) => {
  const started = Date.now();
  await t.rejects(openDatabase({ url: 'postgresql://postgres@127.0.0.1:1/test', pgliteDir: 'unused', poolMax: 2, migrate: true }), {
    message: /ECONNREFUSED/,
  });
  t.ok(Date.now() - started < 3000);
});

t.test('an idle connection killed by the server does not crash the process', async (t) => {
  const svc = await testPostgres(t);
  if (!svc) return;
  const logs: string[] = [];
  const db = await openDatabase({ url: svc.url, schema: svc.schema, pgliteDir: 'unused', poolMax: 1, migrate: true, log: (m) => logs.push(m) });
  t.teardown(() => db.close());
  const repo = new PrismaPlayerRepository(db.prisma);
  const marker = `SELECT 'idle-kill-${svc.schema}'`;
  await db.prisma.$queryRawUnsafe(marker); // leaves exactly this pool's connection idle, marked
  const admin = new pg.Client({ connectionString: svc.url });
  await admin.connect();
  t.teardown(() => admin.end());
  const { rows } = await admin.query('SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity WHERE query = $1', [marker]);
  t.same(rows, [{ killed: true }], 'the idle connection was terminated');
  for (let i = 0; i < 50 && !logs.some((l) => l.includes('idle connection error')); i++) await new Promise((r) => setTimeout(r, 20));
  t.match(logs.join('\n'), /idle connection error/, 'the error was logged, not thrown');
  await t.resolves(repo.ping(), 'the next query opens a new connection');
});
