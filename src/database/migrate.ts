/**
 * Applies the SQL migrations of `prisma/migrations/<name>/migration.sql` and records them in a
 * `_prisma_migrations` table laid out exactly like Prisma's, so `prisma migrate deploy` (where a
 * schema engine exists) and this migrator agree on what has been applied. `prisma migrate`
 * itself cannot run on this platform (no engine download, see ARCHITECTURE.md).
 *
 * Differences from Prisma, all on the safe side: each migration runs in one transaction together
 * with its `_prisma_migrations` row, so a failed migration leaves nothing behind (no half-applied
 * schema, no failed row to resolve by hand).
 */
import { createHash, randomUUID } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import type { PGliteInterface, Transaction } from '@electric-sql/pglite';

/** Runs statements on one connection (the one that holds the migration lock). */
export interface SqlQueryable {
  /** One statement, with `$1..$n` parameters; resolves to the result rows. */
  query<R = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<R[]>;
  /** A script of several statements, no parameters (simple query protocol). */
  exec(script: string): Promise<void>;
}

/** A single database connection the migrator drives. */
export interface SqlExecutor extends SqlQueryable {
  /** Runs `fn` between BEGIN and COMMIT on this same connection; ROLLBACK when it throws. */
  transaction<T>(fn: (tx: SqlQueryable) => Promise<T>): Promise<T>;
}

/** Refusal to migrate: the message names the migration and what is wrong with it. */
export class MigrationError extends Error {
  override name = 'MigrationError';
  constructor(
    message: string,
    /** The migration folder name concerned, when there is one. */
    readonly migration?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface MigrateOptions {
  /** Folder of `<name>/migration.sql` entries; default `<repo>/prisma/migrations`. */
  migrationsDir?: string;
  log?: (msg: string) => void;
  /**
   * The schema the connection's search_path points at; created if missing (under the lock, so
   * two nodes never race on CREATE SCHEMA). Without it the connection's current schema is used.
   */
  schema?: string;
  /** How long to wait for another node's migration lock before giving up (default 60 s). */
  lockTimeoutMs?: number;
}

/** Prisma's own advisory lock key, so this migrator and `prisma migrate` exclude each other. */
export const MIGRATION_LOCK_KEY = 72707369;

/** Resolved from this module, not the cwd: `src/database/` -> `<repo>/prisma/migrations`. */
export const DEFAULT_MIGRATIONS_DIR = fileURLToPath(new URL('../../prisma/migrations/', import.meta.url));

const CREATE_MIGRATIONS_TABLE = `CREATE TABLE IF NOT EXISTS _prisma_migrations (
    id                      VARCHAR(36) PRIMARY KEY NOT NULL,
    checksum                VARCHAR(64) NOT NULL,
    finished_at             TIMESTAMPTZ,
    migration_name          VARCHAR(255) NOT NULL,
    logs                    TEXT,
    rolled_back_at          TIMESTAMPTZ,
    started_at              TIMESTAMPTZ NOT NULL DEFAULT now(),
    applied_steps_count     INTEGER NOT NULL DEFAULT 0
)`;

interface MigrationFile {
  name: string;
  sql: string;
  checksum: string;
}

interface MigrationRow {
  migration_name: string;
  checksum: string;
  finished_at: Date | null;
  rolled_back_at: Date | null;
}

/** SHA-256 hex of the file's bytes, as Prisma computes `_prisma_migrations.checksum`. */
export function migrationChecksum(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** The migrations of a folder, in folder-name order (Prisma's order: names start with a timestamp). */
export async function readMigrations(dir: string): Promise<MigrationFile[]> {
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch (error) {
    throw new MigrationError(`cannot read migrations folder ${dir}: ${(error as Error).message}`, undefined, { cause: error });
  }
  const migrations: MigrationFile[] = [];
  for (const name of entries.sort()) {
    if (!(await stat(join(dir, name))).isDirectory()) continue; // migration_lock.toml
    let bytes: Buffer;
    try {
      bytes = await readFile(join(dir, name, 'migration.sql'));
    } catch (error) {
      throw new MigrationError(`migration ${name} has no readable migration.sql`, name, { cause: error });
    }
    migrations.push({ name, sql: bytes.toString('utf8'), checksum: migrationChecksum(bytes) });
  }
  return migrations;
}

const quoteIdent = (name: string) => `"${name.replaceAll('"', '""')}"`;

async function acquireLock(db: SqlExecutor, timeoutMs: number): Promise<void> {
  // The lock is session-level (it outlives this transaction); the transaction only scopes the
  // lock_timeout, so a node stuck holding the lock makes the others fail loudly, not hang.
  try {
    await db.transaction(async (tx) => {
      await tx.exec(`SET LOCAL lock_timeout = ${Math.max(1, Math.floor(timeoutMs))}`);
      await tx.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    });
  } catch (error) {
    throw new MigrationError(
      `could not take the migration lock (pg_advisory_lock(${MIGRATION_LOCK_KEY})) within ${timeoutMs} ms: ${(error as Error).message}`,
      undefined,
      { cause: error },
    );
  }
}

/** Refuses a table whose history does not match the folder (see MigrationError cases). */
function verifyHistory(rows: readonly MigrationRow[], files: readonly MigrationFile[]): Set<string> {
  const byName = new Map(files.map((f) => [f.name, f]));
  const applied = new Set<string>();
  for (const row of rows) {
    if (row.rolled_back_at !== null) continue; // resolved as rolled back: apply again
    const name = row.migration_name;
    if (row.finished_at === null) {
      throw new MigrationError(
        `migration ${name} failed earlier (finished_at is null in _prisma_migrations): fix the database, then mark it rolled back or applied`,
        name,
      );
    }
    const file = byName.get(name);
    if (!file) {
      throw new MigrationError(`migration ${name} is recorded in _prisma_migrations but missing from the migrations folder`, name);
    }
    if (file.checksum !== row.checksum) {
      throw new MigrationError(
        `migration ${name} was modified after it was applied (checksum ${row.checksum} in the database, ${file.checksum} on disk)`,
        name,
      );
    }
    applied.add(name);
  }
  return applied;
}

/**
 * Applies pending migrations under Prisma's advisory lock: two nodes starting at once never
 * both migrate; the second waits, then finds nothing pending.
 * @returns the names applied by this call, in order.
 * @throws MigrationError on a modified, failed or missing migration, or when one fails to apply.
 */
export async function migrate(db: SqlExecutor, options: MigrateOptions = {}): Promise<{ applied: string[] }> {
  const log = options.log ?? (() => {});
  const files = await readMigrations(options.migrationsDir ?? DEFAULT_MIGRATIONS_DIR);
  await acquireLock(db, options.lockTimeoutMs ?? 60_000);
  try {
    // Checked first: CREATE SCHEMA IF NOT EXISTS needs the CREATE privilege on the database even
    // when the schema exists, which a least-privilege application role may not have.
    if (options.schema && (await db.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [options.schema])).length === 0) {
      await db.exec(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(options.schema)}`);
    }
    const [current] = await db.query<{ schema: string | null }>('SELECT current_schema() AS schema');
    if (!current?.schema) {
      throw new MigrationError('no schema to migrate: the search_path names no existing schema');
    }
    await db.exec(CREATE_MIGRATIONS_TABLE);
    const rows = await db.query<MigrationRow>(
      'SELECT migration_name, checksum, finished_at, rolled_back_at FROM _prisma_migrations ORDER BY started_at, migration_name',
    );
    const done = verifyHistory(rows, files);
    const applied: string[] = [];
    for (const file of files) {
      if (done.has(file.name)) continue;
      log(`applying migration ${file.name} to schema ${current.schema}`);
      let skipped = false;
      try {
        await db.transaction(async (tx) => {
          // PGlite is one session, so the advisory lock is re-entrant there: a concurrent run on
          // the same instance is told apart here, inside the (serialised) transaction.
          const again = await tx.query('SELECT 1 FROM _prisma_migrations WHERE migration_name = $1 AND finished_at IS NOT NULL AND rolled_back_at IS NULL', [
            file.name,
          ]);
          if (again.length > 0) {
            skipped = true;
            return;
          }
          await tx.exec(file.sql);
          await tx.query(
            `INSERT INTO _prisma_migrations (id, checksum, finished_at, migration_name, applied_steps_count)
             VALUES ($1, $2, clock_timestamp(), $3, 1)`,
            [randomUUID(), file.checksum, file.name],
          );
        });
      } catch (error) {
        throw new MigrationError(`migration ${file.name} failed and was rolled back: ${(error as Error).message}`, file.name, {
          cause: error,
        });
      }
      if (!skipped) applied.push(file.name);
    }
    if (applied.length === 0) log(`no pending migrations (${files.length} applied)`);
    return { applied };
  } finally {
    // A broken connection cannot unlock, but it also ends the session, which frees the lock.
    await db.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => {});
  }
}

/** An executor over one pg connection (a `pg.Client`, or a `PoolClient` held for the whole run). */
export function pgExecutor(client: pg.ClientBase): SqlExecutor {
  const queryable: SqlQueryable = {
    query: async <R>(sql: string, params?: readonly unknown[]) => (await client.query(sql, params ? [...params] : [])).rows as R[],
    exec: async (script) => {
      await client.query(script);
    },
  };
  return {
    ...queryable,
    async transaction(fn) {
      await client.query('BEGIN');
      try {
        const result = await fn(queryable);
        await client.query('COMMIT');
        return result;
      } catch (error) {
        await client.query('ROLLBACK').catch(() => {});
        throw error;
      }
    },
  };
}

/**
 * Checks a connection out of the pool for `fn` (the advisory lock is per session, so every
 * statement of a run must use the same connection). The connection is destroyed, not reused,
 * when `fn` fails: it may sit in an aborted transaction or still hold the lock.
 */
export async function withPoolExecutor<T>(pool: pg.Pool, fn: (db: SqlExecutor) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  // An error on a checked-out client (server restart) would otherwise be an unhandled 'error'.
  const onError = () => {};
  client.on('error', onError);
  let failed = false;
  try {
    return await fn(pgExecutor(client));
  } catch (error) {
    failed = true;
    throw error;
  } finally {
    client.removeListener('error', onError);
    client.release(failed);
  }
}

function pgliteQueryable(db: PGliteInterface | Transaction): SqlQueryable {
  return {
    query: async <R>(sql: string, params?: readonly unknown[]) => (await db.query<R>(sql, params ? [...params] : [])).rows,
    exec: async (script) => {
      await db.exec(script);
    },
  };
}

/** An executor over an embedded PGlite instance (a single connection by nature). */
export function pgliteExecutor(db: PGliteInterface): SqlExecutor {
  return {
    ...pgliteQueryable(db),
    transaction: (fn) => db.transaction((tx) => fn(pgliteQueryable(tx))),
  };
}
