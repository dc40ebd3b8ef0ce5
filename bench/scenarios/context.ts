/** What every scenario gets, and the helpers they share (deploying servers, load processes, windows). */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LoadProcess } from '../lib/load.ts';
import { CpuProfile } from '../lib/inspector.ts';
import { coreBusy, processCpuUs, readCoreTimes, sleep, type CoreTimes } from '../lib/proc.ts';
import { PrivateRedis, type CommandStats } from '../lib/redis.ts';
import { startServer, type Infra, type RunningServer, type ServerSpec } from '../lib/servers.ts';
import type { WindowReply, WindowStats } from '../lib/ipc.ts';

export interface BenchContext {
  quick: boolean;
  infra: Infra;
  loadCore: number | null;
  /** Pinning worked (taskset present). */
  pinned: boolean;
  /** A generator above this fraction of its core over a window discards the window. */
  saturation: number;
  /** Sockets per load process at most. */
  socketsPerProcess: number;
  /** Key prefix unique to this run (private Redis anyway). */
  stamp: string;
  log(message: string): void;
  /** Hard stop for the whole run (ms since epoch). */
  deadline: number;
  /** `--profile`: CPU profiles of every measuring window are written here. */
  profileDir?: string;
}

/** Runs `fn` with a CPU profile of each server (when profiling), written as <name>-<nodeId>.cpuprofile. */
export async function profiled<T>(ctx: BenchContext, servers: RunningServer[], name: string, fn: () => Promise<T>): Promise<T> {
  const dir = ctx.profileDir;
  if (!dir) return fn();
  mkdirSync(dir, { recursive: true });
  const profiles = await Promise.all(servers.map((s) => CpuProfile.start(s.pid, s.inspectPort)));
  try {
    return await fn();
  } finally {
    await Promise.all(
      profiles.map(async (p, i) => {
        const file = join(dir, `${name}-${servers[i]!.nodeId}.cpuprofile`);
        writeFileSync(file, await p.stop());
        ctx.log(`profile written: ${file}`);
      }),
    );
  }
}

export function checkDeadline(ctx: BenchContext, what: string): void {
  if (Date.now() > ctx.deadline) throw new Error(`benchmark time budget exhausted before ${what}`);
}

export interface Deployment {
  servers: RunningServer[];
  schema?: string;
  teardown(): Promise<void>;
}

/** Starts `nodes` processes of one server kind sharing one Redis prefix and one schema. */
export async function deploy(
  ctx: BenchContext,
  spec: ServerSpec,
  nodes: number,
  options: { withRedis?: boolean; extraEnv?: Record<string, string>; profileName?: string } = {},
): Promise<Deployment> {
  const { infra } = ctx;
  checkDeadline(ctx, `starting ${spec.id}`);
  if (spec.needsRedis || options.withRedis) {
    if (!infra.redis) throw new Error(`${spec.id} needs Redis (not available)`);
    await infra.redis.reset();
  }
  let schema: string | undefined;
  if (spec.needsPg) {
    if (!infra.db) throw new Error(`${spec.id} needs PostgreSQL (not available)`);
    schema = await infra.db.createSchema();
  }
  const servers: RunningServer[] = [];
  const teardown = async () => {
    await Promise.all(servers.map((s) => s.stop()));
    if (schema && infra.db) await infra.db.dropSchema(schema).catch(() => {});
  };
  try {
    for (let i = 0; i < nodes; i++) {
      servers.push(
        await startServer(spec, infra, {
          nodeId: `${spec.id}-${i + 1}`,
          redisPrefix: `bench:${ctx.stamp}:`,
          ...(schema ? { schema } : {}),
          ...(options.withRedis ? { withRedis: true } : {}),
          ...(options.extraEnv ? { extraEnv: options.extraEnv } : {}),
          profileName: `${options.profileName ?? spec.id}-node${i + 1}`,
        }),
      );
    }
  } catch (error) {
    await teardown();
    throw error;
  }
  return { servers, ...(schema ? { schema } : {}), teardown };
}

export async function startLoad(ctx: BenchContext, count: number): Promise<LoadProcess[]> {
  return Promise.all(Array.from({ length: count }, (_, i) => LoadProcess.start(i, ctx.loadCore)));
}

export async function stopLoad(procs: LoadProcess[]): Promise<void> {
  await Promise.all(procs.map((p) => p.kill()));
}

/**
 * Waits at least `minMs`, then until the servers' CPU use settles (two consecutive 1 s samples
 * within 10 % or 0.03 core of each other: login writes and JIT warm-up are over), at most `maxMs`.
 */
export async function settle(servers: RunningServer[], minMs: number, maxMs: number): Promise<number> {
  const started = Date.now();
  const cpu = () => servers.reduce((a, s) => a + s.cpuUs(), 0);
  let last = cpu();
  let lastAt = Date.now();
  let prevFraction: number | undefined;
  for (;;) {
    await sleep(1000);
    const now = Date.now();
    const c = cpu();
    const fraction = (c - last) / ((now - lastAt) * 1000);
    last = c;
    lastAt = now;
    const elapsed = now - started;
    if (elapsed >= minMs && prevFraction !== undefined && Math.abs(fraction - prevFraction) <= Math.max(0.03, 0.1 * prevFraction)) {
      return elapsed;
    }
    if (elapsed >= maxMs) return elapsed;
    prevFraction = fraction;
  }
}

export interface WindowMeasurement {
  wallMs: number;
  serverCpuUs: number;
  loads: WindowStats[];
  /** Busy fraction of each core over the window (whole machine, any process). */
  coreBusy: number[];
  redis?: CommandStats;
  /** Sum of the generators' CPU over the window, as a fraction of one core. */
  generatorCpu: number;
  generatorCpuEach: number[];
  saturated: boolean;
  /**
   * CPU other processes took on the pinned cores during the window (fraction of a core): the
   * server core minus the servers, the load core minus generators and the private Redis. Other
   * work on the machine shows here; figures measured under high contention are noisy.
   */
  foreign: { serverCore: number; loadCore: number } | null;
  /** Worst event-loop delay p99 of the generators (ms). */
  loopDelayP99Ms: number;
}

/** CPU time of the private Redis (it shares the load core), µs. */
function redisCpuUs(ctx: BenchContext): number {
  const pid = ctx.infra.redis?.pid;
  return pid ? (processCpuUs(pid) ?? 0) : 0;
}

/** One measuring window: server CPU, core times, Redis commands and the generators' counters. */
export async function measureWindow(ctx: BenchContext, servers: RunningServer[], procs: LoadProcess[], windowMs: number): Promise<WindowMeasurement> {
  const redis = ctx.infra.redis;
  const useRedis = servers.some((s) => s.spec.needsRedis) && redis;
  const r0 = useRedis ? await redis.commandStats() : undefined;
  await Promise.all(procs.map((p) => p.request({ cmd: 'window', action: 'start' })));
  const cores0: CoreTimes = readCoreTimes();
  const cpu0 = servers.reduce((a, s) => a + s.cpuUs(), 0);
  const redis0 = redisCpuUs(ctx);
  const t0 = Date.now();
  await sleep(windowMs);
  const cpu1 = servers.reduce((a, s) => a + s.cpuUs(), 0);
  const redis1 = redisCpuUs(ctx);
  const wallMs = Date.now() - t0;
  const cores1 = readCoreTimes();
  const replies = await Promise.all(procs.map((p) => p.request<WindowReply>({ cmd: 'window', action: 'stop' })));
  const r1 = useRedis ? await redis.commandStats() : undefined;
  const loads = replies.map((r) => r.stats!);
  const each = loads.map((l) => l.cpuUs / (l.wallMs * 1000));
  const generatorCpu = each.reduce((a, b) => a + b, 0);
  // Generators share the load core when pinned; unpinned, each has a core of its own at best.
  const saturated = ctx.pinned ? generatorCpu > ctx.saturation : each.some((f) => f > ctx.saturation);
  const busy = coreBusy(cores0, cores1);
  const serverCore = ctx.infra.serverCore;
  const foreign =
    ctx.pinned && serverCore !== null && ctx.loadCore !== null
      ? {
          serverCore: Math.max(0, (busy[serverCore] ?? 0) - (cpu1 - cpu0) / (wallMs * 1000)),
          loadCore: Math.max(0, (busy[ctx.loadCore] ?? 0) - generatorCpu - (redis1 - redis0) / (wallMs * 1000)),
        }
      : null;
  return {
    wallMs,
    serverCpuUs: cpu1 - cpu0,
    loads,
    coreBusy: busy,
    foreign,
    loopDelayP99Ms: Math.max(0, ...loads.map((l) => l.loopDelayP99Ms)),
    ...(r0 && r1 ? { redis: PrivateRedis.delta(r0, r1) } : {}),
    generatorCpu,
    generatorCpuEach: each,
    saturated,
  };
}

/** Splits `total` users over `procs` processes as evenly as possible. */
export function shares(total: number, procs: number): number[] {
  return Array.from({ length: procs }, (_, i) => Math.floor(total / procs) + (i < total % procs ? 1 : 0));
}

export const round = (v: number | null | undefined, digits = 2): number | null =>
  v === null || v === undefined || !Number.isFinite(v) ? null : Math.round(v * 10 ** digits) / 10 ** digits;
