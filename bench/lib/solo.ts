/**
 * One server under test and one load generator, started as `npm run bench` starts them (pinned,
 * with a private Redis and a fresh PostgreSQL schema when the server needs them), for the
 * single-server tools (heap-profile.ts, alloc-profile.ts).
 */
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { LoadProcess } from './load.ts';
import { BenchDatabase, DEFAULT_DATABASE_URL } from './pg.ts';
import { hasTaskset } from './proc.ts';
import { PrivateRedis } from './redis.ts';
import { SERVERS, startServer, type ServerId } from './servers.ts';

export interface SoloOptions {
  id: ServerId;
  /** Gatehouse from another checkout ('' = this one). */
  gatehouseDir: string;
  /** Names the node and the Redis prefix. */
  label: string;
  extraEnv?: Record<string, string>;
}

export async function startSolo(options: SoloOptions) {
  const spec = SERVERS[options.id];
  if (!spec) throw new Error(`unknown server ${options.id}`);
  const pinned = hasTaskset();
  const redis = spec.needsRedis ? await PrivateRedis.start(pinned ? 1 : null) : undefined;
  const db = spec.needsPg ? await BenchDatabase.connect(process.env.BENCH_DATABASE_URL ?? DEFAULT_DATABASE_URL) : undefined;
  const schema = db ? await db.createSchema() : undefined;
  const server = await startServer(
    spec,
    {
      serverCore: pinned ? 0 : null,
      adminToken: randomBytes(16).toString('hex'),
      ...(redis ? { redis } : {}),
      ...(db ? { db } : {}),
      ...(options.gatehouseDir ? { gatehouseDir: resolve(options.gatehouseDir) } : {}),
    },
    { nodeId: `${options.id}-${options.label}`, redisPrefix: `${options.label}:`, ...(schema ? { schema } : {}), extraEnv: options.extraEnv ?? {} },
  );
  const load = await LoadProcess.start(0, pinned ? 1 : null);
  return {
    spec,
    server,
    load,
    async stop(): Promise<void> {
      await server.stop();
      await load.kill();
      if (schema && db) await db.dropSchema(schema);
      await db?.close();
      await redis?.stop();
    },
  };
}
