import { readdirSync } from 'node:fs';
import { appendFile, cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t, { type Test as Tap } from 'tap';
import pg from 'pg';
import { PGlite } from '@electric-sql/pglite';
import { openDatabase } from '../../src/database/database.ts';
import {
  DEFAULT_MIGRATIONS_DIR,
  MIGRATION_LOCK_KEY,
  MigrationError,
  migrate,
  pgliteExecutor,
  withPoolExecutor,
  type SqlExecutor,
} from '../../src/database/migrate.ts';
import { testPostgres } from '../helpers/services.ts';

const REPO_MIGRATIONS = fileURLToPath(new URL('../../prisma/migrations/', import.meta.url));
const INIT = '20261122000000_init';
/** Every migration of the repository, in the order they apply (the first is INIT). */
const ALL = readdirSync(REPO_MIGRATIONS, { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name)
  .sort();

/** A private copy of the migrations folder the test may edit. */
async function migrationsCopy(t: Tap): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'gh-migrations-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await cp(REPO_MIGRATIONS, dir, { recursive: true });
  return dir;
}

// initdb of a new PGlite takes seconds; an empty cluster restored from a dump is ~3x faster.
let pristine: Promise<File | Blob> | undefined;
const pristineDump = () =>
  (pristine ??= (async () => {
    const lite = new PGlite();
    await lite.waitReady; // dumpDataDir before ready never settles
    const dump = await lite.dumpDataDir('none');
    await lite.close();
    return dump;
  })());

/** An empty in-memory PGlite, closed at teardown. */
async function freshPglite(t: Tap): Promise<{ lite: PGlite; db: SqlExecutor }> {
  const lite = new PGlite({ loadDataDir: await pristineDump() });
  t.teardown(() => lite.close());
  return { lite, db: pgliteExecutor(lite) };
}

t.test('the default migrations folder is the repository one, whatever the cwd', async (t) => {
  t.equal(DEFAULT_MIGRATIONS_DIR, REPO_MIGRATIONS);
  const lock = await readFile(join(REPO_MIGRATIONS, 'migration_lock.toml'), 'utf8');
  t.match(lock, /^provider = "postgresql"$/m);
});

t.test('PGlite: applies on an empty database, then nothing; Prisma-shaped history', async (t) => {
  const { db } = await freshPglite(t);
  const logs: string[] = [];
  t.equal(ALL[0], INIT);
  t.same(await migrate(db, { log: (m) => logs.push(m) }), { applied: ALL });
  t.match(logs.join('\n'), /applying migration 20261122000000_init/);
  t.same(await migrate(db, {}), { applied: [] }, 're-run applies nothing');

  const columns = await db.query<Record<string, unknown>>(
    `SELECT column_name, data_type, character_maximum_length AS len, is_nullable, column_default
     FROM information_schema.columns WHERE table_name = '_prisma_migrations' ORDER BY ordinal_position`,
  );
  t.same(columns, [
    { column_name: 'id', data_type: 'character varying', len: 36, is_nullable: 'NO', column_default: null },
    { column_name: 'checksum', data_type: 'character varying', len: 64, is_nullable: 'NO', column_default: null },
    { column_name: 'finished_at', data_type: 'timestamp with time zone', len: null, is_nullable: 'YES', column_default: null },
    { column_name: 'migration_name', data_type: 'character varying', len: 255, is_nullable: 'NO', column_default: null },
    { column_name: 'logs', data_type: 'text', len: null, is_nullable: 'YES', column_default: null },
    { column_name: 'rolled_back_at', data_type: 'timestamp with time zone', len: null, is_nullable: 'YES', column_default: null },
    { column_name: 'started_at', data_type: 'timestamp with time zone', len: null, is_nullable: 'NO', column_default: 'now()' },
    { column_name: 'applied_steps_count', data_type: 'integer', len: null, is_nullable: 'NO', column_default: '0' },
  ]);

  const rows = await db.query<Record<string, unknown>>('SELECT * FROM _prisma_migrations ORDER BY migration_name');
  t.same(
    rows.map((r) => r.migration_name),
    ALL,
  );
  const row = rows[0]!;
  const sqlBytes = await readFile(join(REPO_MIGRATIONS, INIT, 'migration.sql'));
  t.equal(row.checksum, createHash('sha256').update(sqlBytes).digest('hex'), 'checksum = sha256 of the file bytes');
  t.equal(row.migration_name, INIT);
  t.match(row.id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, 'id is a v4 uuid');
  t.ok(row.finished_at instanceof Date, 'finished_at set');
  t.ok(row.started_at instanceof Date && row.started_at <= (row.finished_at as Date), 'started_at <= finished_at');
  t.equal(row.applied_steps_count, 1);
  t.equal(row.logs, null);
  t.equal(row.rolled_back_at, null);

  // The schema itself, as Prisma names things.
  const indexes = await db.query<{ indexname: string }>("SELECT indexname FROM pg_indexes WHERE tablename IN ('users', 'player_sessions') ORDER BY indexname");
  t.same(
    indexes.map((i) => i.indexname),
    ['player_sessions_disconnected_at_idx', 'player_sessions_pkey', 'player_sessions_user_id_connected_at_idx', 'users_pkey'],
  );
  const [fk] = await db.query<Record<string, unknown>>(
    "SELECT conname, confdeltype, confupdtype FROM pg_constraint WHERE contype = 'f' AND conrelid = 'player_sessions'::regclass",
  );
  t.same(fk, { conname: 'player_sessions_user_id_fkey', confdeltype: 'c', confupdtype: 'c' }, 'FK cascades on delete and update');
});

t.test('a migration modified after it was applied is refused', async (t) => {
  const dir = await migrationsCopy(t);
  const { db } = await freshPglite(t);
  await migrate(db, { migrationsDir: dir });
  await appendFile(join(dir, INIT, 'migration.sql'), '\n-- an innocent-looking edit\n');
  const error = await migrate(db, { migrationsDir: dir }).catch((e: unknown) => e);
  t.ok(error instanceof MigrationError, 'MigrationError');
  t.equal((error as MigrationError).migration, INIT);
  t.match((error as Error).message, new RegExp(`migration ${INIT} was modified after it was applied`));
});

t.test('a migration recorded but missing from the folder is refused', async (t) => {
  const dir = await migrationsCopy(t);
  const { db } = await freshPglite(t);
  await mkdir(join(dir, '20990101000000_extra'));
  await writeFile(join(dir, '20990101000000_extra', 'migration.sql'), 'CREATE TABLE extra (id INTEGER);\n');
  t.same(await migrate(db, { migrationsDir: dir }), { applied: [...ALL, '20990101000000_extra'] }, 'applied in folder order');
  await rm(join(dir, '20990101000000_extra'), { recursive: true });
  await t.rejects(migrate(db, { migrationsDir: dir }), {
    name: 'MigrationError',
    migration: '20990101000000_extra',
    message: /20990101000000_extra is recorded in _prisma_migrations but missing/,
  });
});

t.test('a failed migration recorded in the table is refused; a rolled-back one is applied again', async (t) => {
  const dir = await migrationsCopy(t);
  const { db } = await freshPglite(t);
  await mkdir(join(dir, '20990101000000_extra'));
  await writeFile(join(dir, '20990101000000_extra', 'migration.sql'), 'CREATE TABLE extra (id INTEGER);\n');
  await migrate(db, { migrationsDir: dir });
  // What Prisma leaves behind when a migration fails half-way.
  await db.exec("DROP TABLE extra; UPDATE _prisma_migrations SET finished_at = NULL WHERE migration_name = '20990101000000_extra'");
  await t.rejects(migrate(db, { migrationsDir: dir }), {
    name: 'MigrationError',
    migration: '20990101000000_extra',
    message: /20990101000000_extra failed earlier/,
  });
  // `prisma migrate resolve --rolled-back` marks it so: the next run applies it again.
  await db.exec("UPDATE _prisma_migrations SET rolled_back_at = now() WHERE migration_name = '20990101000000_extra'");
  t.same(await migrate(db, { migrationsDir: dir }), { applied: ['20990101000000_extra'] });
  t.same(await db.query('SELECT count(*)::int AS n FROM extra'), [{ n: 0 }]);
});

t.test('a migration that fails leaves neither its changes nor a history row', async (t) => {
  const dir = await migrationsCopy(t);
  const { db } = await freshPglite(t);
  await mkdir(join(dir, '20990101000000_broken'));
  await writeFile(join(dir, '20990101000000_broken', 'migration.sql'), 'CREATE TABLE half (id INTEGER);\nSELECT 1/0;\n');
  await t.rejects(migrate(db, { migrationsDir: dir }), { name: 'MigrationError', migration: '20990101000000_broken', message: /division by zero/ });
  t.same(await db.query("SELECT to_regclass('half') AS t"), [{ t: null }], 'table of the failed migration rolled back');
  t.same(
    await db.query<{ migration_name: string }>('SELECT migration_name FROM _prisma_migrations ORDER BY migration_name'),
    ALL.map((migration_name) => ({ migration_name })),
    'earlier ones kept',
  );
});

t.test('PostgreSQL: migrations and their history go to the configured schema', async (t) => {
  const svc = await testPostgres(t);
  if (!svc) return;
  const db = await openDatabase({ url: svc.url, schema: svc.schema, pgliteDir: 'unused', poolMax: 2, migrate: true });
  t.teardown(() => db.close());
  t.same(db.appliedMigrations, ALL);
  const admin = new pg.Client({ connectionString: svc.url });
  await admin.connect();
  t.teardown(() => admin.end());
  const { rows } = await admin.query<{ table_schema: string; table_name: string }>(
    `SELECT table_schema, table_name FROM information_schema.tables WHERE table_name IN ('users', 'player_sessions', '_prisma_migrations') AND table_schema = $1 ORDER BY table_name`,
    [svc.schema],
  );
  t.same(
    rows.map((r) => r.table_name),
    ['_prisma_migrations', 'player_sessions', 'users'],
  );
  t.equal(await db.prisma.user.count(), 0, 'Prisma queries the same schema');

  // Prisma-style ?schema= in the URL selects the same schema when no schema option is given.
  const again = await openDatabase({ url: `${svc.url}?schema=${svc.schema}`, pgliteDir: 'unused', poolMax: 1, migrate: true });
  t.same(again.appliedMigrations, [], 're-run applies nothing');
  t.equal(await again.prisma.user.count(), 0);
  await again.close();
});

t.test('PostgreSQL: a missing schema is created', async (t) => {
  const svc = await testPostgres(t);
  if (!svc) return;
  const schema = `${svc.schema}_new`;
  const admin = new pg.Client({ connectionString: svc.url });
  await admin.connect();
  t.teardown(async () => {
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await admin.end();
  });
  const db = await openDatabase({ url: svc.url, schema, pgliteDir: 'unused', poolMax: 1, migrate: true });
  t.teardown(() => db.close());
  t.same(db.appliedMigrations, ALL);
  t.equal(await db.prisma.playerSession.count(), 0);
});

t.test('PostgreSQL: two nodes migrating at once apply each migration exactly once', async (t) => {
  const svc = await testPostgres(t);
  if (!svc) return;
  const options = { url: svc.url, schema: svc.schema, pgliteDir: 'unused', poolMax: 2, migrate: true };
  // Two openDatabase calls = two separate pools, as two processes would have.
  const [a, b] = await Promise.all([openDatabase(options), openDatabase(options)]);
  t.teardown(async () => {
    await a.close();
    await b.close();
  });
  t.same([...a.appliedMigrations, ...b.appliedMigrations], ALL, 'one applied them, the other found nothing pending');
  const rows = await a.prisma.$queryRawUnsafe<{ n: number }[]>('SELECT count(*)::int AS n FROM _prisma_migrations');
  t.same(rows, [{ n: ALL.length }]);
});

t.test('PostgreSQL: a node holding the lock too long makes the others fail, not hang', async (t) => {
  const svc = await testPostgres(t);
  if (!svc) return;
  const holder = new pg.Client({ connectionString: svc.url });
  await holder.connect();
  t.teardown(() => holder.end());
  const pool = new pg.Pool({ connectionString: svc.url, options: `-c search_path="${svc.schema}"` });
  t.teardown(() => pool.end());
  await holder.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
  try {
    const started = Date.now();
    await t.rejects(
      withPoolExecutor(pool, (db) => migrate(db, { lockTimeoutMs: 300 })),
      {
        name: 'MigrationError',
        message: /could not take the migration lock/,
      },
    );
    t.ok(Date.now() - started < 3000, 'gave up after the lock timeout');
  } finally {
    await holder.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
  }
  t.same(await withPoolExecutor(pool, (db) => migrate(db, {})), { applied: ALL }, 'works once the lock is free');
});

t.test('PGlite: two runs on one instance at once apply the migration once', async (t) => {
  const { db } = await freshPglite(t);
  const [a, b] = await Promise.all([migrate(db, {}), migrate(db, {})]);
  t.same([...a.applied, ...b.applied], ALL);
  t.same(await db.query('SELECT count(*)::int AS n FROM _prisma_migrations'), [{ n: ALL.length }]);
});

t.test('PGlite on disk: the directory is created and the data survives a reopen', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'gh-pglite-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const dir = join(root, 'nested', 'pglite');
  const first = await openDatabase({ pgliteDir: dir, poolMax: 1, migrate: true });
  t.equal(first.kind, 'pglite');
  t.same(first.appliedMigrations, ALL);
  await first.prisma.user.create({ data: { id: 'disk-1', username: 'kept' } });
  await first.close();
  await first.close(); // idempotent
  const second = await openDatabase({ pgliteDir: dir, poolMax: 1, migrate: true });
  t.teardown(() => second.close());
  t.same(second.appliedMigrations, []);
  t.equal((await second.prisma.user.findUnique({ where: { id: 'disk-1' } }))?.username, 'kept');
});

t.test('gatehouse migrate (npm run db:migrate): exit 0 with the applied names, exit 1 with one line', async (t) => {
  const cli = fileURLToPath(new URL('../../src/cli.ts', import.meta.url));
  const run = (env: Record<string, string>) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      execFile(process.execPath, ['--import=tsx', cli, 'migrate'], { env: { PATH: process.env.PATH ?? '', ...env } }, (error, stdout, stderr) =>
        resolve({ code: error ? (error.code as number) : 0, stdout, stderr }),
      );
    });
  const ok = await run({ PGLITE_DIR: 'memory://' });
  t.equal(ok.code, 0);
  t.match(ok.stdout, `applied ${ALL.length} migration(s): ${ALL.join(', ')}`);
  const down = await run({ DATABASE_URL: 'postgresql://postgres@127.0.0.1:1/test' });
  t.equal(down.code, 1);
  t.match(down.stderr, /^gatehouse: .*ECONNREFUSED.*\n$/);
  t.equal(down.stderr.trim().split('\n').length, 1, 'one line');
});
