/**
 * The servers under test and how to start one: each is its own Node process pinned to the
 * server core, started with `--inspect-port` (inspector closed; opened later only to force a
 * GC for the RSS reading, identically for every server), ready when GET /health/live answers.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gatehouseEntryArgs } from './gatehouse-entry.ts';
import type { WireProtocol } from './ipc.ts';
import { REPO_ROOT } from './load.ts';
import { forceGc, heapUsage } from './inspector.ts';
import { freePort, waitHttpOk } from './net.ts';
import { killChild, processCpuUs, processRssKb, spawnChild, type Spawned } from './proc.ts';
import type { BenchDatabase } from './pg.ts';
import type { PrivateRedis } from './redis.ts';

export type ServerId = 'raw-ws' | 'socketio' | 'gatehouse' | 'gatehouse-redis-pg';

export interface ServerSpec {
  id: ServerId;
  label: string;
  protocol: WireProtocol;
  /** Needs the private Redis even on one node. */
  needsRedis: boolean;
  needsPg: boolean;
  /** Can run as two nodes sharing state (cross-node direct messages). */
  clusters: boolean;
}

export const SERVERS: Record<ServerId, ServerSpec> = {
  'raw-ws': { id: 'raw-ws', label: 'raw ws', protocol: 'json', needsRedis: false, needsPg: false, clusters: true },
  socketio: { id: 'socketio', label: 'Socket.IO 4 + Redis adapter', protocol: 'sio', needsRedis: true, needsPg: false, clusters: true },
  gatehouse: { id: 'gatehouse', label: 'Gatehouse (embedded)', protocol: 'json', needsRedis: false, needsPg: false, clusters: false },
  'gatehouse-redis-pg': {
    id: 'gatehouse-redis-pg',
    label: 'Gatehouse (Redis + PostgreSQL)',
    protocol: 'json',
    needsRedis: true,
    needsPg: true,
    clusters: true,
  },
};

export const SERVER_ORDER: ServerId[] = ['raw-ws', 'socketio', 'gatehouse', 'gatehouse-redis-pg'];

export interface Infra {
  serverCore: number | null;
  redis?: PrivateRedis;
  db?: BenchDatabase;
  adminToken: string;
  /** When set, servers run with `node --cpu-prof` into this directory (stopped with SIGINT to write it). */
  cpuProfDir?: string;
  /** Gatehouse checkout to run (default: this repository), e.g. a `git worktree` of another commit. */
  gatehouseDir?: string;
}

export interface StartOptions {
  nodeId: string;
  /** Shared by the nodes of one cluster. */
  redisPrefix?: string;
  schema?: string;
  /** raw ws: give it Redis for cross-node messages. */
  withRedis?: boolean;
  extraEnv?: Record<string, string>;
  /** Label of the profile file (with profileDir). */
  profileName?: string;
  /** Listen here instead of a free port (a restart on the same address). */
  port?: number;
}

/** A minimal environment: nothing of the caller's (DATABASE_URL, REDIS_URL, ...) leaks in. */
function baseEnv(): Record<string, string> {
  const keep = ['PATH', 'HOME', 'TMPDIR', 'LANG', 'TZ'];
  const env: Record<string, string> = {};
  for (const k of keep) if (process.env[k] !== undefined) env[k] = process.env[k]!;
  return env;
}

export class RunningServer {
  constructor(
    readonly spec: ServerSpec,
    readonly nodeId: string,
    readonly port: number,
    readonly inspectPort: number,
    private proc: Spawned,
    private readonly profiling: boolean,
    /** A scratch directory of the server's own (the embedded database), removed when it stops. */
    private readonly dataDir?: string,
    /** How it was started, for crashAndRestart(). */
    private readonly launch?: { core: number | null; args: string[]; cwd: string; env: Record<string, string> },
  ) {}

  /**
   * SIGKILL (a crash: every socket reset, nothing flushed), then the same process again on the
   * same port and data; resolves when it answers /health/live.
   */
  async crashAndRestart(): Promise<void> {
    if (!this.launch) throw new Error('crashAndRestart: no launch recorded');
    await killChild(this.proc.child, 'SIGKILL');
    const { core, args, cwd, env } = this.launch;
    this.proc = spawnChild(core, process.execPath, args, { cwd, env });
    if (!(await waitHttpOk(`${this.httpBase}/health/live`, 120_000, () => !this.alive))) {
      throw new Error(`${this.spec.id} (${this.nodeId}) did not come back:\n${this.proc.tail()}`);
    }
  }

  get pid(): number {
    return this.proc.child.pid ?? -1;
  }

  get alive(): boolean {
    return this.proc.child.exitCode === null && this.proc.child.signalCode === null;
  }

  get httpBase(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** ws:// URL the load process appends `userId=` to. */
  get wsUrl(): string {
    return this.spec.protocol === 'sio' ? `ws://127.0.0.1:${this.port}/socket.io/?EIO=4&transport=websocket` : `ws://127.0.0.1:${this.port}/ws`;
  }

  cpuUs(): number {
    const v = processCpuUs(this.pid);
    if (v === null) throw new Error(`${this.spec.id} (${this.nodeId}) is gone:\n${this.proc.tail()}`);
    return v;
  }

  rssKb(): number {
    const v = processRssKb(this.pid);
    if (v === null) throw new Error(`${this.spec.id} (${this.nodeId}) is gone:\n${this.proc.tail()}`);
    return v;
  }

  gc(): Promise<boolean> {
    return forceGc(this.pid, this.inspectPort);
  }

  /**
   * Live and committed V8 heap of the main isolate in KiB (live is meaningful right after gc());
   * null when unavailable. Committed includes the young generation's semi-spaces, which V8
   * sizes by allocation rate and a forced GC need not shrink.
   */
  async heapUsageKb(): Promise<{ usedKb: number; committedKb: number } | null> {
    const usage = await heapUsage(this.pid, this.inspectPort);
    return usage ? { usedKb: usage.usedSize / 1024, committedKb: usage.totalSize / 1024 } : null;
  }

  tail(): string {
    return this.proc.tail();
  }

  async stop(): Promise<void> {
    if (this.profiling) {
      // The profile is written on a normal exit only.
      await killChild(this.proc.child, 'SIGINT', 30_000);
    } else {
      await killChild(this.proc.child, 'SIGKILL');
    }
    if (this.dataDir) rmSync(this.dataDir, { recursive: true, force: true });
  }
}

/** Starts Gatehouse once with `env` until it is ready, then stops it gracefully (SIGTERM). */
async function primeDataDir(infra: Infra, cwd: string, entryArgs: string[], env: Record<string, string>): Promise<void> {
  const port = await freePort();
  const proc = spawnChild(infra.serverCore, process.execPath, entryArgs, { cwd, env: { ...env, PORT: String(port) } });
  try {
    const alive = () => proc.child.exitCode === null && proc.child.signalCode === null;
    if (!(await waitHttpOk(`http://127.0.0.1:${port}/health/ready`, 120_000, () => !alive()))) {
      throw new Error(`gatehouse did not create its data directory:\n${proc.tail()}`);
    }
  } finally {
    await killChild(proc.child, 'SIGTERM', 30_000);
  }
}

export async function startServer(spec: ServerSpec, infra: Infra, options: StartOptions): Promise<RunningServer> {
  const port = options.port ?? (await freePort());
  const inspectPort = await freePort();
  const env: Record<string, string> = {
    ...baseEnv(),
    PORT: String(port),
    HOST: '127.0.0.1',
    NODE_ID: options.nodeId,
    ADMIN_TOKEN: infra.adminToken,
    NODE_OPTIONS: '',
  };
  let entryArgs: string[];
  let cwd = REPO_ROOT;
  let dataDir: string | undefined;
  if (spec.id === 'raw-ws' || spec.id === 'socketio') {
    entryArgs = ['--import', 'tsx', join(REPO_ROOT, 'bench', 'servers', spec.id === 'raw-ws' ? 'raw-ws.ts' : 'socketio.ts')];
    if (spec.id === 'socketio' || options.withRedis) {
      if (!infra.redis) throw new Error(`${spec.id} needs Redis`);
      env.REDIS_URL = infra.redis.url;
      env.REDIS_KEY_PREFIX = options.redisPrefix ?? '';
    }
  } else {
    cwd = infra.gatehouseDir ?? REPO_ROOT;
    entryArgs = gatehouseEntryArgs(cwd);
    Object.assign(env, { NODE_ENV: 'development', AUTH_MODE: 'none', LOG_LEVEL: 'warn' });
    if (spec.id === 'gatehouse') {
      // The embedded default: PGlite in a data directory on disk (PGLITE_DIR defaults to
      // ./data/pglite), a fresh one per start. Not memory://, which keeps the database files in
      // the process's own memory, where a user running the defaults does not have them.
      dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-pglite-'));
      env.PGLITE_DIR = join(dataDir, 'pglite');
      env.NODE_STATE_FILE = join(dataDir, 'node-state.json');
      // A deployment creates its database once and then restarts on it: the measured process
      // opens a directory a first start already created (initdb, migrations), so what that
      // one-time work leaves behind in a process is not in the measured one's baseline.
      await primeDataDir(infra, cwd, entryArgs, env);
    } else {
      if (!infra.redis || !infra.db || !options.schema) throw new Error('gatehouse-redis-pg needs Redis, PostgreSQL and a schema');
      Object.assign(env, {
        DATABASE_URL: infra.db.url,
        DATABASE_SCHEMA: options.schema,
        REDIS_URL: infra.redis.url,
        REDIS_KEY_PREFIX: options.redisPrefix ?? '',
      });
    }
  }
  Object.assign(env, options.extraEnv ?? {});
  const args = [`--inspect-port=127.0.0.1:${inspectPort}`];
  const profiling = Boolean(infra.cpuProfDir);
  if (infra.cpuProfDir) {
    mkdirSync(infra.cpuProfDir, { recursive: true });
    args.push('--cpu-prof', `--cpu-prof-dir=${infra.cpuProfDir}`, `--cpu-prof-name=${options.profileName ?? options.nodeId}.cpuprofile`);
  }
  args.push(...entryArgs);
  const proc = spawnChild(infra.serverCore, process.execPath, args, { cwd, env });
  const server = new RunningServer(spec, options.nodeId, port, inspectPort, proc, profiling, dataDir, { core: infra.serverCore, args, cwd, env });
  const ok = await waitHttpOk(`${server.httpBase}/health/live`, 120_000, () => !server.alive);
  if (!ok) {
    await killChild(proc.child);
    throw new Error(`${spec.id} (${options.nodeId}) did not become live:\n${proc.tail()}`);
  }
  return server;
}
