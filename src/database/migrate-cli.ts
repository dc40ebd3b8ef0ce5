/**
 * `npm run db:migrate`: applies pending migrations to the configured database (DATABASE_URL /
 * DATABASE_SCHEMA, or the embedded PGlite in PGLITE_DIR) and exits. Exit code 0 on success,
 * 1 with a one-line reason otherwise, so deploy scripts can gate on it.
 */
import { loadConfig } from '../config.ts';
import { openDatabase } from './database.ts';

async function main(): Promise<void> {
  const config = loadConfig();
  const db = await openDatabase({
    url: config.DATABASE_URL,
    schema: config.DATABASE_SCHEMA,
    pgliteDir: config.PGLITE_DIR,
    poolMax: 1,
    migrate: true,
    log: (msg) => console.log(msg),
  });
  try {
    const applied = db.appliedMigrations;
    console.log(applied.length > 0 ? `applied ${applied.length} migration(s): ${applied.join(', ')}` : 'database is up to date');
  } finally {
    await db.close();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    // One line, never a stack or the URL: the message is what an operator acts on.
    const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    console.error(`db:migrate failed: ${message.replace(/\s+/g, ' ')}`);
    process.exit(1);
  },
);
