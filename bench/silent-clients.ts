/**
 * Silent clients: N game clients on one Gatehouse node (Redis + PostgreSQL, the test settings of
 * test/gateway/frozen-client.test.ts) stop sending app pings all at once, their sockets open and
 * answering WebSocket pings. Per client: the time from its last frame to offline in the store and
 * to its row's `disconnected_at` in PostgreSQL (polled every 10 ms), against the bound
 * HEARTBEAT_TIMEOUT_MS + one watchdog tick + 500 ms, and the same from the tick that timed it
 * out (its 'heartbeat timeout' log line: the gateway's own part). `--profile=FILE` writes a V8 CPU profile of
 * the node over the timeout burst only (summarise it with bench/profile-summary.ts).
 *
 *   node --import tsx bench/silent-clients.ts [--clients=1000] [--rounds=1] [--profile=/tmp/silent.cpuprofile]
 *
 * Needs PostgreSQL and Redis as the tests reach them (test/helpers/services.ts); uses its own
 * schema and key prefix, removed afterwards.
 */
import { writeFileSync } from 'node:fs';
import pg from 'pg';
import { Redis } from 'ioredis';
import { createSigner } from 'fast-jwt';
import { startServer } from '../test/helpers/server-process.ts';
import { TEST_DATABASE_URL, TEST_REDIS_URL, deleteRedisPrefix, uniqueName } from '../test/helpers/services.ts';
import { TEST_ADMIN_TOKEN, TEST_JWT_SECRET } from '../test/helpers/build.ts';
import { freePort } from '../test/helpers/ports.ts';
import { type RawClient, nodeStalledMs, openMany, ping, watchLogouts } from '../test/helpers/silent-clients.ts';
import { CpuProfile } from './lib/inspector.ts';

const arg = (name: string, fallback: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? fallback;
const CLIENTS = Number(arg('clients', '1000'));
const ROUNDS = Number(arg('rounds', '1'));
const PROFILE = arg('profile', '');
const TIMEOUT_MS = 1500;
const TICK_MS = 250;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;

async function round(n: number): Promise<void> {
  const schema = uniqueName('gh_bench');
  const prefix = `${uniqueName('ghbench')}:`;
  const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await admin.connect();
  await admin.query(`CREATE SCHEMA "${schema}"`);
  const inspectPort = await freePort();
  const server = await startServer({
    DATABASE_URL: TEST_DATABASE_URL,
    DATABASE_SCHEMA: schema,
    REDIS_URL: TEST_REDIS_URL,
    REDIS_KEY_PREFIX: prefix,
    AUTH_JWT_SECRET: TEST_JWT_SECRET,
    ADMIN_TOKEN: TEST_ADMIN_TOKEN,
    LOG_LEVEL: 'info',
    LOGOUT_GRACE_MS: '0',
    NODE_ID: 'silent-node',
    HEARTBEAT_TIMEOUT_MS: String(TIMEOUT_MS),
    WATCHDOG_INTERVAL_MS: String(TICK_MS),
    WS_PING_INTERVAL_MS: '200',
    HEARTBEAT_FLUSH_INTERVAL_MS: '250',
    MAX_CONNECTIONS: String(CLIENTS + 100),
    NODE_OPTIONS: `--inspect-port=127.0.0.1:${inspectPort}`,
  });
  const redis = new Redis(TEST_REDIS_URL);
  try {
    const sign = createSigner({ key: TEST_JWT_SECRET, expiresIn: 3_600_000 });
    const baseUrl = `http://127.0.0.1:${server.port}`;
    const urlOf = (userId: string) => `ws://127.0.0.1:${server.port}/ws?token=${sign({ sub: userId })}`;
    // They ping while the others connect (opening 1,000 takes longer than the timeout).
    const clients: RawClient[] = [];
    const pinger = setInterval(() => clients.forEach(ping), 250);
    for (let i = 0; i < CLIENTS; i += 25) clients.push(...(await openMany(urlOf, `silent-${i / 25}`, Math.min(25, CLIENTS - i))));
    await sleep(1500); // logins written, heartbeats flowing
    const profile = PROFILE ? await CpuProfile.start(server.child.pid!, inspectPort, 200) : undefined;
    const stalledBefore = await nodeStalledMs(baseUrl);
    clearInterval(pinger);
    clients.forEach(ping);
    const firstFrame = Math.min(...clients.map((c) => c.lastFrame));
    const watch = await watchLogouts(redis, admin, { prefix, schema }, clients, firstFrame + TIMEOUT_MS + 15_000);
    if (profile) writeFileSync(PROFILE.replace(/(\.cpuprofile)?$/, ROUNDS > 1 ? `-${n}.cpuprofile` : '.cpuprofile'), await profile.stop());
    const stall = (await nodeStalledMs(baseUrl)) - stalledBefore;
    const offline = clients.map((c) => (watch.offlineAt.get(c.userId) ?? Number.NaN) - c.lastFrame);
    const written = clients.map((c) => (watch.writtenAt.get(c.userId) ?? Number.NaN) - c.lastFrame);
    const bound = TIMEOUT_MS + TICK_MS + 500;
    const line = (name: string, xs: number[]) =>
      `${name} min ${Math.min(...xs)} p50 ${pct(xs, 50)} p90 ${pct(xs, 90)} max ${Math.max(...xs)} ms, over ${bound}: ${xs.filter((x) => !(x <= bound)).length}`;
    await sleep(1000); // the node's log lines still in the pipe
    // The node's own view (its log lines' times), from the first client's last frame.
    const logged = (msg: string) => {
      const times = server.logs.filter((l) => l.msg === msg && String(l.userId).startsWith('silent-')).map((l) => Number(l.time) - firstFrame);
      return times.length === 0 ? 'none' : `${Math.min(...times)}..${Math.max(...times)}`;
    };
    // From the tick that timed each one out (its 'heartbeat timeout' line): the gateway's own
    // latency, without the tick's phase (0..WATCHDOG_INTERVAL_MS) that the bound allows for.
    const timedOutAt = new Map(server.logs.filter((l) => l.msg === 'heartbeat timeout').map((l) => [String(l.userId), Number(l.time)]));
    const sinceTimeout = (at: Map<string, number>) => clients.map((c) => (at.get(c.userId) ?? Number.NaN) - (timedOutAt.get(c.userId) ?? Number.NaN));
    console.log(
      `round ${n}: ${CLIENTS} silent clients (offline ${watch.offlineAt.size}, written ${watch.writtenAt.size}); node stall ${stall} ms\n` +
        `  after the last frame sent: ${line('offline', offline)}\n  after the last frame sent: ${line('written', written)}\n` +
        `  after the node timed it out: ${line('offline', sinceTimeout(watch.offlineAt))}\n` +
        `  after the node timed it out: ${line('written', sinceTimeout(watch.writtenAt))}\n` +
        `  node log, ms after the first last frame: 'heartbeat timeout' ${logged('heartbeat timeout')}, 'user logged out' ${logged('user logged out')}`,
    );
    for (const c of clients) c.ws.terminate();
  } finally {
    redis.disconnect();
    await server.stop('SIGKILL');
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await admin.end();
    await deleteRedisPrefix(prefix);
  }
}

for (let n = 1; n <= ROUNDS; n++) await round(n);
