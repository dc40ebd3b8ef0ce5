/**
 * `gatehouse migrate` (`npm run db:migrate`): applies pending migrations to the configured
 * database (DATABASE_URL / DATABASE_SCHEMA, or the embedded PGlite in PGLITE_DIR) and returns.
 * A failure is thrown; the CLI turns it into one line and exit code 1, so deploy scripts can
 * gate on it.
 */
import { loadConfig } from '../config.ts';
import { openDatabase } from '../database/database.ts';

export async function migrate(): Promise<void> {
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
