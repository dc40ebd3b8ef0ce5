/**
 * `npm run chaos`: a 3-node Gatehouse cluster on a private Redis (primary + replica + 3
 * Sentinels) and a private PostgreSQL cluster, ~3,000 client-SDK bots with churn, and faults on a
 * seeded random schedule; then the checker (chaos/check.ts) judges the run. See chaos/README.md.
 *
 *   npm run chaos -- --seed=1 --duration=300 --bots=3000 --nodes=3 --faults=kill,stop,...
 *
 * Options: --seed=N (1) --duration=S of faults (300) --bots=N (3000) --nodes=N (3)
 * --workers=N bot processes (3) --out=DIR (chaos/results/<date>-seed<N>) --faults=list (the eight
 *   default kinds; the opt-in redis-rewind only when named)
 * --fault-scale=F fault and recovery durations x F (1) --ramp=S bot ramp-up (20)
 * --shutdown-gap=S between the nodes' SIGTERMs at the end (NODE_DEAD_AFTER_MS + 2 s)
 * --env=K=V extra node env (repeatable). Exit code: 0 when every must-hold check passed.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { appendFileSync, chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import pg from 'pg';
import { checkRun, writeReport } from './check.ts';
import { ALL_FAULT_KINDS, FAULT_KINDS, type FaultKind, FaultSchedule, type PlannedFault } from './lib/faults.ts';
import type { BotSpec, FromWorker, ToWorker, WorkerInit } from './lib/messages.ts';
import { GatewayNode, type NodeExit, ROOT } from './lib/nodes.ts';
import { GhostObserver } from './lib/observer.ts';
import { PrivatePostgres } from './lib/postgres.ts';
import { freePort, sleep, waitFor } from './lib/processes.ts';
import { ChaosProxy } from './lib/proxy.ts';
import { RedisSet } from './lib/redis-set.ts';

export const ADMIN_TOKEN = 'chaos-admin-token-0123456789';

export interface RunOptions {
  seed: number;
  durationS: number;
  bots: number;
  nodes: number;
  workers: number;
  out: string;
  faults: FaultKind[];
  faultScale: number;
  rampS: number;
  /** Pause between two nodes' SIGTERMs at the end; default NODE_DEAD_AFTER_MS + 2 s. */
  shutdownGapS: number | undefined;
  env: Record<string, string>;
}

export function parseArgs(argv: readonly string[]): RunOptions {
  const get = (name: string) => argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  const num = (name: string, def: number) => (get(name) === undefined ? def : Number(get(name)));
  const seed = num('seed', 1);
  const faults = (get('faults') ?? FAULT_KINDS.join(',')).split(',').filter(Boolean) as FaultKind[];
  for (const f of faults) if (!ALL_FAULT_KINDS.includes(f)) throw new Error(`unknown fault ${f} (known: ${ALL_FAULT_KINDS.join(', ')})`);
  const env: Record<string, string> = {};
  for (const a of argv.filter((x) => x.startsWith('--env='))) {
    const [k, ...v] = a.slice(6).split('=');
    env[k!] = v.join('=');
  }
  const date = new Date().toISOString().slice(0, 10);
  return {
    seed,
    durationS: num('duration', 300),
    bots: num('bots', 3000),
    nodes: num('nodes', 3),
    workers: num('workers', 3),
    out: resolve(get('out') ?? join(ROOT, 'chaos/results', `${date}-seed${seed}`)),
    faults,
    faultScale: num('fault-scale', 1),
    rampS: num('ramp', 20),
    shutdownGapS: get('shutdown-gap') === undefined ? undefined : Number(get('shutdown-gap')),
    env,
  };
}

/** Product settings the checker needs (the node env, else the product defaults of src/config.ts). */
function productSettings(env: Record<string, string>) {
  const n = (k: string, def: number) => (env[k] ? Number(env[k]) : def);
  return {
    HEARTBEAT_TIMEOUT_MS: n('HEARTBEAT_TIMEOUT_MS', 10_000),
    WATCHDOG_INTERVAL_MS: n('WATCHDOG_INTERVAL_MS', 1000),
    NODE_DEAD_AFTER_MS: n('NODE_DEAD_AFTER_MS', 5000),
    NODE_LEASE_INTERVAL_MS: n('NODE_LEASE_INTERVAL_MS', 1000),
    LOGOUT_GRACE_MS: n('LOGOUT_GRACE_MS', 5000),
  };
}

export async function runChaos(options: RunOptions): Promise<number> {
  const raw = join(options.out, 'raw');
  rmSync(raw, { recursive: true, force: true });
  mkdirSync(join(raw, 'nodes'), { recursive: true });
  mkdirSync(join(raw, 'bots'), { recursive: true });
  const tmp = mkdtempSync(join(tmpdir(), 'gatehouse-chaos-'));
  // PostgreSQL runs as its own user (we may be root): it must be able to reach its directory.
  chmodSync(tmp, 0o755);
  const events = join(raw, 'events.jsonl');
  const event = (record: object) => appendFileSync(events, `${JSON.stringify({ t: Date.now(), ...record })}\n`);
  const say = (text: string) => process.stdout.write(`[chaos ${new Date().toISOString().slice(11, 19)}] ${text}\n`);
  const settings = productSettings(options.env);
  const cleanups: Array<() => Promise<void> | void> = [];
  const children: ChildProcess[] = [];

  try {
    say(`seed ${options.seed}, ${options.bots} bots, ${options.nodes} nodes, faults for ${options.durationS} s: ${options.faults.join(', ')}`);
    mkdirSync(join(tmp, 'redis'));
    const redis = await RedisSet.start(join(tmp, 'redis'));
    cleanups.push(() => redis.stop());
    const postgres = await PrivatePostgres.start(join(tmp, 'pg'));
    cleanups.push(() => postgres.stop());
    say(`redis primary ${redis.master!.port} + replica + 3 sentinels, postgres ${postgres.port}`);

    const nodes: GatewayNode[] = [];
    const onExit = (exit: NodeExit) => {
      event({ ev: 'node-exit', ...exit });
      if (!exit.expected) say(`CRASH? ${exit.nodeId}#${exit.incarnation} exited ${exit.signal ?? exit.code}`);
    };
    const nodeEnv = { DATABASE_URL: postgres.url, AUTH_MODE: 'none', ADMIN_TOKEN, LOG_LEVEL: 'info', ...options.env };
    for (let i = 0; i < options.nodes; i++) {
      const proxy = await ChaosProxy.start(() => redis.master);
      cleanups.push(() => proxy.close());
      nodes.push(new GatewayNode(`chaos-${i + 1}`, await freePort(), proxy, raw, nodeEnv, onExit));
    }
    // Connections follow the primary, as a Sentinel-aware client's would (see README).
    redis.onMasterChange(() => {
      event({ ev: 'redis-master', port: redis.master!.port });
      for (const node of nodes) node.redisProxy.dropAll();
    });
    cleanups.push(async () => {
      for (const node of nodes) await node.kill9();
    });
    // The first node migrates the schema (DB_MIGRATE_ON_START), the others only start.
    await nodes[0]!.start({ DB_MIGRATE_ON_START: 'true' });
    await Promise.all(nodes.slice(1).map((n) => n.start({ DB_MIGRATE_ON_START: 'false' })));
    for (const node of nodes) event({ ev: 'node-start', nodeId: node.nodeId, incarnation: node.incarnation, port: node.port });
    say(`nodes up: ${nodes.map((n) => `${n.nodeId}:${n.port}`).join(' ')}`);

    // ---- bots ----
    const observer = new GhostObserver(nodes, ADMIN_TOKEN);
    const rampMs = options.rampS * 1000;
    const workers: ChildProcess[] = [];
    const states: Array<Extract<FromWorker, { type: 'state' }>['bots']> = [];
    let ready = 0;
    let done = 0;
    for (let w = 0; w < options.workers; w++) {
      const specs: BotSpec[] = [];
      for (let i = w; i < options.bots; i += options.workers) specs.push({ index: i, userId: `bot-${i}`, home: i % options.nodes });
      const child = fork(join(ROOT, 'chaos/bot-worker.ts'), [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      children.push(child);
      workers.push(child);
      child.on('message', (message: FromWorker) => {
        if (message.type === 'ready') ready++;
        else if (message.type === 'silent') observer.silent(message.userId, message.kind, message.lastFrame, message.at, message.nodeId);
        else if (message.type === 'back') observer.back(message.userId, message.at);
        else if (message.type === 'state') states.push(message.bots);
        else if (message.type === 'done') done++;
      });
      const init: WorkerInit = {
        type: 'init',
        worker: w,
        bots: specs,
        nodePorts: nodes.map((n) => n.port),
        seed: options.seed,
        rampMs,
        mix: { quit: 0.08, vanish: 0.06, freeze: 0.06 },
        outFile: join(raw, 'bots', `worker-${w}.jsonl`),
      };
      child.send(init satisfies ToWorker);
    }
    cleanups.push(() => {
      for (const child of workers) child.kill('SIGKILL');
    });
    const rampStart = Date.now();
    await waitFor('every bot connected', () => ready === options.workers, rampMs + 120_000, 200);
    say(`${options.bots} bots connected (in ${((Date.now() - rampStart) / 1000).toFixed(1)} s)`);
    const faultsStart = Date.now() + 5000;
    const faultsEnd = faultsStart + options.durationS * 1000;
    for (const w of workers) w.send({ type: 'go', churnFrom: faultsStart, churnUntil: faultsEnd - 30_000 } satisfies ToWorker);
    observer.start();
    writeFileSync(
      join(raw, 'meta.json'),
      JSON.stringify(
        { options: { ...options, out: undefined }, settings, faultsStart, faultsEnd, nodes: nodes.map((n) => ({ nodeId: n.nodeId, port: n.port })) },
        null,
        2,
      ),
    );

    // ---- faults ----
    await sleep(Math.max(0, faultsStart - Date.now()));
    const schedule = new FaultSchedule({
      seed: options.seed,
      kinds: options.faults,
      nodes: options.nodes,
      scale: options.faultScale,
      deadAfterMs: settings.NODE_DEAD_AFTER_MS,
    });
    const faultLog = join(raw, 'faults.jsonl');
    for (;;) {
      const fault = schedule.next();
      const worst = fault.gapMs + fault.durationMs + 15_000 * options.faultScale;
      if (Date.now() + worst > faultsEnd && options.faults.length > 0) break;
      if (options.faults.length === 0) {
        await sleep(faultsEnd - Date.now());
        break;
      }
      await sleep(fault.gapMs);
      const node = nodes[fault.node]!;
      const record: Record<string, unknown> = { kind: fault.kind, nodeId: node.nodeId, start: Date.now() };
      say(
        `fault ${fault.kind}${fault.durationMs ? ` for ${(fault.durationMs / 1000).toFixed(1)} s` : ''} on ${fault.kind.startsWith('redis') && fault.kind !== 'redis-cut' ? 'redis' : fault.kind === 'pg-restart' ? 'postgres' : node.nodeId}`,
      );
      try {
        Object.assign(record, await inject(fault, node, redis, postgres));
      } catch (error) {
        record.error = (error as Error).message;
        say(`fault ${fault.kind} failed: ${(error as Error).message}`);
      }
      record.end = Date.now();
      if (!NODE_FAULT_TARGET.has(fault.kind)) delete record.nodeId;
      appendFileSync(faultLog, `${JSON.stringify(record)}\n`);
    }
    await sleep(Math.max(0, faultsEnd - Date.now()));

    // ---- the end: settle, snapshot, clean shutdown ----
    const settleMs =
      settings.HEARTBEAT_TIMEOUT_MS + settings.WATCHDOG_INTERVAL_MS + 500 + 2 * settings.NODE_DEAD_AFTER_MS + settings.NODE_LEASE_INTERVAL_MS + 3000;
    say(`faults over; settling ${settleMs / 1000} s`);
    await sleep(settleMs);
    observer.stop();
    for (const w of workers) w.send({ type: 'end' } satisfies ToWorker);
    await waitFor('bot states', () => states.length === workers.length, 30_000, 50);
    const snapshotAt = Date.now();
    const online = await redisOnline(redis.masterUrl);
    writeFileSync(join(raw, 'redis-end.json'), JSON.stringify({ at: snapshotAt, online, bots: states.flat() }));
    writeFileSync(join(raw, 'observer.json'), JSON.stringify(observer.results));
    say(`snapshot: ${online.length} online in Redis; shutting the nodes down one by one (SIGTERM)`);
    // One by one, NODE_DEAD_AFTER_MS + 2 s apart: a node that left with players still in the
    // store keeps its lease (left for the reaper), and the next one judges it alive for
    // NODE_DEAD_AFTER_MS; stopped back to back (--shutdown-gap=0), the last node does not see
    // itself as last and leaves the grace periods unexpired.
    const gapMs = options.shutdownGapS === undefined ? settings.NODE_DEAD_AFTER_MS + 2000 : options.shutdownGapS * 1000;
    for (const [i, node] of nodes.entries()) {
      if (i > 0) await sleep(gapMs);
      const code = await node.terminate(60_000);
      event({ ev: 'node-terminated', nodeId: node.nodeId, code });
    }
    for (const w of workers) w.send({ type: 'finish' } satisfies ToWorker);
    await waitFor('bot records', () => done === workers.length, 30_000, 50);
    const after = await redisOnline(redis.masterUrl);
    writeFileSync(join(raw, 'redis-after.json'), JSON.stringify({ at: Date.now(), online: after }));
    await dumpSessions(postgres.url, join(raw, 'db-sessions.json'));
    say('stores dumped; checking');
  } finally {
    for (const cleanup of cleanups.reverse()) await Promise.resolve(cleanup()).catch(() => {});
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    rmSync(tmp, { recursive: true, force: true });
  }
  const report = checkRun(options.out);
  writeReport(options.out, report);
  say(`report: ${join(options.out, 'report.md')} — ${report.verdict.pass ? 'PASS' : `FAIL (${report.verdict.failed.join(', ')})`}`);
  return report.verdict.pass ? 0 : 1;
}

const NODE_FAULT_TARGET: ReadonlySet<FaultKind> = new Set<FaultKind>(['kill', 'stop', 'skew', 'starve', 'redis-cut']);

async function inject(fault: PlannedFault, node: GatewayNode, redis: RedisSet, postgres: PrivatePostgres): Promise<Record<string, unknown>> {
  switch (fault.kind) {
    case 'kill':
      await node.kill9();
      await sleep(fault.durationMs);
      await node.start();
      return { down: fault.durationMs, incarnation: node.incarnation };
    case 'stop':
      node.freeze();
      await sleep(fault.durationMs);
      node.cont();
      return {};
    case 'skew':
      node.setFault({ skewMs: fault.skewMs! });
      await sleep(fault.durationMs);
      node.setFault({});
      return { skewMs: fault.skewMs };
    case 'starve':
      node.degraded = true;
      node.setFault({ loopStallMs: 3000, loopRunMs: 50 });
      await sleep(fault.durationMs);
      node.setFault({});
      node.degraded = false;
      return { loopStallMs: 3000, loopRunMs: 50 };
    case 'redis-cut':
      node.redisProxy.cut();
      await sleep(fault.durationMs);
      node.redisProxy.restore();
      return {};
    case 'redis-restart':
      return await redis.restartPrimaryEmpty();
    case 'redis-failover':
      return await redis.failover();
    case 'redis-rewind': {
      await redis.snapshotPrimary();
      await sleep(fault.durationMs);
      return await redis.rewindPrimary();
    }
    case 'pg-restart':
      await postgres.restart();
      return {};
  }
}

async function redisOnline(url: string): Promise<Array<{ userId: string; status: string | null; nodeId: string | null }>> {
  const client = new Redis(url, { maxRetriesPerRequest: 3 });
  client.on('error', () => {});
  try {
    const users = await client.smembers('server:online:players');
    const out = [];
    for (const userId of users) {
      const [status, nodeId] = await client.hmget(`player:online:${userId}`, 'status', 'nodeId');
      out.push({ userId, status: status ?? null, nodeId: nodeId ?? null });
    }
    return out;
  } finally {
    client.disconnect();
  }
}

async function dumpSessions(url: string, file: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query(
      `SELECT id, user_id, node_id, epoch::text AS epoch,
              (extract(epoch FROM connected_at) * 1000)::bigint::text AS connected_at,
              (extract(epoch FROM disconnected_at) * 1000)::bigint::text AS disconnected_at, reason
       FROM player_sessions`,
    );
    writeFileSync(
      file,
      JSON.stringify(
        rows.map((r) => ({
          id: r.id,
          userId: r.user_id,
          nodeId: r.node_id,
          epoch: Number(r.epoch),
          connectedAt: Number(r.connected_at),
          disconnectedAt: r.disconnected_at === null ? null : Number(r.disconnected_at),
          reason: r.reason,
        })),
      ),
    );
  } finally {
    await client.end();
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  runChaos(parseArgs(process.argv.slice(2))).then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`chaos run failed: ${(error as Error).stack ?? error}\n`);
      process.exit(2);
    },
  );
}
