/**
 * The database resource: embedded PGlite by default, PostgreSQL when DATABASE_URL is set.
 * Migrates at startup (DB_MIGRATE_ON_START) and exposes the player repository.
 */
import fp from 'fastify-plugin';
import { openDatabase, type Database } from '../../database/database.ts';
import type { PlayerRepository } from '../../presence/player-repository.ts';
import { PrismaPlayerRepository } from '../../database/prisma-player-repository.ts';
import { instrument } from '../../metrics/instrument.ts';

declare module 'fastify' {
  interface FastifyInstance {
    database: Database;
    players: PlayerRepository;
  }
}

export default fp(
  async (app) => {
    const { config } = app;
    const database = await openDatabase({
      url: config.DATABASE_URL,
      schema: config.DATABASE_SCHEMA,
      pgliteDir: config.PGLITE_DIR,
      poolMax: config.DATABASE_POOL_MAX,
      migrate: config.DB_MIGRATE_ON_START,
      log: (message: string) => app.log.info(message),
    });
    app.log.info({ database: database.kind }, 'database ready');
    app.decorate('database', database);
    // Timed where it is created (the metrics plugin registers first).
    app.decorate('players', instrument(new PrismaPlayerRepository(database.prisma), app.metrics.observeDbCall));
    app.addHook('onClose', async () => {
      await database.close();
    });
  },
  { name: 'database', dependencies: ['config', 'metrics'] },
);
