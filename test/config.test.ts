/** Configuration: defaults, one clear line per bad variable, production rules, README in sync. */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { ConfigError, EnvSchema, loadConfig } from '../src/config.ts';
import { renderReadme } from '../scripts/config-table.ts';

t.test('defaults', async (t) => {
  const config = loadConfig({});
  t.equal(config.PORT, 3000);
  t.equal(config.HEARTBEAT_TIMEOUT_MS, 10_000);
  t.equal(config.WATCHDOG_INTERVAL_MS, 1000);
  t.equal(config.SEND_QUEUE_MAX, 64);
  t.equal(config.MAX_PAYLOAD_BYTES, 64 * 1024 + 4096, 'the largest valid frame: MAX_CONTENT_BYTES plus the envelope');
  t.equal(config.SESSION_POLICY, 'replace');
  t.equal(config.AUTH_MODE, 'none', 'development without a secret: AUTH_MODE none');
  t.equal(config.DATABASE_URL, undefined, 'embedded database');
  t.equal(config.REDIS_URL, undefined, 'memory online store');
  t.match(config.NODE_ID, /^[A-Za-z0-9_.:-]+-[0-9a-f]{6}$/, 'hostname + random suffix');
  t.not(loadConfig({}).NODE_ID, config.NODE_ID, 'unique per process');
  t.ok(Object.isFrozen(config));
  t.equal(loadConfig({ AUTH_JWT_SECRET: 'k'.repeat(32) }).AUTH_MODE, 'jwt', 'jwt whenever a secret is set');
  t.equal(loadConfig({ PORT: '' }).PORT, 3000, 'empty = unset');
});

t.test('MAX_PAYLOAD_BYTES follows MAX_CONTENT_BYTES unless set', async (t) => {
  t.equal(loadConfig({ MAX_CONTENT_BYTES: '200000' }).MAX_PAYLOAD_BYTES, 204_096, 'a larger content limit lets its frames in');
  t.equal(loadConfig({ MAX_CONTENT_BYTES: '200000', MAX_PAYLOAD_BYTES: '8192' }).MAX_PAYLOAD_BYTES, 8192, 'an explicit value is kept');
});

t.test('values are converted from strings', async (t) => {
  const config = loadConfig({ PORT: '8080', DB_MIGRATE_ON_START: 'false', SESSION_POLICY: 'multi' });
  t.equal(config.PORT, 8080);
  t.equal(config.DB_MIGRATE_ON_START, false);
  t.equal(config.SESSION_POLICY, 'multi');
});

t.test('a bad value stops startup with one line naming the variable', async (t) => {
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ PORT: 'eighty' }, /^PORT must be an integer from 0 to 65535/],
    [{ PORT: '70000' }, /^PORT must be an integer/],
    [{ HEARTBEAT_TIMEOUT_MS: '1.5' }, /^HEARTBEAT_TIMEOUT_MS must be an integer/],
    [{ SESSION_POLICY: 'sometimes' }, /^SESSION_POLICY must be one of replace, multi/],
    [{ DB_MIGRATE_ON_START: 'maybe' }, /^DB_MIGRATE_ON_START must be true or false/],
    [{ REDIS_URL: 'http://x' }, /^REDIS_URL must match/],
    [{ DATABASE_URL: 'mysql://x' }, /^DATABASE_URL must match/],
    [{ AUTH_JWT_SECRET: 'short' }, /^AUTH_JWT_SECRET must be at least 32 characters/],
    [{ NODE_ID: 'has space' }, /^NODE_ID must match/],
    [{ WATCHDOG_INTERVAL_MS: '5000', HEARTBEAT_TIMEOUT_MS: '1000' }, /^WATCHDOG_INTERVAL_MS must not exceed/],
    [{ CLOSE_TIMEOUT_MS: '5' }, /^CLOSE_TIMEOUT_MS must be an integer from 10/],
    [{ NODE_STALL_LIMIT_MS: '5000' }, /^NODE_STALL_LIMIT_MS must exceed NODE_DEAD_AFTER_MS/],
    // The missing variable is named, not the AUTH_MODE it would have defaulted to.
    [
      { NODE_ENV: 'production', ADMIN_TOKEN: 'a'.repeat(16) },
      /^AUTH_JWT_SECRET, AUTH_JWT_PUBLIC_KEY or AUTH_JWT_JWKS_URL must be set when NODE_ENV=production/,
    ],
  ];
  for (const [env, message] of cases) {
    const error = t.throws(() => loadConfig(env), ConfigError) as unknown as Error;
    t.match(error.message, message);
    t.notMatch(error.message, /\n/, 'one line');
  }
});

t.test('NODE_STALL_LIMIT_MS: 30 s by default, above NODE_DEAD_AFTER_MS when that is larger', async (t) => {
  t.equal(loadConfig({}).NODE_STALL_LIMIT_MS, 30_000);
  t.equal(loadConfig({ NODE_DEAD_AFTER_MS: '120000' }).NODE_STALL_LIMIT_MS, 240_000, 'unset: twice a larger NODE_DEAD_AFTER_MS');
  t.equal(loadConfig({ NODE_LEASE_INTERVAL_MS: '250', NODE_DEAD_AFTER_MS: '1500', NODE_STALL_LIMIT_MS: '4000' }).NODE_STALL_LIMIT_MS, 4000);
});

t.test('secrets never appear in a config error', async (t) => {
  const secret = 'super-secret-value';
  const error = t.throws(() => loadConfig({ AUTH_JWT_SECRET: secret })) as unknown as Error;
  t.notMatch(error.message, secret);
});

t.test('README lists every variable with its default', async (t) => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  t.equal(renderReadme(readme), readme, 'README table is generated from the schema: run npm run docs:config');
  for (const key of Object.keys(EnvSchema.properties)) t.match(readme, `| \`${key}\` |`);
});

t.test('Redis Cluster: REDIS_CLUSTER_NODES with REDIS_URL for the credentials, buckets by default', async (t) => {
  const cluster = loadConfig({ REDIS_URL: 'rediss://u:p@ignored', REDIS_CLUSTER_NODES: '10.0.0.1:7000,[::1]:7001' });
  t.equal(cluster.REDIS_BUCKETS, 64, 'a cluster is split in 64 buckets unless told');
  t.equal(loadConfig({ REDIS_URL: 'redis://127.0.0.1' }).REDIS_BUCKETS, 1, 'one Redis: one bucket, keys as before');
  t.equal(loadConfig({ REDIS_URL: 'redis://x', REDIS_CLUSTER_NODES: 'a:1', REDIS_BUCKETS: '12' }).REDIS_BUCKETS, 12);
  const refused = (env: Record<string, string>, pattern: RegExp, what: string) => t.throws(() => loadConfig(env), pattern, what);
  refused({ REDIS_CLUSTER_NODES: 'a:1' }, /REDIS_URL must be set with REDIS_CLUSTER_NODES/, 'no credentials URL');
  refused({ REDIS_URL: 'redis://x/3', REDIS_CLUSTER_NODES: 'a:1' }, /only database 0/, 'a database other than 0');
  refused({ REDIS_URL: 'redis://x', REDIS_CLUSTER_NODES: 'a:1', REDIS_SENTINELS: 's:1', REDIS_SENTINEL_NAME: 'm' }, /exclude each other/, 'with sentinels');
  refused({ REDIS_URL: 'redis://x', REDIS_CLUSTER_NODES: 'a:1', REDIS_KEY_PREFIX: '{gh}:' }, /must not contain \{ or \}/, 'a prefix with a hash tag');
  refused({ REDIS_URL: 'redis://x', REDIS_CLUSTER_NODES: 'not an address' }, /REDIS_CLUSTER_NODES/, 'a malformed node list');
  refused({ REDIS_URL: 'redis://x', REDIS_BUCKETS: '0' }, /REDIS_BUCKETS/, 'no bucket');
  refused({ REDIS_URL: 'redis://x', REDIS_CLUSTER_NODES: 'a:1', REDIS_BUCKETS: '1' }, /at least 2 with REDIS_CLUSTER_NODES/, 'one bucket on a cluster');
  refused({ REDIS_URL: 'redis://x', REDIS_BUCKETS: '1025' }, /REDIS_BUCKETS/, 'more buckets than tags are searched for');
});
