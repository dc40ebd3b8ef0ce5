/**
 * The embedded database runs on its own thread (src/database/embedded/): a long statement does
 * not stop the gateway's event loop, and one data directory serves one gateway.
 */
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from '../../src/database/database.ts';
import { DataDirLockedError } from '../../src/database/embedded/data-dir-lock.ts';
import { templatePath } from '../../src/database/embedded/template.mjs';
import { startServer } from '../helpers/server-process.ts';

t.test('a statement that keeps PGlite busy for a second leaves the event loop free', async (t) => {
  const db = await openDatabase({ pgliteDir: 'memory://', poolMax: 1, migrate: true });
  t.teardown(() => db.close());
  // Prisma compiles its query engine on the first query, on this thread: not what is measured.
  await db.prisma.$queryRawUnsafe('SELECT 1');
  let last = performance.now();
  let longestGap = 0;
  const ticker = setInterval(() => {
    const now = performance.now();
    longestGap = Math.max(longestGap, now - last);
    last = now;
  }, 5);
  const startedAt = performance.now();
  const rows = await db.prisma.$queryRawUnsafe<Array<{ n: bigint }>>('SELECT count(*) AS n FROM generate_series(1, 4000000)');
  const took = performance.now() - startedAt;
  clearInterval(ticker);
  t.equal(Number(rows[0]!.n), 4_000_000);
  t.ok(took > 300, `the statement kept PGlite busy (${Math.round(took)} ms)`);
  // In-process PGlite would show one gap as long as the statement.
  t.ok(longestGap < took / 3, `the event loop went on meanwhile (longest gap ${Math.round(longestGap)} ms of ${Math.round(took)} ms)`);
});

t.test('data survives a restart of the embedded database', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-embedded-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const first = await openDatabase({ pgliteDir: dir, poolMax: 1, migrate: true });
  await first.prisma.$executeRawUnsafe('CREATE TABLE kept (v text)');
  await first.prisma.$executeRawUnsafe(`INSERT INTO kept VALUES ('still here')`);
  await t.rejects(openDatabase({ pgliteDir: dir, poolMax: 1, migrate: true }), DataDirLockedError, 'a second open in this process is refused');
  await first.close();
  const second = await openDatabase({ pgliteDir: dir, poolMax: 1, migrate: true });
  t.teardown(() => second.close());
  t.same(await second.prisma.$queryRawUnsafe('SELECT v FROM kept'), [{ v: 'still here' }]);
  t.same(second.appliedMigrations, [], 'migrated once, on the first open');
});

t.test('a second gateway on the same data directory is refused; a killed holder does not keep it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-embedded-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const first = await startServer({ PGLITE_DIR: dir });
  t.teardown(() => first.stop('SIGKILL'));
  const refused = await startServer({ PGLITE_DIR: dir }).then(
    async (server) => {
      await server.stop('SIGKILL');
      return undefined;
    },
    (error: Error) => error,
  );
  t.ok(refused, 'the second gateway did not start');
  t.match(refused?.message, new RegExp(`in use by process ${first.child.pid}`), 'it names the gateway that has the directory');

  await first.stop('SIGKILL');
  const next = await startServer({ PGLITE_DIR: dir });
  t.teardown(() => next.stop('SIGKILL'));
  const ready = await fetch(`http://127.0.0.1:${next.port}/health/ready`);
  t.equal(ready.status, 200, 'after a kill -9 the next gateway takes the directory over at once');
  await next.stop();
});

t.test('a new data directory is unpacked from the install-time template; without one, initdb runs with progress lines', async (t) => {
  for (const template of [undefined, false] as const) {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-embedded-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const lines: string[] = [];
    const db = await openDatabase({ pgliteDir: dir, poolMax: 1, migrate: true, pgliteTemplate: template, log: (line) => lines.push(line) });
    t.same(await db.prisma.$queryRawUnsafe('SELECT count(*)::int AS n FROM users'), [{ n: 0 }], 'migrated and usable');
    await db.close();
    if (template === undefined) {
      t.ok(
        lines.some((line) => /from the template made at install/.test(line)),
        `made from the template (${templatePath()}; npm install makes it)`,
      );
    } else {
      t.ok(
        lines.some((line) => /creating the embedded database .*first start, no template/.test(line)),
        'initdb says what it is doing before it starts',
      );
      t.ok(
        lines.some((line) => /embedded database created in \d+ ms/.test(line)),
        'and when it is done',
      );
    }
  }
});
