/**
 * Processes: spawning pinned to a core with `taskset`, reading a process's CPU time and RSS
 * from /proc, the machine's per-core busy time, and a registry that kills every child we
 * started when the benchmark ends (normally, on an error, or on SIGINT/SIGTERM).
 */
import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { readFileSync, writeFileSync, existsSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

let tasksetChecked: boolean | undefined;
/** Whether `taskset` (util-linux) is usable here. */
export function hasTaskset(): boolean {
  if (tasksetChecked === undefined) {
    const r = spawnSync('taskset', ['-p', String(process.pid)], { encoding: 'utf8' });
    tasksetChecked = r.status === 0;
  }
  return tasksetChecked;
}

/** Number of clock ticks per second of /proc/<pid>/stat utime/stime. */
export const CLK_TCK: number = (() => {
  const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  const n = Number(r.stdout?.trim());
  return Number.isFinite(n) && n > 0 ? n : 100;
})();

/** utime + stime of a process (all its threads), in µs. Null when the process is gone. */
export function processCpuUs(pid: number): number | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // Fields after the command name (which may contain spaces) start at index 3 (state).
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  return ((utime + stime) / CLK_TCK) * 1e6;
}

/** VmRSS of a process in KiB. Null when the process is gone. */
export function processRssKb(pid: number): number | null {
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

export interface CoreTimes {
  /** Per core: busy and total jiffies since boot. */
  cores: Array<{ busy: number; total: number }>;
}

export function readCoreTimes(): CoreTimes {
  const cores: CoreTimes['cores'] = [];
  for (const line of readFileSync('/proc/stat', 'utf8').split('\n')) {
    const m = /^cpu(\d+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const v = m[2]!.trim().split(/\s+/).map(Number);
    // user nice system idle iowait irq softirq steal ...
    const idle = (v[3] ?? 0) + (v[4] ?? 0);
    const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
    cores[Number(m[1])] = { busy: total - idle, total };
  }
  return { cores };
}

/** Fraction of each core that was busy between two readings. */
export function coreBusy(a: CoreTimes, b: CoreTimes): number[] {
  return b.cores.map((cb, i) => {
    const ca = a.cores[i];
    if (!ca || !cb) return 0;
    const total = cb.total - ca.total;
    return total > 0 ? (cb.busy - ca.busy) / total : 0;
  });
}

export function loadAverage(): number[] {
  try {
    return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number);
  } catch {
    return [];
  }
}

// ---- children ---------------------------------------------------------------------------------

const children = new Set<ChildProcess>();
const PID_FILE = join(tmpdir(), `gatehouse-bench-${process.getuid?.() ?? 0}.pids`);

function savePids(): void {
  try {
    const pids = [...children].map((c) => c.pid).filter((p): p is number => typeof p === 'number');
    writeFileSync(PID_FILE, pids.join('\n'));
  } catch {
    /* best effort */
  }
}

/** The parent pid of `pid` (null when it is gone). */
function parentPid(pid: number): number | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(text.slice(text.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return null;
  }
}

/** A benchmark orchestrator still running (another run of this machine, maybe another worktree's). */
function isLiveOrchestrator(pid: number | null): boolean {
  if (pid === null || pid <= 1) return false;
  try {
    return /bench\/|chaos\//.test(readFileSync(`/proc/${pid}/cmdline`, 'utf8'));
  } catch {
    return false;
  }
}

/**
 * Kills children left over by a previous run that was itself killed hard (SIGKILL gives no
 * chance to clean up). Only pids whose command line still looks like ours are touched, and
 * never the child of a benchmark still running: the pid file is shared by every run of this
 * user, and parallel runs (other worktrees) overwrite it with their own children.
 */
export function reapStaleChildren(): number {
  if (!existsSync(PID_FILE)) return 0;
  let killed = 0;
  for (const line of readFileSync(PID_FILE, 'utf8').split('\n')) {
    const pid = Number(line);
    if (!Number.isInteger(pid) || pid <= 1) continue;
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (/bench\/(servers|load|hostile)\/|src\/server\.ts|redis-server/.test(cmd) && !isLiveOrchestrator(parentPid(pid))) {
        process.kill(pid, 'SIGKILL');
        killed++;
      }
    } catch {
      /* gone */
    }
  }
  try {
    unlinkSync(PID_FILE);
  } catch {
    /* ignore */
  }
  return killed;
}

/** Command prefix that pins to `core` (or nothing when taskset is missing / core is null). */
export function pinned(core: number | null, command: string, args: string[]): [string, string[]] {
  if (core === null || !hasTaskset()) return [command, args];
  return ['taskset', ['-c', String(core), command, ...args]];
}

export interface Spawned {
  child: ChildProcess;
  /** Last lines of stderr/stdout, for error messages. */
  tail(): string;
}

/** Spawns a registered child (killed by killAllChildren). `taskset` execs, so child.pid is the program's pid. */
export function spawnChild(core: number | null, command: string, args: string[], options: SpawnOptions): Spawned {
  const [cmd, argv] = pinned(core, command, args);
  const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
  children.add(child);
  savePids();
  const lines: string[] = [];
  const keep = (chunk: Buffer) => {
    for (const l of chunk.toString().split('\n')) {
      if (!l.trim()) continue;
      lines.push(l.length > 400 ? `${l.slice(0, 400)}…` : l);
      if (lines.length > 40) lines.shift();
    }
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  child.on('exit', () => {
    children.delete(child);
    savePids();
  });
  return { child, tail: () => lines.join('\n') };
}

/** Kills one child (SIGKILL unless told otherwise) and waits for it to be gone (bounded). */
export async function killChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGKILL', waitMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    child.kill(signal);
  } catch {
    return;
  }
  await Promise.race([gone, sleep(waitMs)]);
  if (child.exitCode === null && child.signalCode === null) {
    try {
      child.kill('SIGKILL');
    } catch {
      /* ignore */
    }
    await Promise.race([gone, sleep(2000)]);
  }
}

/** Synchronous: usable from process 'exit'. */
export function killAllChildren(): void {
  for (const child of children) {
    try {
      child.kill('SIGKILL');
    } catch {
      /* ignore */
    }
  }
  children.clear();
  try {
    unlinkSync(PID_FILE);
  } catch {
    /* ignore */
  }
}

/** Pins this process (all its threads) to `core`; false when taskset is missing or refused. */
export function pinSelf(core: number): boolean {
  if (!hasTaskset()) return false;
  return spawnSync('taskset', ['-a', '-cp', String(core), String(process.pid)], { stdio: 'ignore' }).status === 0;
}

export function commandOutput(command: string, args: string[]): string {
  const r = spawnSync(command, args, { encoding: 'utf8' });
  return (r.stdout ?? '').trim();
}
