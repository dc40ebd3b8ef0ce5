/**
 * One process per embedded data directory. PGlite keeps no lock of its own: two gateways on
 * the same directory would each run a Postgres over the same files and corrupt them, or one
 * would silently serve different data. The lock is a file in the directory naming its holder,
 * touched every few seconds while held; a lock whose holder is gone (crash, kill -9, a
 * recreated container) is taken over, so a restart never needs a hand.
 */
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { mkdir, open, readFile, rename, stat, unlink, utimes } from 'node:fs/promises';

export const LOCK_FILE = 'gatehouse.lock';
/** How often the holder touches the lock. */
export const LOCK_REFRESH_MS = 2000;
/** A lock untouched this long has no holder, whatever it says. */
export const LOCK_STALE_MS = 10_000;

interface Holder {
  pid: number;
  host: string;
  /** Linux's id of the running kernel boot: a lock written before a reboot is stale whatever its pid. */
  boot?: string;
  since: string;
}

/** Another live process holds the directory. */
export class DataDirLockedError extends Error {
  override name = 'DataDirLockedError';
}

export interface DataDirLock {
  /** Stops touching the lock and removes it (only while it is still ours). Idempotent. */
  release(): Promise<void>;
}

export interface LockOptions {
  refreshMs?: number;
  staleMs?: number;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, it is just not ours to signal.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function bootId(): Promise<string | undefined> {
  try {
    return (await readFile('/proc/sys/kernel/random/boot_id', 'utf8')).trim();
  } catch {
    return undefined; // not Linux
  }
}

async function readHolder(path: string): Promise<Holder | undefined> {
  try {
    const holder = JSON.parse(await readFile(path, 'utf8')) as Partial<Holder>;
    return typeof holder.pid === 'number' && typeof holder.host === 'string' ? (holder as Holder) : undefined;
  } catch {
    return undefined; // gone meanwhile, or half-written by a process that died writing it
  }
}

async function ageMs(path: string): Promise<number> {
  try {
    return Date.now() - (await stat(path)).mtimeMs;
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}

type Verdict = 'running' | 'stale' | 'unknown';

/** Lock files this process holds: a second gateway in the same process is refused too. */
const heldHere = new Set<string>();

/**
 * On this host the pid says it, with two traps: in a container the gateway is often pid 1 at
 * every start (a lock naming this very pid is a previous life's), and pids are reused after a
 * reboot. A holder on another host (a shared volume) is judged by whether it keeps touching
 * the lock.
 */
async function judge(path: string, holder: Holder | undefined, me: Holder, staleMs: number): Promise<Verdict> {
  if (holder && holder.host === me.host) {
    if (holder.pid === me.pid) return heldHere.has(path) ? 'running' : 'stale';
    if (holder.boot && me.boot && holder.boot !== me.boot) return 'stale';
    return isAlive(holder.pid) ? 'running' : 'stale';
  }
  return (await ageMs(path)) > staleMs ? 'stale' : 'unknown';
}

/**
 * Takes the lock of `dir` (created if missing). Waits up to the stale time for a holder whose
 * liveness cannot be checked from here.
 * @throws DataDirLockedError naming the holder when it is alive.
 */
export async function lockDataDir(dir: string, options: LockOptions = {}): Promise<DataDirLock> {
  const refreshMs = options.refreshMs ?? LOCK_REFRESH_MS;
  const staleMs = options.staleMs ?? LOCK_STALE_MS;
  await mkdir(dir, { recursive: true });
  const path = resolve(dir, LOCK_FILE);
  const boot = await bootId();
  const me: Holder = { pid: process.pid, host: hostname(), ...(boot ? { boot } : {}), since: new Date().toISOString() };
  const giveUpAt = Date.now() + staleMs + refreshMs;
  for (;;) {
    try {
      const file = await open(path, 'wx');
      await file.writeFile(JSON.stringify(me));
      await file.close();
      heldHere.add(path);
      return ownedLock(path, me, refreshMs);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = await readHolder(path);
    const verdict = await judge(path, holder, me, staleMs);
    if (verdict === 'stale') {
      await takeOverStale(path, holder);
      continue;
    }
    if (verdict === 'running' || Date.now() > giveUpAt) {
      const who = holder ? `process ${holder.pid} on ${holder.host} (since ${holder.since})` : 'another process';
      throw new DataDirLockedError(
        `the embedded database in ${resolve(dir)} is in use by ${who}: stop that gateway first, or give this one another PGLITE_DIR`,
      );
    }
    await sleep(Math.min(500, refreshMs));
  }
}

/**
 * Moves a dead holder's lock aside, then checks that what was moved is that lock: if another
 * starting process replaced it in between, its fresh lock is put back and the caller retries.
 */
async function takeOverStale(path: string, stale: Holder | undefined): Promise<void> {
  const aside = `${path}.${process.pid}.stale`;
  try {
    await rename(path, aside);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return; // someone else moved it: retry
    throw error;
  }
  const moved = await readHolder(aside);
  if (moved?.pid === stale?.pid && moved?.since === stale?.since) {
    await unlink(aside).catch(() => {});
    return;
  }
  await rename(aside, path).catch(() => {});
}

function ownedLock(path: string, me: Holder, refreshMs: number): DataDirLock {
  const touch = setInterval(() => {
    const now = new Date();
    utimes(path, now, now).catch(() => {});
  }, refreshMs);
  touch.unref();
  let released: Promise<void> | undefined;
  return {
    release: () =>
      (released ??= (async () => {
        clearInterval(touch);
        heldHere.delete(path);
        const holder = await readHolder(path);
        if (holder?.pid === me.pid && holder.since === me.since) await unlink(path).catch(() => {});
      })()),
  };
}
