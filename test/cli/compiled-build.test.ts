/**
 * The build as production runs it: `node dist/server.js` (no tsx anywhere) on real PostgreSQL
 * and Redis, which also starts the lease keeper's worker thread from its compiled file; a player
 * connects and pings; SIGTERM drains and exits 0. dist/ is brought up to date first (as
 * `npm start` does).
 */
import { execFile } from 'node:child_process';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import t, { type Test } from 'tap';
import { startServer } from '../helpers/server-process.ts';
import { testPostgres, testRedis } from '../helpers/services.ts';
import { sdkClient } from '../client/helpers.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));

/**
 * The suite's PostgreSQL and Redis as a node's environment, with dist/ brought up to date; null
 * when a service is missing (the test is skipped). One at a time: a missing service skips the
 * test (plans it empty), which only one check may do.
 */
async function servicesAndBuild(t: Test): Promise<Record<string, string> | null> {
  const db = await testPostgres(t);
  if (!db) return null;
  const redis = await testRedis(t);
  if (!redis) return null;
  await promisify(execFile)(process.execPath, ['scripts/build.mjs', '--if-stale'], { cwd: root });
  return { DATABASE_URL: db.url, DATABASE_SCHEMA: db.schema, REDIS_URL: redis.url, REDIS_KEY_PREFIX: redis.prefix, AUTH_MODE: 'none', LOG_LEVEL: 'info' };
}

t.test('node dist/server.js on PostgreSQL + Redis', async (t) => {
  const env = await servicesAndBuild(t);
  if (!env) return;
  const server = await startServer(env, 60_000, { compiled: true });
  t.teardown(() => server.stop('SIGKILL'));
  const base = `http://127.0.0.1:${server.port}`;
  const ready = await fetch(`${base}/health/ready`);
  t.equal(ready.status, 200, 'ready');
  t.match(await ready.json(), { status: 'ok', checks: { database: 'ok', onlineStore: 'ok', gateway: 'ok' } });
  const deadline = Date.now() + 10_000;
  while (!server.logs.some((l) => l.msg === 'lease keeper thread ready') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  t.ok(
    server.logs.some((l) => l.msg === 'lease keeper thread ready'),
    'the lease keeper thread started from dist/',
  );
  t.equal((await fetch(`${base}/client.js`)).status, 200, 'the SDK browser build is served');

  const player = sdkClient({ url: `ws://127.0.0.1:${server.port}/ws`, userId: 'compiled-player', reconnect: false });
  await player.connect();
  t.ok((await player.ping()) >= 0, 'ping answered');
  await player.close();

  t.same(await server.stop('SIGTERM'), { code: 0, signal: null }, 'drained and exited 0');
});

t.test('npm start (scripts/start.mjs) serves dist/ from one process, without a TypeScript import when dist/ is current', async (t) => {
  const env = await servicesAndBuild(t);
  if (!env) return;
  const builtAt = statSync(join(root, 'dist', '.build-stamp')).mtimeMs;
  const server = await startServer(env, 60_000, { npmStart: true });
  t.teardown(() => server.stop('SIGKILL'));
  t.equal((await fetch(`http://127.0.0.1:${server.port}/health/ready`)).status, 200, 'ready');
  t.equal(statSync(join(root, 'dist', '.build-stamp')).mtimeMs, builtAt, 'dist/ was current: nothing was compiled');
  t.ok(
    server.logs.some((l) => l.msg === 'lease keeper thread ready'),
    'the compiled lease keeper started',
  );
  t.same(await server.stop('SIGTERM'), { code: 0, signal: null }, 'drained and exited 0');
});
