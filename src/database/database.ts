/**
 * Opens the database: embedded PGlite when no URL is configured (one node, no setup), PostgreSQL
 * otherwise. Both are reached through a pg pool (the embedded one over a MessagePort to its
 * thread, see embedded/), driven by the same Prisma client and pg adapter, and migrated by the
 * same migrator before the client is handed out.
 */
import { setFlagsFromString } from 'node:v8';
import pg from 'pg';
import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from '../generated/prisma/client.ts';
import { EmbeddedThread } from './embedded/embedded-thread.ts';
import { migrate, withPoolExecutor } from './migrate.ts';

// V8 compiles WebAssembly twice: at once with its baseline compiler (Liftoff), then the hot
// functions again with its optimizing one (TurboFan), keeping both. Both WebAssembly users here
// (Prisma's 3 MB query compiler, PGlite's 9 MB Postgres) run short calls where that second
// compile buys nothing measurable and costs ~100 MB of RSS and the CPU of compiling on the
// node's core (embedded: 1,000 Prisma upserts 938 ms CPU with Liftoff only vs 1,039 ms, RSS 425
// vs 532 MB, this stop). Set before either compiles; the flag is the process's (threads too).
setFlagsFromString('--liftoff-only');
// V8 recompiles a WebAssembly-to-JavaScript call wrapper once it has been called 1,000 times.
// That tier-up frees dead wrapper code, and in a process that has ended an earlier PGlite thread
// it sometimes freed code of a module that thread had already destroyed: a SIGSEGV in
// WasmEngine::FreeDeadCode under Runtime_TierUpWasmToJSWrapper (core dump of a test process that
// opened and closed embedded databases in turn; about 1 such process in 10 crashed). Every first start
// without a template ends one thread (initdb) before the serving one: never tier wrappers up.
setFlagsFromString('--wasm-wrapper-tiering-budget=2147483647');

export interface DatabaseOptions {
  /** PostgreSQL URL; absent = embedded PGlite in `pgliteDir`. */
  url?: string;
  /**
   * PostgreSQL schema (search_path and Prisma's table qualifier); default: the URL's `?schema=`,
   * else public. Ignored by PGlite, which always uses public.
   */
  schema?: string;
  /** PGlite data directory (created if missing); `memory://` keeps everything in memory. */
  pgliteDir: string;
  /** PostgreSQL pool size. */
  poolMax: number;
  /** Apply pending migrations before returning. */
  migrate: boolean;
  /** Override of the migrations folder (tests); default `<repo>/prisma/migrations`. */
  migrationsDir?: string;
  /** Override of the embedded database's template (tests); false = none: initdb. Default: the one `npm install` made. */
  pgliteTemplate?: string | false;
  log?: (msg: string) => void;
  /**
   * Called with the text of every SQL statement sent to the driver (pool connection or PGlite),
   * Prisma's and the migrator's alike: trace logging, and tests that count round trips.
   */
  onQuery?: (sql: string) => void;
}

/** An open database: the Prisma client plus what it takes to shut it down. */
export interface Database {
  kind: 'pglite' | 'postgres';
  prisma: PrismaClient;
  /** Migrations applied while opening (empty when none were pending or `migrate` was false). */
  appliedMigrations: readonly string[];
  /** Disconnects Prisma, then ends the pool / closes PGlite. Idempotent. */
  close(): Promise<void>;
}

/** Connection attempts fail after this long, so an outage surfaces as an error, not a hang. */
export const CONNECT_TIMEOUT_MS = 2000;

const SCHEMA_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

type QueryFn = (...args: unknown[]) => unknown;

function statementText(arg: unknown): string {
  if (typeof arg === 'string') return arg;
  const text = (arg as { text?: unknown } | null)?.text;
  return typeof text === 'string' ? text : String(arg);
}

/** Wraps `target.query` (and `exec`) so every statement is reported before it is sent. */
function tapQueries(target: object, onQuery: (sql: string) => void, methods: readonly string[]): void {
  const record = target as Record<string, QueryFn>;
  for (const method of methods) {
    const original = record[method];
    if (typeof original !== 'function') continue;
    record[method] = function (this: unknown, ...args: unknown[]) {
      onQuery(statementText(args[0]));
      return original.apply(this, args);
    };
  }
}

/**
 * Opens (and by default migrates) the database.
 * @throws when migration fails (the pool / PGlite is closed first) or the schema name is invalid.
 */
export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  const log = options.log ?? (() => {});
  return options.url ? openPostgres(options.url, options, log) : openPglite(options, log);
}

async function openPglite(options: DatabaseOptions, log: (msg: string) => void): Promise<Database> {
  if (options.schema) {
    // One gateway per embedded database: there is nothing to share it with, so no schema.
    log(`DATABASE_SCHEMA=${options.schema} is ignored by the embedded PGlite database (it uses public)`);
  }
  const thread = await EmbeddedThread.start({ dir: options.pgliteDir, log, template: options.pgliteTemplate });
  // PGlite is one backend: one connection, so a transaction never interleaves with another's statements.
  const pool = new pg.Pool({
    max: 1,
    stream: () => thread.connect(),
    user: 'postgres',
    database: 'postgres',
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
  });
  return overPool('pglite', pool, 'public', options, log, () => thread.close());
}

/** Prisma-style `?schema=` of the URL (what Prisma itself would use when no schema is given). */
function schemaOfUrl(url: string): string | undefined {
  try {
    return new URL(url).searchParams.get('schema') || undefined;
  } catch {
    return undefined; // not WHATWG-parsable (e.g. a socket path): pg parses it on its own
  }
}

async function openPostgres(url: string, options: DatabaseOptions, log: (msg: string) => void): Promise<Database> {
  // Always explicit: Prisma qualifies its queries with "public" when it is not told a schema,
  // while raw SQL follows search_path (which may start with "$user"); both must agree.
  const schema = options.schema ?? schemaOfUrl(url) ?? 'public';
  if (!SCHEMA_NAME.test(schema)) {
    throw new Error(`invalid database schema name ${JSON.stringify(schema)}`);
  }
  const pool = new pg.Pool({
    connectionString: url,
    max: options.poolMax,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    keepAlive: true,
    // Unqualified SQL (raw queries, migrations, _prisma_migrations) lands in the schema too.
    options: `-c search_path="${schema}"`,
  });
  return overPool('postgres', pool, schema, options, log, async () => {});
}

/**
 * The Prisma client over a pg pool, PostgreSQL's or the embedded thread's: one code path for
 * both, migrations included. `closeServer` runs after the pool has ended.
 */
async function overPool(
  kind: Database['kind'],
  pool: pg.Pool,
  schema: string,
  options: DatabaseOptions,
  log: (msg: string) => void,
  closeServer: () => Promise<void>,
): Promise<Database> {
  // An idle client losing its connection (server restart) emits 'error' on the pool: without a
  // listener that would crash the process. The next query simply opens a new connection.
  pool.on('error', (error) => log(`database pool: idle connection error: ${error.message}`));
  const onQuery = options.onQuery;
  if (onQuery) pool.on('connect', (client) => tapQueries(client, onQuery, ['query']));
  let applied: string[] = [];
  try {
    if (options.migrate) {
      ({ applied } = await withPoolExecutor(pool, (db) => migrate(db, { migrationsDir: options.migrationsDir, log, schema })));
    }
  } catch (error) {
    await pool.end().catch(() => {});
    await closeServer().catch(() => {});
    throw error;
  }
  // Prisma qualifies every generated query with a schema ("public" unless told otherwise), so
  // search_path alone is not enough: the adapter must be given the schema as well.
  const adapter = new PrismaPg(pool, { schema });
  const prisma = new PrismaClient({ adapter });
  let closing: Promise<void> | undefined;
  return {
    kind,
    prisma,
    appliedMigrations: applied,
    close: () =>
      (closing ??= (async () => {
        await prisma.$disconnect().catch(() => {});
        await pool.end().catch(() => {});
        await closeServer();
      })()),
  };
}
