/**
 * The `gatehouse` command as an operator meets it: --help, --version, token, check-config,
 * unknown input; and `serve` on development defaults with no ADMIN_TOKEN, which makes one for
 * the run and prints it with the URLs (the token then opens the admin API).
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { jwtVerify } from 'jose';
import { startServer } from '../helpers/server-process.ts';

const cli = fileURLToPath(new URL('../../src/cli.ts', import.meta.url));
const version = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
const SECRET = 'cli-test-secret-0123456789abcdef-xyz';

function run(args: string[], env: Record<string, string> = {}) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(process.execPath, ['--import=tsx', cli, ...args], { env: { PATH: process.env.PATH ?? '', ...env } }, (error, stdout, stderr) =>
      resolve({ code: error ? Number(error.code) : 0, stdout, stderr }),
    );
  });
}

t.test('--version and --help', async (t) => {
  const v = await run(['--version']);
  t.equal(v.code, 0);
  t.equal(v.stdout, `${version}\n`);
  const h = await run(['--help']);
  t.equal(h.code, 0);
  for (const command of ['serve', 'token <userId>', 'check-config', 'migrate', '--version']) t.match(h.stdout, command);
  t.equal((await run(['help'])).stdout, h.stdout, '`help` is --help');
});

t.test('unknown command or option: exit 1, one line', async (t) => {
  for (const args of [['frobnicate'], ['--frobnicate'], ['serve', 'extra']]) {
    const r = await run(args);
    t.equal(r.code, 1, args.join(' '));
    t.match(r.stderr, /^gatehouse: .+\n$/);
    t.equal(r.stdout, '');
  }
});

t.test('token: a JWT the gateway accepts, with the configured iss/aud and the asked lifetime', async (t) => {
  const env = { AUTH_JWT_SECRET: SECRET, AUTH_JWT_ISSUER: 'studio-auth', AUTH_JWT_AUDIENCE: 'gatehouse' };
  const r = await run(['token', 'alice', '--ttl', '15m', '--name', 'Alice'], env);
  t.equal(r.code, 0, r.stderr);
  const { payload } = await jwtVerify(r.stdout.trim(), new TextEncoder().encode(SECRET), { issuer: 'studio-auth', audience: 'gatehouse' });
  t.equal(payload.sub, 'alice');
  t.equal(payload.name, 'Alice');
  t.equal(payload.exp! - payload.iat!, 900, '15m');
  const plain = await run(['token', 'bob'], { AUTH_JWT_SECRET: SECRET });
  const { payload: p2 } = await jwtVerify(plain.stdout.trim(), new TextEncoder().encode(SECRET));
  t.equal(p2.exp! - p2.iat!, 3600, 'default 1h');
  t.equal(p2.iss, undefined);
});

t.test('token refusals', async (t) => {
  const cases: Array<[string[], Record<string, string>, RegExp]> = [
    [['token', 'alice'], {}, /AUTH_JWT_SECRET is not set/],
    [['token'], { AUTH_JWT_SECRET: SECRET }, /usage: gatehouse token/],
    [['token', 'not valid!'], { AUTH_JWT_SECRET: SECRET }, /not a valid userId/],
    [['token', 'alice', '--ttl', 'soon'], { AUTH_JWT_SECRET: SECRET }, /--ttl "soon" is not a duration/],
    [['token', 'alice', '--ttl', '2d'], { AUTH_JWT_SECRET: SECRET, AUTH_JWT_MAX_LIFETIME_S: '86400' }, /exceeds AUTH_JWT_MAX_LIFETIME_S/],
    [['token', 'alice'], { AUTH_JWT_SECRET: 'short' }, /invalid configuration: AUTH_JWT_SECRET must be at least 32 characters/],
  ];
  for (const [args, env, message] of cases) {
    const r = await run(args, env);
    t.equal(r.code, 1, args.join(' '));
    t.match(r.stderr, message);
    t.equal(r.stdout, '', 'no token printed');
  }
});

t.test('check-config: valid settings printed, secrets never', async (t) => {
  const env = {
    AUTH_JWT_SECRET: SECRET,
    ADMIN_TOKEN: 'admin-token-value-123456',
    DATABASE_URL: 'postgresql://gate:db-password-xyz@db.example.com:5432/gatehouse',
    REDIS_URL: 'redis://:redis-password-xyz@redis.example.com:6379',
  };
  const r = await run(['check-config'], env);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /^configuration is valid \(NODE_ENV=development\)/);
  t.match(r.stdout, /database: PostgreSQL postgresql:\/\/\*\*\*@db\.example\.com:5432\/gatehouse/);
  t.match(r.stdout, /online store: Redis redis:\/\/\*\*\*@redis\.example\.com:6379/);
  t.match(r.stdout, /\nHEARTBEAT_TIMEOUT_MS=\d+\n/, 'effective settings listed');
  for (const secret of [SECRET, env.ADMIN_TOKEN, 'db-password-xyz', 'redis-password-xyz']) t.notMatch(r.stdout + r.stderr, secret);
  const cluster = await run(['check-config'], { ...env, REDIS_CLUSTER_NODES: '10.0.0.11:6379,10.0.0.12:6379' });
  t.equal(cluster.code, 0, cluster.stderr);
  t.match(cluster.stdout, /online store: Redis Cluster 10\.0\.0\.11:6379,10\.0\.0\.12:6379 \(64 buckets\)/);
  t.notMatch(cluster.stdout + cluster.stderr, 'redis-password-xyz', 'the cluster password (from REDIS_URL) is not printed either');
  const bad = await run(['check-config'], { NODE_ENV: 'production' });
  t.equal(bad.code, 1);
  t.match(bad.stderr, /^gatehouse: invalid configuration: .+\n$/);
});

t.test('serve in development without ADMIN_TOKEN: a token for the run, printed with the URLs, opens the admin API', async (t) => {
  const server = await startServer({ NODE_ENV: 'development', PGLITE_DIR: 'memory://', LOG_LEVEL: 'info' });
  t.teardown(() => server.stop());
  const deadline = Date.now() + 10_000;
  while (!server.output.some((line) => line.includes('Admin token')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  const banner = server.output.join('\n');
  t.match(banner, `gatehouse ${version} listening on http://127.0.0.1:${server.port}`);
  t.match(banner, `http://127.0.0.1:${server.port}/docs`);
  t.match(banner, `http://127.0.0.1:${server.port}/admin`);
  const token = /Admin token for this run \(set ADMIN_TOKEN to choose your own\): (\S+)/.exec(banner)?.[1];
  t.ok(token && token.length >= 16, 'token printed');
  t.notMatch(JSON.stringify(server.logs), token!, 'never in the log');
  const base = `http://127.0.0.1:${server.port}`;
  t.equal((await fetch(`${base}/api/nodes`, { headers: { authorization: `Bearer ${token}` } })).status, 200, 'the printed token works');
  t.equal((await fetch(`${base}/api/nodes`, { headers: { authorization: 'Bearer not-the-token-at-all' } })).status, 401);
  const health = (await (await fetch(`${base}/health`)).json()) as { version: string };
  t.equal(health.version, version, 'version in /health');
});
