/**
 * The batched database side of logins (src/presence/login-writer.ts), on a real embedded database:
 * the logins of one turn of the event loop are one statement, larger bursts are cut at
 * batchMax, logins that arrive while a statement is in flight go out together in the next one,
 * order is kept, and a refused write is counted and warned about, never thrown.
 */
import t from 'tap';
import { LoginWriter } from '../../src/presence/login-writer.ts';
import { openDatabase } from '../../src/database/database.ts';
import type { LoginWrite, PlayerRepository } from '../../src/presence/player-repository.ts';
import { PrismaPlayerRepository } from '../../src/database/prisma-player-repository.ts';
import { collectingLogger } from '../helpers/core.ts';

const T0 = Date.UTC(2026, 0, 1);

t.test('a burst of logins: one statement per batchMax, every row written', async (t) => {
  const statements: string[] = [];
  const db = await openDatabase({ pgliteDir: 'memory://', poolMax: 1, migrate: true, onQuery: (sql) => statements.push(sql) });
  t.teardown(() => db.close());
  const repository = new PrismaPlayerRepository(db.prisma);
  const writer = new LoginWriter({ repository, log: collectingLogger(), now: Date.now, batchMax: 100, lingerMs: 0 });
  statements.length = 0;
  for (let i = 0; i < 250; i++) {
    writer.write({ userId: `burst-${i}`, username: `b${i}`, loginAt: T0 + i, session: { id: `burst-s${i}`, nodeId: 'n1', epoch: 1 } });
  }
  t.equal(statements.length, 0, 'nothing sent while the burst is still coming in');
  await new Promise((resolve) => setImmediate(resolve));
  await writer.flush();
  t.equal(statements.filter((s) => s.includes('INSERT INTO player_sessions')).length, 3, '250 logins, batchMax 100: three statements');
  t.equal(writer.written, 250);
  t.equal((await repository.listOpenSessions('n1', 1000)).length, 250);

  // Two logins of the same user in order: the later one wins, as it happened.
  writer.write({ userId: 'twice', username: 'first', loginAt: T0 + 1 });
  await writer.flush();
  writer.write({ userId: 'twice', username: 'second', loginAt: T0 + 2 });
  await writer.flush();
  t.equal((await repository.getUser('twice'))?.username, 'second');
});

t.test('logins arriving while a statement is in flight go out together in the next one', async (t) => {
  const statements: string[] = [];
  const db = await openDatabase({ pgliteDir: 'memory://', poolMax: 1, migrate: true, onQuery: (sql) => statements.push(sql) });
  t.teardown(() => db.close());
  const real = new PrismaPlayerRepository(db.prisma);
  // The real repository, with its first login statement held back: a slow database.
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  const batches: number[] = [];
  const repository: PlayerRepository = Object.create(real, {
    recordLogins: {
      value: async (logins: readonly LoginWrite[]) => {
        batches.push(logins.length);
        if (batches.length === 1) await held;
        return real.recordLogins(logins);
      },
    },
  });
  const writer = new LoginWriter({ repository, log: collectingLogger(), now: Date.now, batchMax: 100, lingerMs: 0 });
  statements.length = 0;
  writer.write({ userId: 'slow-0', username: 's0', loginAt: T0 });
  await new Promise((resolve) => setImmediate(resolve));
  t.same(batches, [1], 'the first login is on its way');
  // Five more turns of the event loop, ten logins each, while that statement is held.
  for (let turn = 0; turn < 5; turn++) {
    for (let i = 0; i < 10; i++) writer.write({ userId: `slow-${turn}-${i}`, username: 's', loginAt: T0 + 1 });
    await new Promise((resolve) => setImmediate(resolve));
  }
  t.same(batches, [1], 'nothing else is sent while the statement is in flight');
  release();
  await writer.flush();
  t.same(batches, [1, 50], 'the fifty logins of five turns went out as one statement');
  t.equal(statements.filter((s) => s.includes('INSERT INTO player_sessions')).length, 2);
  t.equal(writer.written, 51);
  t.equal((await real.getUser('slow-4-9'))?.username, 's', 'every row written');
});

t.test('with a linger, logins of several turns share one statement, sent once the linger has passed', async (t) => {
  const statements: string[] = [];
  const db = await openDatabase({ pgliteDir: 'memory://', poolMax: 1, migrate: true, onQuery: (sql) => statements.push(sql) });
  t.teardown(() => db.close());
  const repository = new PrismaPlayerRepository(db.prisma);
  const writer = new LoginWriter({ repository, log: collectingLogger(), now: Date.now, batchMax: 100, lingerMs: 150 });
  statements.length = 0;
  const firstAt = performance.now();
  // Ten turns of the event loop, three logins each: a storm's logins, one socket event at a time.
  for (let turn = 0; turn < 10; turn++) {
    for (let i = 0; i < 3; i++) writer.write({ userId: `linger-${turn}-${i}`, username: 'l', loginAt: T0 });
    await new Promise((resolve) => setImmediate(resolve));
  }
  t.equal(statements.length, 0, 'nothing sent within the linger');
  while (writer.written < 30 && performance.now() - firstAt < 5000) await new Promise((resolve) => setTimeout(resolve, 10));
  t.ok(performance.now() - firstAt >= 150, 'not before the linger passed');
  t.equal(statements.filter((s) => s.includes('INSERT INTO player_sessions')).length, 1, 'thirty logins of ten turns: one statement');
  t.equal(writer.written, 30);
});

t.test('a refused write is counted and warned about once, never thrown', async (t) => {
  const db = await openDatabase({ pgliteDir: 'memory://', poolMax: 1, migrate: true });
  const repository = new PrismaPlayerRepository(db.prisma);
  await db.close(); // every statement now fails
  const log = collectingLogger();
  const writer = new LoginWriter({ repository, log, now: Date.now, batchMax: 10, lingerMs: 0 });
  for (let i = 0; i < 25; i++) writer.write({ userId: `down-${i}`, username: 'x', loginAt: T0 });
  await t.resolves(writer.flush());
  t.equal(writer.failed, 3, 'three batches refused');
  t.equal(writer.written, 0);
  t.equal(log.messages('database login write failed').length, 1, 'one warning for the outage, not one per batch');
});
