/**
 * `npm run bench -- --scenario=chat` — stored messages (MESSAGE_PERSISTENCE, groups), in one run:
 *
 * 1. Write throughput into PostgreSQL: N messages (200,000; quick 20,000) over 1,000 direct
 *    conversations through `MessageWriter` over `PrismaMessageStore` (src/chat/message-writer.ts,
 *    src/database/prisma-message-store.ts), opened with `openDatabase` on a private schema of the
 *    test PostgreSQL, fed as fast as the writer takes them with ~2,000 not yet durable:
 *    messages/s, batches, mean batch, p50/p99 of write() → durable. The same through
 *    `store.append` in batches of 500 (the ceiling), and both on the embedded database (PGlite
 *    `memory://`, smaller N) for reference.
 * 2. Direct-message latency with persistence off and on: one Gatehouse node on Redis +
 *    PostgreSQL (bench/lib/servers.ts, `node dist/server.js`) per mode, same settings but
 *    MESSAGE_PERSISTENCE, each on its own Redis prefix and schema; 200 pairs (quick 100), every
 *    sender 5 messages/s to its partner for 20 s (quick 8 s): recipient latency, ack latency,
 *    lost, acks by status, and the p99 ratio on/off.
 * 3. Group fan-out: a group of 50 (admin API) on the persistence-on node, 10 members sending
 *    5 messages/s each for 10 s (quick 5 s): fan-out latency to every other member, acks, lost,
 *    stored rows against the acks.
 *
 *   npm run bench -- --scenario=chat [--quick] [--repeat=2] [--only=store,dm,group] [--cpu-prof]
 *                    [--messages=200000] [--pairs=200] [--seconds=20] [--label=NAME] [--out=DIR]
 *
 * `--repeat=N` runs the whole set N times in one go (the direct-message modes alternate which
 * goes first) and reports every round. `--cpu-prof` adds, after the rounds, one more
 * persistence-on direct-message run whose server runs under `node --cpu-prof`; the profile is cut
 * to the load window and summarised (bench/profile-summary.ts). Gatehouse is pinned to core 0;
 * this process (the clients and part 1's writer) and the private redis-server to core 1.
 * Writes bench/results/<date>-chat[-<label>][-quick].{json,md}.
 */
import { Cleanups } from '../lib/cleanups.ts';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, release, totalmem } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { labelArg, splitOption } from '../lib/args.ts';
import { gatehouseEntryArgs } from '../lib/gatehouse-entry.ts';
import { REPO_ROOT } from '../lib/load.ts';
import { waitHttpOk } from '../lib/net.ts';
import { BenchDatabase, DEFAULT_DATABASE_URL } from '../lib/pg.ts';
import { commandOutput, hasTaskset, loadAverage, pinSelf, reapStaleChildren, sleep } from '../lib/proc.ts';
import { PrivateRedis } from '../lib/redis.ts';
import { type Infra, type RunningServer, SERVERS, startServer } from '../lib/servers.ts';
import { summarise } from '../profile-summary.ts';
import { round } from '../scenarios/context.ts';
import { type ChatResults, type ChatRound, chatMarkdown, type DmRow, evaluateTargets, type GroupRow, type ProfileSummary } from './report.ts';
import {
  type CommitProbe,
  commitProbe,
  commitSampler,
  measureThroughput,
  type ThroughputRow,
  WRITER_MAX_BATCH,
  WRITER_MAX_PENDING,
} from './store-throughput.ts';
import { type OtherWork, otherWorkMeter } from './machine.ts';
import { backendsOf, pinBackends } from './pg-backends.ts';
import { closeAll, connectAll, createGroup, DmLoad, groupPhase, storedSince } from './wire-load.ts';
import type { CountingClient } from '../hostile/wire.ts';

type Part = 'store' | 'dm' | 'group';
/** Direct-message load in slices of about this many seconds, the two modes taking turns. */
const SLICE_S = 2;
const PARTS: Part[] = ['store', 'dm', 'group'];

interface Args {
  quick: boolean;
  repeat: number;
  only: Part[];
  cpuProf: boolean;
  messages: number;
  pairs: number;
  seconds: number;
  label: string;
  out: string;
}

function usage(message?: string): never {
  if (message) process.stderr.write(`bench chat: ${message}\n`);
  process.stderr.write(
    'usage: npm run bench -- --scenario=chat [--quick] [--repeat=1] [--only=store,dm,group] [--cpu-prof]\n' +
      '                        [--messages=200000] [--pairs=200] [--seconds=20] [--label=NAME] [--out=DIR]\n' +
      '  --quick        20,000 messages, 100 pairs for 8 s, group 5 s (smoke run, ~1.5 min)\n' +
      '  --repeat=N     N rounds of everything in one run (direct-message modes alternate), every round reported\n' +
      '  --cpu-prof     one more persistence-on direct-message run under node --cpu-prof, summarised (top 10)\n' +
      '  --messages=N   part 1: messages written into PostgreSQL per measurement (PGlite: a quarter)\n' +
      '  --pairs=N, --seconds=N   part 2: sender/recipient pairs (5 messages/s each) and measured seconds\n',
  );
  process.exit(message ? 2 : 0);
}

function parseArgs(argv: string[]): Args {
  const quick = argv.includes('--quick');
  const args: Args = {
    quick,
    repeat: 1,
    only: PARTS,
    cpuProf: false,
    messages: quick ? 20_000 : 200_000,
    pairs: quick ? 100 : 200,
    seconds: quick ? 8 : 20,
    label: '',
    out: join(REPO_ROOT, 'bench', 'results'),
  };
  const int = (value: string, name: string, min: number, max: number) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) usage(`${name}: an integer from ${min} to ${max}`);
    return n;
  };
  for (const arg of argv) {
    const [key, value] = splitOption(arg);
    switch (key) {
      case '--scenario':
      case '--quick':
        break;
      case '--repeat':
        args.repeat = int(value, '--repeat', 1, 5);
        break;
      case '--only':
        args.only = value.split(',').filter(Boolean) as Part[];
        if (!args.only.length || args.only.some((p) => !PARTS.includes(p))) usage(`--only: some of ${PARTS.join(',')}`);
        break;
      case '--cpu-prof':
        args.cpuProf = true;
        break;
      case '--messages':
        args.messages = int(value, '--messages', 1000, 10_000_000);
        break;
      case '--pairs':
        // Two sockets per pair in this process: well under its 20,000 open files.
        args.pairs = int(value, '--pairs', 1, 5000);
        break;
      case '--seconds':
        args.seconds = int(value, '--seconds', 1, 600);
        break;
      case '--label':
        args.label = labelArg(value, usage);
        break;
      case '--out':
        args.out = value;
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

const t0 = Date.now();
const log = (message: string) => process.stdout.write(`[chat ${((Date.now() - t0) / 1000).toFixed(0).padStart(4)} s] ${message}\n`);

export async function runChat(argv: string[]): Promise<void> {
  const args = parseArgs(argv);
  const stale = reapStaleChildren();
  if (stale) log(`killed ${stale} processes left over by an interrupted run`);
  const taskset = hasTaskset() && cpus().length >= 2;
  const serverCore = taskset ? 0 : null;
  const loadCore = taskset ? 1 : null;
  if (taskset) pinSelf(1);
  const notes: string[] = [];
  const errors: string[] = [];
  const loadBefore = loadAverage();
  if ((loadBefore[0] ?? 0) > 1.0) {
    notes.push(`1-minute load average was ${loadBefore[0]?.toFixed(2)} when the run started: other work shared the machine, absolute figures are noisy.`);
  }
  if (!taskset) notes.push('taskset unavailable (or one core): everything ran unpinned.');

  const settings = {
    conversations: 1000,
    storeMessages: args.messages,
    pgliteMessages: Math.max(1000, Math.round(args.messages / 4)),
    storeWarmup: args.quick ? 2000 : 5000,
    storeWindow: 2000,
    writerMaxBatch: WRITER_MAX_BATCH,
    writerMaxPending: WRITER_MAX_PENDING,
    poolMax: 10,
    pairs: args.pairs,
    ratePerSender: 5,
    dmSeconds: args.seconds,
    dmWarmupSeconds: args.quick ? 2 : 3,
    drainMs: 5000,
    sliceSeconds: SLICE_S,
    groupMembers: 50,
    groupSenders: 10,
    groupRatePerSender: 5,
    groupSeconds: args.quick ? 5 : 10,
    gatehouse:
      'node dist/server.js on Redis + PostgreSQL (bench/lib/servers.ts: NODE_ENV=development, AUTH_MODE=none, LOG_LEVEL=warn, otherwise defaults) + MESSAGE_PERSISTENCE=false|true',
  };
  log(
    `load average ${loadBefore.join(' ')}; taskset ${taskset ? 'yes' : 'NO'}; ${args.quick ? 'quick' : 'full'}, ${args.repeat} round(s), parts ${args.only.join(',')}`,
  );

  const cleanups = new Cleanups();
  cleanups.onInterrupt(log);

  const stamp = Date.now().toString(36);
  const infra: Infra = { serverCore, adminToken: randomBytes(16).toString('hex') };
  const url = process.env.BENCH_DATABASE_URL ?? DEFAULT_DATABASE_URL;
  const db = await BenchDatabase.connect(url);
  infra.db = db;
  cleanups.add(() => db.close());
  // The benchmark's own connection for counting stored rows.
  const probe = new pg.Client({ connectionString: url });
  await probe.connect();
  probe.on('error', () => {});
  cleanups.add(() => probe.end());
  if (args.only.includes('dm') || args.only.includes('group') || args.cpuProf) {
    const redis = await PrivateRedis.start(loadCore);
    infra.redis = redis;
    cleanups.add(() => redis.stop());
    log(`private redis-server on port ${redis.port}`);
  }

  const attempt = async <T>(what: string, fn: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await fn();
    } catch (error) {
      const text = (error as Error).message;
      log(`FAILED ${what}: ${text}`);
      errors.push(`${what}: ${text.split('\n').slice(0, 3).join(' / ')}`);
      return undefined;
    }
  };

  interface Node {
    name: string;
    persistence: boolean;
    server: RunningServer;
    schema: string;
    senders: CountingClient[];
    recipients: CountingClient[];
    backends: { found: number; pinned: number };
    backendPids: number[];
  }
  const ids = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(4, '0')}`);
  const rate = args.pairs * settings.ratePerSender;

  /** A node in `persistence` mode, its pairs connected and warmed up, its PostgreSQL backends moved beside the private Redis. */
  const startNode = async (name: string, persistence: boolean, stop: Array<() => Promise<void>>, profileDir?: string): Promise<Node> => {
    const schema = await db.createSchema();
    stop.push(() => db.dropSchema(schema).catch(() => {}));
    const server = await startServer(SERVERS['gatehouse-redis-pg'], profileDir ? { ...infra, cpuProfDir: profileDir } : infra, {
      nodeId: `chat-${stamp}-${name}`,
      redisPrefix: `chat:${stamp}:${name}:`,
      schema,
      extraEnv: { MESSAGE_PERSISTENCE: String(persistence) },
      profileName: `chat-dm-${name}`,
    });
    stop.push(() => server.stop());
    if (!(await waitHttpOk(`${server.httpBase}/health/ready`, 60_000, () => !server.alive))) throw new Error(`${name}: not ready\n${server.tail()}`);
    const recipients = await connectAll(server, ids('r', args.pairs));
    const senders = await connectAll(server, ids('s', args.pairs));
    stop.push(async () => closeAll([...senders, ...recipients]));
    await sleep(1000);
    // Warm-up (JIT, the pools, the known-users cache), not counted.
    await new DmLoad(server, senders, recipients).slice(1, rate, settings.dmWarmupSeconds, 3000);
    const found = await backendsOf(probe, url, server.pid);
    const backends = { found: found.length, pinned: pinBackends(found, loadCore) };
    log(
      `${name}: MESSAGE_PERSISTENCE=${persistence}, ${args.pairs} pairs connected and warmed up; PostgreSQL backends pinned ${backends.pinned}/${backends.found}`,
    );
    return { name, persistence, server, schema, senders, recipients, backends, backendPids: found };
  };

  const dmRow = async (node: Node, load: DmLoad, pgCommit: CommitProbe, otherWork: OtherWork, profiled: boolean): Promise<DmRow> => {
    const phase = load.result();
    const stored = node.persistence ? await storedSince(probe, node.schema, phase.startedAtEpochMs) : null;
    const d: DmRow = {
      ...phase,
      persistence: node.persistence,
      pairs: args.pairs,
      ratePerSender: settings.ratePerSender,
      seconds: args.seconds,
      profiled,
      pgBackends: node.backends,
      pgCommit,
      otherWork,
      stored: stored ? { ...stored, meanBatch: round(stored.transactions ? stored.rows / stored.transactions : null, 1) } : null,
    };
    log(
      `${node.name}: recipient p50 ${d.recipient.p50Ms} p95 ${d.recipient.p95Ms} p99 ${d.recipient.p99Ms} max ${d.recipient.maxMs} ms; ack p50 ${d.ack.p50Ms} p99 ${d.ack.p99Ms} ms; ` +
        `${d.received}/${d.sent} received, acks ${JSON.stringify(d.acks)}, errors ${JSON.stringify(d.errors)}; ${d.serverCpuUsPerMsg} µs CPU/msg (${d.serverSystemUsPerMsg} kernel)` +
        (d.stored ? `; stored ${d.stored.rows} rows in ${d.stored.transactions} transactions` : '') +
        `; a one-row commit meanwhile p50 ${pgCommit.p50Ms} p99 ${pgCommit.p99Ms} ms; other work ${otherWork.otherCores} cores`,
    );
    return d;
  };

  /** The group fan-out on a node (persistence on or off: group messages are always stored). */
  const groupRun = async (node: Node, roundNo: number): Promise<GroupRow> => {
    const { server } = node;
    const groupId = `bench-${stamp}-${roundNo}`;
    const memberIds = ids('m', settings.groupMembers);
    await createGroup(server, infra.adminToken, groupId, memberIds);
    const members = await connectAll(server, memberIds);
    try {
      // Connections the pool opened since (group reads at login) join the others.
      pinBackends(await backendsOf(probe, url, server.pid), loadCore);
      // Each session enters its groups' rooms right after its login (ROOM_FLUSH_MS later on the bus).
      await sleep(1500);
      const groupRate = settings.groupSenders * settings.groupRatePerSender;
      await groupPhase(server, groupId, members, settings.groupSenders, 1, groupRate, 1, 3000);
      await sleep(500);
      const g = await groupPhase(server, groupId, members, settings.groupSenders, 2, groupRate, settings.groupSeconds, settings.drainMs);
      const gs = await storedSince(probe, node.schema, g.startedAtEpochMs, `group:${groupId}`);
      log(
        `round ${roundNo} group: fan-out p50 ${g.fanout.p50Ms} p99 ${g.fanout.p99Ms} ms; ${g.complete}/${g.sent} complete, ${g.deliveriesMissing} deliveries missing; ` +
          `acks ${JSON.stringify(g.acks)}, errors ${JSON.stringify(g.errors)}; stored ${gs.rows} rows in ${gs.transactions} transactions`,
      );
      return { ...g, stored: { ...gs, meanBatch: round(gs.transactions ? gs.rows / gs.transactions : null, 1) } };
    } finally {
      closeAll(members);
    }
  };

  /**
   * Both modes at once: two nodes up (both on the server core), their loads taking turns in
   * slices of ~2 s (off-on, on-off, ...), so that whatever else the machine does meanwhile hits
   * both alike; then the group fan-out on the persistence-on node.
   */
  const dmRound = async (roundNo: number, withDm: boolean, withGroup: boolean): Promise<{ dm: DmRow[]; group?: GroupRow }> => {
    const stop: Array<() => Promise<void>> = [];
    try {
      const on = await startNode(`r${roundNo}-on`, true, stop);
      const result: { dm: DmRow[]; group?: GroupRow } = { dm: [] };
      if (withDm) {
        const off = await startNode(`r${roundNo}-off`, false, stop);
        const loads = new Map<Node, DmLoad>([
          [off, new DmLoad(off.server, off.senders, off.recipients)],
          [on, new DmLoad(on.server, on.senders, on.recipients)],
        ]);
        const slices = Math.max(1, Math.round(args.seconds / SLICE_S));
        log(`round ${roundNo}: ${rate} messages/s for ${args.seconds} s per mode, in ${slices} slices each, taking turns`);
        const sampler = await commitSampler(db, probe);
        const machine = otherWorkMeter([off.server.pid, on.server.pid, infra.redis?.pid ?? 0, ...off.backendPids, ...on.backendPids]);
        for (let i = 0; i < slices; i++) {
          const order = (i + roundNo) % 2 === 0 ? [off, on] : [on, off];
          for (const node of order) await loads.get(node)!.slice(10 + i, rate, args.seconds / slices, settings.drainMs);
        }
        const otherWork = machine.stop();
        const pgCommit = await sampler.stop();
        for (const node of [off, on]) result.dm.push(await dmRow(node, loads.get(node)!, pgCommit, otherWork, false));
        closeAll([...off.senders, ...off.recipients, ...on.senders, ...on.recipients]);
      }
      if (withGroup) result.group = await groupRun(on, roundNo);
      return result;
    } finally {
      for (const fn of stop.reverse()) await fn().catch(() => {});
    }
  };

  /** The persistence-on node alone under `node --cpu-prof`, one continuous load (not compared). */
  const profiledRun = async (profileDir: string): Promise<{ dm: DmRow; file: string; fromUs: number; toUs: number }> => {
    const stop: Array<() => Promise<void>> = [];
    let node: Node | undefined;
    let dm: DmRow;
    let load: DmLoad;
    try {
      node = await startNode('prof-on', true, stop, profileDir);
      load = new DmLoad(node.server, node.senders, node.recipients);
      const sampler = await commitSampler(db, probe);
      const machine = otherWorkMeter([node.server.pid, infra.redis?.pid ?? 0, ...node.backendPids]);
      await load.slice(2, rate, args.seconds, settings.drainMs);
      const otherWork = machine.stop();
      dm = await dmRow(node, load, await sampler.stop(), otherWork, true);
    } finally {
      // The profile is written as the node exits.
      for (const fn of stop.reverse()) await fn().catch(() => {});
    }
    const phase = load.result();
    return { dm, file: join(profileDir, `chat-dm-${node.name}.cpuprofile`), fromUs: phase.hrFromUs, toUs: phase.hrToUs };
  };

  if (args.only.includes('dm') || args.only.includes('group') || args.cpuProf) {
    // The build (dist/) once, before any node starts: every node of the run is the same code. A
    // build that fails while someone edits the tree is tried again.
    for (let tries = 1; ; tries++) {
      try {
        gatehouseEntryArgs(REPO_ROOT);
        break;
      } catch (error) {
        if (tries >= 5) throw error;
        log(`build failed (${(error as Error).message.split('\n')[0]}); again in 20 s`);
        await sleep(20_000);
      }
    }
  }

  const rounds: ChatRound[] = [];
  for (let r = 1; r <= args.repeat; r++) {
    const chatRound: ChatRound = { round: r, commit: null, store: [], dm: [], group: null };
    rounds.push(chatRound);
    chatRound.commit = (await attempt(`round ${r}: commit probe`, () => commitProbe(db, probe, 1000))) ?? null;
    if (chatRound.commit)
      log(`round ${r} PostgreSQL one-row commit: p50 ${chatRound.commit.p50Ms} p99 ${chatRound.commit.p99Ms} max ${chatRound.commit.maxMs} ms`);
    if (args.only.includes('store')) {
      const runs: Array<{ database: 'postgres' | 'pglite'; path: 'writer' | 'append'; messages: number }> = [
        { database: 'postgres', path: 'writer', messages: settings.storeMessages },
        { database: 'postgres', path: 'append', messages: settings.storeMessages },
        { database: 'pglite', path: 'writer', messages: settings.pgliteMessages },
        { database: 'pglite', path: 'append', messages: settings.pgliteMessages },
      ];
      for (const run of runs) {
        const row: ThroughputRow | undefined = await attempt(`round ${r}: store ${run.database} ${run.path}`, () =>
          measureThroughput({
            ...run,
            warmup: settings.storeWarmup,
            conversations: settings.conversations,
            window: settings.storeWindow,
            pg: db,
            probe,
            pgCore: serverCore,
          }),
        );
        if (!row) continue;
        chatRound.store.push(row);
        log(
          `round ${r} store ${row.database} ${row.path}: ${row.perSec}/s (${row.messages} in ${row.wallMs} ms), ${row.batches} batches of ${row.meanBatch}, ` +
            `p50 ${row.p50Ms} p99 ${row.p99Ms} ms, ${row.cpuUsPerMsg} µs CPU/msg here, ${row.backendCpuUsPerMsg ?? '-'} in PostgreSQL, rows ${row.rows}/${row.expectedRows}; other work ${row.otherWork.otherCores} cores`,
        );
      }
    }
    if (args.only.includes('dm') || args.only.includes('group')) {
      const done = await attempt(`round ${r}: direct messages / group`, () => dmRound(r, args.only.includes('dm'), args.only.includes('group')));
      if (done) {
        chatRound.dm = done.dm;
        chatRound.group = done.group ?? null;
      }
    }
  }

  let profile: ProfileSummary | null = null;
  if (args.cpuProf) {
    const dir = join(args.out, 'profiles', new Date().toISOString().slice(0, 19).replace(/[:T]/g, '-'));
    const done = await attempt('profiled run', () => profiledRun(dir));
    if (done) {
      const text = await attempt('profile summary', async () => {
        const whole = JSON.parse(readFileSync(done.file, 'utf8')) as Parameters<typeof summarise>[0] & ProfileTree;
        const window = cutProfile(whole, done.fromUs, done.toUs);
        return `${summarise(window, 10)}\n\n${storeShare(window)}`;
      });
      if (text) {
        profile = {
          file: done.file.startsWith(REPO_ROOT) ? done.file.slice(REPO_ROOT.length) : done.file,
          windowS: (done.toUs - done.fromUs) / 1e6,
          summary: text,
          dm: done.dm,
        };
        log(`profile ${done.file}, load window:\n${text}`);
      }
    }
  }
  await cleanups.run();

  const results: ChatResults = {
    date: new Date().toISOString(),
    command: `npm run bench -- ${argv.join(' ')}`,
    mode: args.quick ? 'quick' : 'full',
    durationS: (Date.now() - t0) / 1000,
    machine: {
      cpus: cpus().length,
      model: cpus()[0]?.model.trim() ?? 'unknown',
      kernel: release(),
      node: process.versions.node,
      memoryMb: Math.round(totalmem() / 1024 / 1024),
      loadBefore,
      loadAfter: loadAverage(),
      taskset,
    },
    git: {
      commit: commandOutput('git', ['-C', REPO_ROOT, 'rev-parse', 'HEAD']) || 'unknown',
      dirty: commandOutput('git', ['-C', REPO_ROOT, 'status', '--porcelain', '--', 'src', 'prisma']).length > 0,
    },
    settings,
    rounds,
    profile,
    targets: evaluateTargets(rounds),
    notes,
    errors,
  };
  mkdirSync(args.out, { recursive: true });
  const base = join(args.out, `${results.date.slice(0, 10)}-chat${args.label ? `-${args.label}` : ''}${args.quick ? '-quick' : ''}`);
  writeFileSync(`${base}.json`, `${JSON.stringify(results, null, 2)}\n`);
  const md = chatMarkdown(results);
  writeFileSync(`${base}.md`, md);
  process.stdout.write(`\n${md}\n`);
  log(`wrote ${base}.{json,md}`);
  const failed = results.targets.filter((t) => t.pass === false).length;
  log(`done in ${Math.round(results.durationS)} s: ${results.targets.filter((t) => t.pass).length} targets passed, ${failed} failed`);
}

/** The samples of a V8 profile between two instants (µs of the monotonic clock both it and process.hrtime use). */
function cutProfile<P extends { samples: number[]; timeDeltas: number[]; startTime: number; endTime: number }>(profile: P, fromUs: number, toUs: number): P {
  const samples: number[] = [];
  const timeDeltas: number[] = [];
  let at = profile.startTime;
  let last = fromUs;
  profile.samples.forEach((sample, i) => {
    at += profile.timeDeltas[i] ?? 0;
    if (at < fromUs || at > toUs) return;
    samples.push(sample);
    timeDeltas.push(at - last);
    last = at;
  });
  return { ...profile, samples, timeDeltas, startTime: fromUs, endTime: toUs };
}

/** Profile nodes as far as the share of the store path needs them. */
interface ProfileTree {
  nodes: Array<{ id: number; callFrame: { functionName: string; url: string }; children?: number[] }>;
  samples: number[];
  timeDeltas: number[];
}

/** Code of the store path: Prisma, the pg driver and pool, the message store and writer. */
const STORE_CODE = /@prisma\/|node_modules\/pg\/|node_modules\/pg-(pool|protocol|types)\/|prisma-message-store|message-writer/;

/**
 * The share of the busy time whose stack goes through the store path (any frame of it, so its
 * socket writes and whatever it calls count too; GC is nobody's), and the writes to PostgreSQL's
 * sockets among the writev time.
 */
function storeShare(profile: ProfileTree): string {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const through = new Map<number, boolean>();
  const inStore = (id: number): boolean => {
    const known = through.get(id);
    if (known !== undefined) return known;
    const node = byId.get(id);
    const up = parent.get(id);
    const result = Boolean(node && STORE_CODE.test(node.callFrame.url)) || (up !== undefined && inStore(up));
    through.set(id, result);
    return result;
  };
  let busy = 0;
  let store = 0;
  let writev = 0;
  let storeWritev = 0;
  profile.samples.forEach((id, i) => {
    const name = byId.get(id)?.callFrame.functionName;
    if (name === '(idle)') return;
    const us = profile.timeDeltas[i] ?? 0;
    busy += us;
    const mine = inStore(id);
    if (mine) store += us;
    if (name === 'writev') {
      writev += us;
      if (mine) storeWritev += us;
    }
  });
  const pct = (us: number, of: number) => `${of > 0 ? ((us / of) * 100).toFixed(1) : '–'} %`;
  return (
    `store path (stacks through Prisma, pg, pg-pool, pg-protocol, prisma-message-store, message-writer): ${pct(store, busy)} of the busy time; ` +
    `writev: ${pct(writev, busy)} of the busy time, ${pct(storeWritev, writev)} of it to PostgreSQL`
  );
}
