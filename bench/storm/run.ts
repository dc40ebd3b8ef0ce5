/**
 * `npm run bench -- --scenario=storm` — connection storms (issue 17), per server (raw ws,
 * Socket.IO 4 + Redis adapter, Gatehouse embedded, Gatehouse Redis + PostgreSQL), each pinned to
 * core 0 with the load generators on core 1:
 *
 * - burst: 2,000 bystanders connected and pinging once a second; then 5,000 new clients connect
 *   as fast as the server takes them (500 handshakes in flight). Server CPU µs per accepted
 *   connection, logins/s, handshake p50/p99 (attempt start to the server's first frame), failed
 *   handshakes by kind (a 503 with Retry-After is not a failure: the client comes back after it,
 *   as the SDK does, and is counted as deferred), the bystanders' pong p99 during the storm.
 * - reconnect: 5,000 clients connected (reconnecting on their own with the SDK's backoff,
 *   src/client/backoff.ts: full jitter from 500 ms, Retry-After honoured); the server is killed
 *   (SIGKILL) and started again on the same port: time until every client is back, failed
 *   attempts, deferrals, most attempts one client needed, server CPU µs per reconnection.
 *
 *   npm run bench -- --scenario=storm [--quick] [--mode=burst|reconnect|both] [--servers=raw-ws,gatehouse]
 *                    [--clients=5000] [--bystanders=2000] [--concurrency=500] [--label=NAME] [--gatehouse=DIR] [--out=DIR]
 *
 * Gatehouse runs as in the other scenarios (bench/lib/servers.ts: AUTH_MODE=none, LOG_LEVEL=warn),
 * so every server does the same work per handshake apart from its own. Writes
 * bench/results/<date>-storm[-<label>][-quick].{json,md}.
 */
import { Cleanups } from '../lib/cleanups.ts';
import { randomBytes } from 'node:crypto';
import { cpus, release, totalmem } from 'node:os';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT, LoadProcess } from '../lib/load.ts';
import { commandOutput, hasTaskset, loadAverage, pinSelf, reapStaleChildren, sleep } from '../lib/proc.ts';
import { gatehouseDirArg, labelArg, splitOption } from '../lib/args.ts';
import { PrivateRedis } from '../lib/redis.ts';
import { BenchDatabase, DEFAULT_DATABASE_URL } from '../lib/pg.ts';
import { SERVERS, SERVER_ORDER, startServer, type Infra, type RunningServer, type ServerId } from '../lib/servers.ts';
import { Histogram } from '../lib/histogram.ts';
import type { StormFigures, StormReply, WindowReply } from '../lib/ipc.ts';
import { stormMarkdown, type BurstRow, type ReconnectRow, type StormResults } from './report.ts';

type Mode = 'burst' | 'reconnect';

interface Args {
  quick: boolean;
  modes: Mode[];
  servers: ServerId[];
  clients: number;
  bystanders: number;
  concurrency: number;
  label: string;
  out: string;
  gatehouse: string | undefined;
  /** `--env KEY=VALUE` (repeatable): settings of the Gatehouse servers (e.g. MAX_PENDING_LOGINS). */
  env: Record<string, string>;
}

function usage(message?: string): never {
  if (message) process.stderr.write(`bench storm: ${message}\n`);
  process.stderr.write(
    'usage: npm run bench -- --scenario=storm [--quick] [--mode=burst|reconnect|both] [--servers=raw-ws,socketio,gatehouse,gatehouse-redis-pg]\n' +
      '                        [--clients=5000] [--bystanders=2000] [--concurrency=500] [--label=NAME] [--gatehouse=DIR] [--out=DIR]\n',
  );
  process.exit(message ? 2 : 0);
}

function parseArgs(argv: string[]): Args {
  const args: Args = {
    quick: argv.includes('--quick'),
    modes: ['burst', 'reconnect'],
    servers: SERVER_ORDER,
    clients: 0,
    bystanders: 0,
    concurrency: 500,
    label: '',
    out: join(REPO_ROOT, 'bench', 'results'),
    gatehouse: undefined,
    env: {},
  };
  const count = (value: string, name: string, max: number) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1 || n > max) usage(`${name}: 1 to ${max}`);
    return n;
  };
  for (const arg of argv) {
    const [key, value] = splitOption(arg);
    switch (key) {
      case '--scenario':
      case '--quick':
        break;
      case '--mode':
        if (value === 'both') args.modes = ['burst', 'reconnect'];
        else if (value === 'burst' || value === 'reconnect') args.modes = [value];
        else usage('--mode: burst, reconnect or both');
        break;
      case '--servers':
        args.servers = value.split(',') as ServerId[];
        if (args.servers.some((s) => !SERVER_ORDER.includes(s))) usage(`--servers: some of ${SERVER_ORDER.join(',')}`);
        break;
      case '--clients':
        // One generator process holds them: below the 20,000 open files of a process here.
        args.clients = count(value, '--clients', 16_000);
        break;
      case '--bystanders':
        args.bystanders = count(value, '--bystanders', 5000);
        break;
      case '--concurrency':
        args.concurrency = count(value, '--concurrency', 5000);
        break;
      case '--label':
        args.label = labelArg(value, usage);
        break;
      case '--out':
        args.out = value;
        break;
      case '--env': {
        const at = value.indexOf('=');
        if (at < 1) usage('--env=KEY=VALUE');
        args.env[value.slice(0, at)] = value.slice(at + 1);
        break;
      }
      case '--gatehouse':
        args.gatehouse = gatehouseDirArg(value, usage);
        break;
      case '--help':
      case '-h':
        usage();
        break;
      default:
        usage(`unknown argument ${arg}`);
    }
  }
  args.clients ||= args.quick ? 1000 : 5000;
  args.bystanders ||= args.quick ? 500 : 2000;
  return args;
}

const t0 = Date.now();
const log = (message: string) => process.stdout.write(`[storm ${((Date.now() - t0) / 1000).toFixed(0).padStart(4)} s] ${message}\n`);

const percentile = (figures: StormFigures, p: number) => Histogram.from(figures.handshakeMs).percentile(p);
const users = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

/** Bystanders connected and pinging, then `clients` new clients as fast as the server takes them. */
async function burst(server: RunningServer, args: Args, loadCore: number | null, stamp: string): Promise<BurstRow> {
  const protocol = server.spec.protocol;
  const bystanders = await LoadProcess.start(0, loadCore);
  const stormers = await LoadProcess.start(1, loadCore);
  try {
    await bystanders.request({
      cmd: 'connect',
      group: 'by',
      protocol,
      url: server.wsUrl,
      users: users(`by-${stamp}-`, args.bystanders),
      concurrency: 100,
      timeoutMs: 15_000,
    });
    await bystanders.request({ cmd: 'heartbeat', enabled: true, intervalMs: 1000 });
    // The storm's clients stay silent once connected (the servers run with a long
    // HEARTBEAT_TIMEOUT_MS here): their pings would charge a storm that lasts longer (clients
    // deferred for seconds) with thousands of pongs that are not connection work.
    await sleep(1000);
    // What the bystanders' pings cost per second, subtracted from the storm's CPU: a storm that
    // lasts longer (clients deferred for seconds) must not be charged their pings.
    const idle0 = server.cpuUs();
    const idleAt = performance.now();
    await sleep(2000);
    const idleUsPerMs = (server.cpuUs() - idle0) / (performance.now() - idleAt);
    await bystanders.request({ cmd: 'window', action: 'start' });
    const cpu0 = server.cpuUs();
    const storm = await stormers.request<StormReply>(
      {
        cmd: 'storm-connect',
        group: 'burst',
        protocol,
        url: server.wsUrl,
        users: users(`st-${stamp}-`, args.clients),
        concurrency: args.concurrency,
        timeoutMs: 10_000,
        reconnect: false,
      },
      600_000,
    );
    const cpu1 = server.cpuUs();
    const window = await bystanders.request<WindowReply>({ cmd: 'window', action: 'stop' });
    const f = storm.figures;
    const failed = Object.values(f.failedByKind).reduce((a, b) => a + b, 0);
    return {
      server: server.spec.id,
      label: server.spec.label,
      clients: args.clients,
      accepted: f.handshakes,
      cpuUsPerConnection: f.handshakes > 0 ? (cpu1 - cpu0 - idleUsPerMs * storm.wallMs) / f.handshakes : null,
      bystandersCpuPerSec: idleUsPerMs * 1000,
      loginsPerSec: f.handshakes / (storm.wallMs / 1000),
      stormMs: storm.wallMs,
      handshakeP50Ms: percentile(f, 50),
      handshakeP99Ms: percentile(f, 99),
      failed,
      failedByKind: f.failedByKind,
      deferred: f.deferred,
      pongP99Ms: window.stats ? Histogram.from(window.stats.rtt).percentile(99) : null,
      pongs: window.stats?.pongs ?? 0,
      bystanderCloses: window.stats?.unexpectedCloses ?? 0,
      generatorLoopDelayP99Ms: window.stats?.loopDelayP99Ms ?? null,
    };
  } finally {
    await stormers.kill();
    await bystanders.kill();
  }
}

/** Clients connected with the SDK's reconnect; the server crashes and comes back on the same port. */
async function reconnect(server: RunningServer, args: Args, loadCore: number | null, stamp: string): Promise<ReconnectRow> {
  const protocol = server.spec.protocol;
  const clients = await LoadProcess.start(1, loadCore);
  try {
    // Silent clients (the servers run with a long HEARTBEAT_TIMEOUT_MS here): the CPU measured
    // over the recovery is the reconnections', not the pings of the clients already back.
    const first = await clients.request<StormReply>(
      {
        cmd: 'storm-connect',
        group: 'rc',
        protocol,
        url: server.wsUrl,
        users: users(`rc-${stamp}-`, args.clients),
        concurrency: 200,
        timeoutMs: 10_000,
        reconnect: true,
      },
      600_000,
    );
    if (first.figures.ready < args.clients) throw new Error(`only ${first.figures.ready} of ${args.clients} connected before the crash`);
    await sleep(3000);
    await clients.request<StormReply>({ cmd: 'storm-status', group: 'rc', reset: true });
    const crashAt = performance.now();
    await server.crashAndRestart();
    const upAt = performance.now();
    const cpuUp = server.cpuUs();
    // Failures so far belong to the outage: handshakes cut by the kill, or taken by a node still
    // starting. Only those after the node answers count against it.
    const atUp = (await clients.request<StormReply>({ cmd: 'storm-status', group: 'rc' })).figures.failedByKind;
    const deadline = upAt + (args.quick ? 60_000 : 180_000);
    let status: StormFigures;
    for (;;) {
      status = (await clients.request<StormReply>({ cmd: 'storm-status', group: 'rc' })).figures;
      if (status.ready >= args.clients || performance.now() > deadline) break;
      await sleep(100);
    }
    const backAt = performance.now();
    const cpuBack = server.cpuUs();
    // Attempts while nothing listened (the node restarting) are the outage, not failed handshakes.
    const { 'no server listening': whileDown = 0, ...allKinds } = status.failedByKind;
    const byKind: Record<string, number> = {};
    const duringRestart: Record<string, number> = {};
    for (const [kind, count] of Object.entries(allKinds)) {
      const before = atUp[kind] ?? 0;
      if (count - before > 0) byKind[kind] = count - before;
      if (before > 0) duringRestart[kind] = before;
    }
    const failed = Object.values(byKind).reduce((a, b) => a + b, 0);
    return {
      server: server.spec.id,
      label: server.spec.label,
      clients: args.clients,
      back: status.ready,
      restartMs: upAt - crashAt,
      allBackMs: status.ready >= args.clients ? backAt - crashAt : null,
      cpuUsPerReconnection: status.handshakes > 0 ? (cpuBack - cpuUp) / status.handshakes : null,
      handshakeP99Ms: percentile(status, 99),
      attemptsWhileDown: whileDown,
      failedAttempts: failed,
      failedByKind: byKind,
      failedWhileRestarting: duringRestart,
      deferred: status.deferred,
      maxAttempts: status.maxAttempts,
    };
  } finally {
    await clients.kill();
  }
}

export async function runStorm(argv: string[]): Promise<void> {
  const args = parseArgs(argv);
  const stale = reapStaleChildren();
  if (stale) log(`killed ${stale} processes left over by an interrupted run`);
  const taskset = hasTaskset() && cpus().length >= 2;
  const serverCore = taskset ? 0 : null;
  const loadCore = taskset ? 1 : null;
  if (taskset) pinSelf(1);
  const notes: string[] = [];
  const loadBefore = loadAverage();
  if ((loadBefore[0] ?? 0) > 1.0) notes.push(`1-minute load average was ${loadBefore[0]?.toFixed(2)} when the run started: other work shared the machine.`);
  if (!taskset) notes.push('taskset unavailable (or one core): everything ran unpinned.');
  log(`load average ${loadBefore.join(' ')}; ${args.clients} clients, ${args.bystanders} bystanders, modes ${args.modes.join(',')}`);

  const cleanups = new Cleanups();
  cleanups.onInterrupt(log);

  const stamp = Date.now().toString(36);
  const infra: Infra = { serverCore, adminToken: randomBytes(16).toString('hex'), ...(args.gatehouse ? { gatehouseDir: args.gatehouse } : {}) };
  const errors: string[] = [];
  if (args.servers.some((s) => SERVERS[s].needsRedis)) {
    infra.redis = await PrivateRedis.start(loadCore);
    const redis = infra.redis;
    cleanups.add(() => redis.stop());
  }
  if (args.servers.some((s) => SERVERS[s].needsPg)) {
    infra.db = await BenchDatabase.connect(process.env.BENCH_DATABASE_URL ?? DEFAULT_DATABASE_URL);
    const db = infra.db;
    cleanups.add(() => db.close());
  }

  const burstRows: BurstRow[] = [];
  const reconnectRows: ReconnectRow[] = [];
  for (const id of args.servers) {
    for (const mode of args.modes) {
      const spec = SERVERS[id];
      const schema = spec.needsPg ? await infra.db!.createSchema() : undefined;
      let server: RunningServer | undefined;
      try {
        server = await startServer(spec, infra, {
          nodeId: `storm-${id}-${mode}`,
          ...(schema ? { schema } : {}),
          redisPrefix: `storm:${stamp}:${id}:${mode}:`,
          // The bench's own sockets only; the connection cap is not what is measured. The storm's
          // clients stay silent (see burst() and reconnect()); the bystanders ping.
          extraEnv: { MAX_CONNECTIONS: '19500', HEARTBEAT_TIMEOUT_MS: '600000', ...(id.startsWith('gatehouse') ? args.env : {}) },
        });
        log(`${spec.label}: ${mode}`);
        if (mode === 'burst') {
          const row = await burst(server, args, loadCore, stamp);
          burstRows.push(row);
          log(
            `  ${row.accepted}/${row.clients} in ${(row.stormMs / 1000).toFixed(1)} s; ${row.cpuUsPerConnection?.toFixed(0)} µs CPU/connection; ${row.loginsPerSec.toFixed(0)}/s; handshake p50 ${row.handshakeP50Ms?.toFixed(0)} p99 ${row.handshakeP99Ms?.toFixed(0)} ms; failed ${row.failed}, deferred ${row.deferred}; pong p99 ${row.pongP99Ms?.toFixed(1)} ms`,
          );
        } else {
          const row = await reconnect(server, args, loadCore, stamp);
          reconnectRows.push(row);
          log(
            `  ${row.back}/${row.clients} back ${row.allBackMs === null ? 'NOT ALL' : `in ${(row.allBackMs / 1000).toFixed(1)} s`} (restart ${(row.restartMs / 1000).toFixed(1)} s); ${row.cpuUsPerReconnection?.toFixed(0)} µs CPU/reconnection; failed attempts ${row.failedAttempts}, deferred ${row.deferred}, max attempts ${row.maxAttempts}`,
          );
        }
      } catch (error) {
        errors.push(`${spec.label} ${mode}: ${(error as Error).message.split('\n')[0]}`);
        log(`  ERROR ${(error as Error).message.split('\n')[0]}`);
      } finally {
        await server?.stop();
      }
    }
  }
  await cleanups.run();

  const results: StormResults = {
    date: new Date().toISOString(),
    machine: `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 1048576)} MB, Linux ${release()}, Node ${process.versions.node}`,
    git: commandOutput('git', ['-C', REPO_ROOT, 'rev-parse', '--short=10', 'HEAD']).trim(),
    args: { clients: args.clients, bystanders: args.bystanders, concurrency: args.concurrency, quick: args.quick },
    loadBefore,
    loadAfter: loadAverage(),
    notes,
    errors,
    burst: burstRows,
    reconnect: reconnectRows,
  };
  mkdirSync(args.out, { recursive: true });
  const name = `${new Date().toISOString().slice(0, 10)}-storm${args.label ? `-${args.label}` : ''}${args.quick ? '-quick' : ''}`;
  writeFileSync(join(args.out, `${name}.json`), `${JSON.stringify(results, null, 2)}\n`);
  const md = stormMarkdown(results);
  writeFileSync(join(args.out, `${name}.md`), md);
  process.stdout.write(`\n${md}\n`);
  log(`wrote ${join(args.out, name)}.{json,md}`);
}
