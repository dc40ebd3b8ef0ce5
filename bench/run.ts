/**
 * `npm run bench` — Gatehouse against the platform limit (a bare `ws` server) and the usual
 * alternative (Socket.IO 4 + Redis adapter), side by side in one run, reported as ratios.
 *
 *   npm run bench                      full matrix (N = 1k, 5k, 15k; ~10 min)
 *   npm run bench -- --quick           N = 1k only, shorter windows (smoke run, ~2 min)
 *   npm run bench -- --only=heartbeat,direct,fanout,logout --servers=raw-ws,gatehouse
 *   npm run bench -- --steps=1000,5000 --profile     (V8 CPU profile of every measuring window)
 *   npm run bench -- --cpu-prof        (node --cpu-prof: whole-process profiles, written at exit)
 *   npm run bench -- --readme          also rewrite the latest record in bench/README.md
 *   npm run bench -- --gatehouse=../gh-before   run Gatehouse from another checkout (before/after)
 *   npm run bench -- --only=heartbeat --repeat=3   three interleaved rounds, median per figure
 *   npm run bench -- --scenario=hostile [--quick]   the attack benchmark (bench/hostile/run.ts)
 *   npm run bench -- --scenario=storm [--quick]     connection storms (bench/storm/run.ts)
 *   npm run bench -- --scenario=capacity            Redis cost per operation (bench/capacity/run.ts)
 *   npm run bench -- --scenario=chat [--quick]      stored messages: write throughput, DM latency, group fan-out (bench/chat/run.ts)
 *
 * Servers run pinned to core 0, load generators (and this process) to core 1 (taskset). Only
 * 127.0.0.1 is ever targeted. Writes bench/results/<date>[-quick|-profile].{json,md,svg}.
 */
import { Cleanups } from './lib/cleanups.ts';
import { randomBytes } from 'node:crypto';
import { cpus, totalmem, release } from 'node:os';
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { REPO_ROOT } from './lib/load.ts';
import { commandOutput, hasTaskset, killAllChildren, loadAverage, pinSelf, reapStaleChildren } from './lib/proc.ts';
import { gatehouseDirArg } from './lib/args.ts';
import { PrivateRedis } from './lib/redis.ts';
import { BenchDatabase, DEFAULT_DATABASE_URL } from './lib/pg.ts';
import { SERVERS, SERVER_ORDER, type ServerId, type Infra } from './lib/servers.ts';
import { evaluateTargets, markdown, readmeSection, svgChart, type BenchResults } from './lib/report.ts';
import type { BenchContext } from './scenarios/context.ts';
import { mergeRounds, runHeartbeat, type HeartbeatPoint } from './scenarios/heartbeat.ts';
import { runDirect } from './scenarios/direct.ts';
import { probeRooms, runFanout } from './scenarios/fanout.ts';
import { runLogoutStorm } from './scenarios/logout.ts';
import { checkOfficialSocketIoClient } from './scenarios/sio-check.ts';

type Scenario = 'heartbeat' | 'direct' | 'fanout' | 'logout';
const ALL_SCENARIOS: Scenario[] = ['heartbeat', 'direct', 'fanout', 'logout'];

interface Args {
  quick: boolean;
  only: Scenario[];
  servers: ServerId[];
  steps: number[] | undefined;
  profile: boolean;
  cpuProf: boolean;
  readme: boolean;
  fanout: 'auto' | 'room' | 'broadcast';
  out: string;
  budgetMin: number;
  gatehouse: string | undefined;
  repeat: number;
}

function usage(message?: string): never {
  if (message) process.stderr.write(`bench: ${message}\n`);
  process.stderr.write(
    'usage: npm run bench -- [--quick] [--only=heartbeat,direct,fanout,logout] [--servers=raw-ws,socketio,gatehouse,gatehouse-redis-pg]\n' +
      '                        [--steps=1000,5000,15000] [--fanout=auto|room|broadcast] [--profile] [--cpu-prof] [--readme] [--gatehouse=DIR] [--repeat=N] [--out=DIR] [--budget-min=30]\n' +
      '       npm run bench -- --scenario=hostile --help   (the attack benchmark, its own options)\n' +
      '       npm run bench -- --scenario=storm --help     (connection storms, their own options)\n' +
      '       npm run bench -- --scenario=capacity [--players=1000] [--messages=4000] [--publishes=400]   (Redis cost per operation)\n' +
      '       npm run bench -- --scenario=chat --help      (stored messages, their own options)\n',
  );
  process.exit(message ? 2 : 0);
}

function parseArgs(argv: string[]): Args {
  const args: Args = {
    quick: false,
    only: ALL_SCENARIOS,
    servers: SERVER_ORDER,
    steps: undefined,
    profile: false,
    cpuProf: false,
    readme: false,
    fanout: 'auto',
    out: join(REPO_ROOT, 'bench', 'results'),
    budgetMin: 30,
    gatehouse: undefined,
    repeat: 1,
  };
  for (const arg of argv) {
    const [key, value = ''] = arg.split('=', 2) as [string, string?];
    switch (key) {
      case '--quick':
        args.quick = true;
        break;
      case '--profile':
        args.profile = true;
        break;
      case '--cpu-prof':
        args.cpuProf = true;
        break;
      case '--readme':
        args.readme = true;
        break;
      case '--only':
        args.only = value.split(',').filter(Boolean) as Scenario[];
        if (args.only.some((s) => !ALL_SCENARIOS.includes(s))) usage(`unknown scenario in ${value}`);
        break;
      case '--servers':
        args.servers = value.split(',').filter(Boolean) as ServerId[];
        if (args.servers.some((s) => !SERVERS[s])) usage(`unknown server in ${value}`);
        break;
      case '--steps':
        args.steps = value.split(',').map(Number);
        if (args.steps.some((n) => !Number.isInteger(n) || n < 1 || n > 18_000)) usage('--steps: integers from 1 to 18000');
        break;
      case '--fanout':
        if (!['auto', 'room', 'broadcast'].includes(value)) usage('--fanout=auto|room|broadcast');
        args.fanout = value as Args['fanout'];
        break;
      case '--out':
        args.out = value;
        break;
      case '--gatehouse':
        args.gatehouse = gatehouseDirArg(value, usage);
        break;
      case '--repeat':
        args.repeat = Number(value);
        if (!Number.isInteger(args.repeat) || args.repeat < 1 || args.repeat > 9) usage('--repeat: 1 to 9 rounds of the heartbeat scenario');
        break;
      case '--budget-min':
        args.budgetMin = Number(value);
        if (!(args.budgetMin > 0)) usage('--budget-min: minutes > 0');
        break;
      case '--help':
      case '-h':
        usage();
        break;
      default:
        usage(`unknown argument ${arg}`);
    }
  }
  return args;
}

function packageVersion(name: string): string {
  try {
    const require = createRequire(join(REPO_ROOT, 'package.json'));
    return (require(`${name}/package.json`) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

const t0 = Date.now();
const log = (message: string) => process.stdout.write(`[bench ${((Date.now() - t0) / 1000).toFixed(0).padStart(4)} s] ${message}\n`);

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const stale = reapStaleChildren();
  if (stale) log(`killed ${stale} processes left over by an interrupted run`);

  const taskset = hasTaskset() && cpus().length >= 2;
  const serverCore = taskset ? 0 : null;
  const loadCore = taskset ? 1 : null;
  const notes: string[] = [];
  const errors: string[] = [];
  if (!taskset) notes.push('taskset unavailable (or one core): servers and generators ran unpinned; CPU figures still come from /proc per process.');
  else pinSelf(1);
  if (cpus().length > 2) notes.push(`${cpus().length} cores: only cores 0 (servers) and 1 (generators) are used.`);

  const loadBefore = loadAverage();
  const busy = (loadBefore[0] ?? 0) > 1.0;
  if (busy) notes.push(`1-minute load average was ${loadBefore[0]?.toFixed(2)} when the run started: other work shared the machine.`);
  log(
    `load average ${loadBefore.join(' ')}; taskset ${taskset ? 'yes' : 'NO'}; mode ${args.profile || args.cpuProf ? 'profile' : args.quick ? 'quick' : 'full'}`,
  );

  const needsRedis = args.servers.some((s) => SERVERS[s].needsRedis) || args.only.includes('direct') || args.only.includes('logout');
  const needsPg = args.servers.includes('gatehouse-redis-pg') || args.only.includes('logout');
  const infra: Infra = { serverCore, adminToken: randomBytes(16).toString('hex'), ...(args.gatehouse ? { gatehouseDir: args.gatehouse } : {}) };
  if (args.gatehouse) notes.push(`Gatehouse run from ${args.gatehouse}`);
  const profileDir = join(args.out, 'profiles', new Date().toISOString().slice(0, 19).replace(/[:T]/g, '-'));
  if (args.cpuProf) infra.cpuProfDir = profileDir;

  const cleanups = new Cleanups();
  cleanups.onInterrupt(log);

  if (needsRedis) {
    try {
      infra.redis = await PrivateRedis.start(loadCore);
      const redis = infra.redis;
      cleanups.add(() => redis.stop());
      log(`private redis-server on port ${redis.port}`);
    } catch (error) {
      errors.push(`no private Redis (${(error as Error).message.split('\n')[0]}): Socket.IO, Redis + PostgreSQL and cross-node scenarios skipped`);
    }
  }
  if (needsPg) {
    const url = process.env.BENCH_DATABASE_URL ?? DEFAULT_DATABASE_URL;
    try {
      infra.db = await BenchDatabase.connect(url);
      const db = infra.db;
      cleanups.add(() => db.close());
    } catch (error) {
      errors.push(`PostgreSQL unreachable at ${url} (${(error as Error).message}): Redis + PostgreSQL scenarios skipped`);
    }
  }

  const ctx: BenchContext = {
    quick: args.quick,
    infra,
    loadCore,
    pinned: taskset,
    saturation: 0.9,
    socketsPerProcess: 8000,
    stamp: Date.now().toString(36),
    log,
    deadline: t0 + args.budgetMin * 60_000,
    ...(args.profile ? { profileDir } : {}),
  };
  // The budget is checked before every step; this is the backstop if one step hangs past it:
  // killing the children makes the step fail at once, and the results so far are still written.
  const backstop = setTimeout(
    () => {
      log(`time budget of ${args.budgetMin} min exceeded by 2 min: stopping the current step`);
      errors.push(`time budget of ${args.budgetMin} min exceeded: run cut short`);
      killAllChildren();
      setTimeout(() => process.exit(3), 60_000).unref();
    },
    args.budgetMin * 60_000 + 120_000,
  );
  backstop.unref();
  const available = (id: ServerId) => (!SERVERS[id].needsRedis || infra.redis) && (!SERVERS[id].needsPg || infra.db);
  const servers = args.servers.filter((id) => {
    if (available(id)) return true;
    errors.push(`${id} skipped: its services are not available`);
    return false;
  });
  const steps = args.steps ?? (args.quick ? [1000] : [1000, 5000, 15000]);

  const results: BenchResults = {
    version: 1,
    date: new Date().toISOString(),
    mode: args.profile || args.cpuProf ? 'profile' : args.quick ? 'quick' : 'full',
    durationS: 0,
    machine: {
      cpus: cpus().length,
      model: cpus()[0]?.model.trim() ?? 'unknown',
      kernel: release(),
      node: process.versions.node,
      memoryMb: Math.round(totalmem() / 1024 / 1024),
      loadBefore,
      loadAfter: [],
      taskset,
      serverCore,
      loadCore,
      busy,
    },
    git: {
      commit: commandOutput('git', ['-C', args.gatehouse ?? REPO_ROOT, 'rev-parse', 'HEAD']) || 'unknown',
      dirty: commandOutput('git', ['-C', args.gatehouse ?? REPO_ROOT, 'status', '--porcelain', '--', 'src', 'prisma']).length > 0,
    },
    packages: Object.fromEntries(
      ['ws', 'socket.io', '@socket.io/redis-adapter', 'fastify', '@fastify/websocket', 'ioredis'].map((p) => [p, packageVersion(p)]),
    ),
    settings: {
      steps,
      repeat: args.repeat,
      heartbeatIntervalMs: 1000,
      warmupMs: args.quick ? 3000 : 5000,
      windowMs: args.quick ? 5000 : 10_000,
      saturation: ctx.saturation,
      socketsPerProcess: ctx.socketsPerProcess,
      gatehouse:
        'node dist/server.js (the build; an older --gatehouse checkout: node --import tsx src/server.ts), AUTH_MODE=none, LOG_LEVEL=warn, otherwise defaults (embedded: PGlite on disk in a fresh PGLITE_DIR, created by a first start; the measured process restarts on it)',
      rss: 'VmRSS after a forced full GC (DevTools HeapProfiler.collectGarbage, same for every server); per connection = (RSS at N − RSS before any client) / N',
    },
    heartbeat: [],
    direct: [],
    fanout: [],
    logout: [],
    targets: [],
    references: [],
    errors,
    notes,
  };

  const attempt = async (what: string, fn: () => Promise<void>) => {
    if (cleanups.interrupted) return;
    try {
      await fn();
    } catch (error) {
      const text = (error as Error).message;
      log(`FAILED ${what}: ${text}`);
      errors.push(`${what}: ${text.split('\n').slice(0, 3).join(' / ')}`);
    }
  };

  if (servers.includes('socketio')) {
    await attempt('socket.io-client check', async () => {
      const ok = await checkOfficialSocketIoClient(ctx);
      log(ok);
      notes.push(ok);
    });
  }
  if (args.only.includes('heartbeat')) {
    // --repeat: rounds over every server in turn (drift hits all alike), then the median per figure.
    const rounds: HeartbeatPoint[][] = [];
    for (let r = 0; r < args.repeat; r++) {
      const round: HeartbeatPoint[] = [];
      for (const id of servers)
        await attempt(
          `heartbeat ${id}${args.repeat > 1 ? ` (round ${r + 1})` : ''}`,
          async () => void round.push(...(await runHeartbeat(ctx, SERVERS[id], steps))),
        );
      rounds.push(round);
    }
    results.heartbeat = args.repeat > 1 ? mergeRounds(rounds) : (rounds[0] ?? []);
  }
  if (args.only.includes('direct')) {
    for (const id of servers) {
      await attempt(`direct ${id} x1`, async () => void results.direct.push(await runDirect(ctx, SERVERS[id], 1)));
    }
    for (const id of servers) {
      if (!SERVERS[id].clusters) continue;
      if (!infra.redis) continue;
      await attempt(`direct ${id} x2`, async () => void results.direct.push(await runDirect(ctx, SERVERS[id], 2)));
    }
  }
  if (args.only.includes('fanout')) {
    let mode: 'room' | 'broadcast' = args.fanout === 'room' ? 'room' : 'broadcast';
    if (args.fanout === 'auto') {
      const gh = servers.find((s) => s.startsWith('gatehouse'));
      if (gh) await attempt('fan-out room probe', async () => void (mode = (await probeRooms(ctx, SERVERS[gh])) ? 'room' : 'broadcast'));
      log(`fan-out mode: ${mode}${mode === 'broadcast' ? ' (Gatehouse has no rooms yet)' : ''}`);
    }
    for (const id of servers) await attempt(`fan-out ${id}`, async () => void results.fanout.push(await runFanout(ctx, SERVERS[id], mode)));
  }
  if (args.only.includes('logout')) {
    if (infra.redis && infra.db) {
      await attempt('logout storm', async () => void results.logout.push(await runLogoutStorm(ctx, args.quick ? 1000 : 5000)));
    } else {
      errors.push('logout storm skipped: needs Redis and PostgreSQL');
    }
  }

  await cleanups.run();
  results.machine.loadAfter = loadAverage();
  results.durationS = (Date.now() - t0) / 1000;
  const { targets, references } = evaluateTargets(results);
  results.targets = targets;
  results.references = references;

  mkdirSync(args.out, { recursive: true });
  const base = `${results.date.slice(0, 10)}${results.mode === 'full' ? '' : `-${results.mode}`}`;
  const md = markdown(results);
  writeFileSync(join(args.out, `${base}.json`), `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(join(args.out, `${base}.md`), md);
  if (results.heartbeat.length) writeFileSync(join(args.out, `${base}.svg`), svgChart(results));
  log(`wrote ${join(args.out, base)}.{json,md${results.heartbeat.length ? ',svg' : ''}}`);
  if (args.profile || args.cpuProf) log(`CPU profiles in ${profileDir} (Chrome DevTools, or: node --import tsx bench/profile-summary.ts <file>)`);

  if (args.readme) {
    // The full record lives in bench/README.md; the top-level README summarises it by hand.
    const readme = join(REPO_ROOT, 'bench', 'README.md');
    const section = readmeSection(results, `bench/results/${base}.md`);
    const text = existsSync(readme) ? readFileSync(readme, 'utf8') : '';
    const start = '<!-- bench:start (generated by npm run bench -- --readme) -->';
    const end = '<!-- bench:end -->';
    const block = `${start}\n${section}${end}`;
    const re = /<!-- bench:start[^>]*-->[\s\S]*?<!-- bench:end -->/;
    const next = re.test(text) ? text.replace(re, block) : `${text.trimEnd()}\n\n${block}\n`;
    writeFileSync(readme, next);
    log('bench/README.md record section updated');
  }

  process.stdout.write(`\n${md}\n`);
  const failed = targets.filter((t) => t.pass === false).length;
  log(
    `done in ${Math.round(results.durationS)} s: ${targets.filter((t) => t.pass).length} targets passed, ${failed} failed, ${targets.filter((t) => t.pass === null).length} n/a`,
  );
}

process.on('exit', () => killAllChildren());
// `--scenario=hostile`: the attack benchmark of issue 16 (bench/hostile/run.ts), its own options.
// `--scenario=storm`: the connect-storm benchmark of issue 17 (bench/storm/run.ts), its own options.
const hostile = process.argv.includes('--scenario=hostile');
const storm = process.argv.includes('--scenario=storm');
// `--scenario=capacity`: Redis cost per operation, the figures of docs/scaling.md (bench/capacity/run.ts).
const capacity = process.argv.includes('--scenario=capacity');
// `--scenario=chat`: stored messages (write throughput, DM latency with persistence off/on, group fan-out), bench/chat/run.ts.
const chat = process.argv.includes('--scenario=chat');
const run = hostile
  ? import('./hostile/run.ts').then((m) => m.runHostile(process.argv.slice(2)))
  : storm
    ? import('./storm/run.ts').then((m) => m.runStorm(process.argv.slice(2)))
    : capacity
      ? import('./capacity/run.ts').then((m) => m.runCapacity(process.argv.slice(2)))
      : chat
        ? import('./chat/run.ts').then((m) => m.runChat(process.argv.slice(2)))
        : main();
run.catch((error: unknown) => {
  process.stderr.write(`bench: ${(error as Error).stack ?? String(error)}\n`);
  killAllChildren();
  process.exit(1);
});
