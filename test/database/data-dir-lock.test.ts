/**
 * The embedded data directory's lock (src/database/embedded/data-dir-lock.ts): one holder,
 * refused with its name, taken over when its holder is gone however it went.
 */
import t, { type Test } from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataDirLockedError, LOCK_FILE, lockDataDir } from '../../src/database/embedded/data-dir-lock.ts';

function freshDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-lock-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A pid that surely names no process: a child that has already exited. */
function deadPid(): number {
  return spawnSync(process.execPath, ['-e', '0']).pid!;
}

function writeLock(dir: string, holder: Record<string, unknown>, ageMs = 0): void {
  const path = join(dir, LOCK_FILE);
  writeFileSync(path, JSON.stringify({ since: '2026-01-01T00:00:00.000Z', ...holder }));
  const at = new Date(Date.now() - ageMs);
  utimesSync(path, at, at);
}

t.test('the lock names its holder; a second taker in the same process is refused until it is released', async (t) => {
  const dir = freshDir(t);
  const lock = await lockDataDir(dir);
  const holder = JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8')) as { pid: number; host: string };
  t.equal(holder.pid, process.pid);
  t.equal(holder.host, hostname());
  await t.rejects(lockDataDir(dir), DataDirLockedError, 'a second gateway of this process is refused');
  await lock.release();
  t.notOk(existsSync(join(dir, LOCK_FILE)), 'release removes the lock');
  const again = await lockDataDir(dir);
  await again.release();
});

t.test('a live process on this host holds it: refused, with its pid in the message', async (t) => {
  const dir = freshDir(t);
  writeLock(dir, { pid: process.ppid, host: hostname() });
  const error = await lockDataDir(dir).then(
    () => undefined,
    (e: Error) => e,
  );
  t.type(error, DataDirLockedError);
  t.match(error?.message, new RegExp(`in use by process ${process.ppid}`));
  t.match(error?.message, /another PGLITE_DIR/);
});

t.test('taken over when its holder is gone: a dead pid, this very pid from a previous life, another boot', async (t) => {
  for (const [what, holder] of [
    ['dead pid', { pid: deadPid(), host: hostname() }],
    ['this pid (a container restarted as pid 1)', { pid: process.pid, host: hostname() }],
    ['written before a reboot', { pid: process.ppid, host: hostname(), boot: 'another-boot' }],
  ] as const) {
    const dir = freshDir(t);
    writeLock(dir, holder);
    const lock = await lockDataDir(dir);
    const now = JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8')) as { pid: number; since: string };
    t.equal(now.pid, process.pid, `${what}: taken over`);
    t.not(now.since, '2026-01-01T00:00:00.000Z', `${what}: a new lock, not the old one`);
    await lock.release();
  }
});

t.test('a holder on another host: refused while it keeps touching the lock, taken over once it stopped', async (t) => {
  const dir = freshDir(t);
  writeLock(dir, { pid: 1, host: 'other-host' });
  const touching = setInterval(() => {
    const now = new Date();
    utimesSync(join(dir, LOCK_FILE), now, now);
  }, 50);
  const startedAt = Date.now();
  await t.rejects(lockDataDir(dir, { refreshMs: 100, staleMs: 400 }), DataDirLockedError, 'refused: it is alive');
  clearInterval(touching);
  t.ok(Date.now() - startedAt >= 400, 'it waited the stale time before refusing');

  writeLock(dir, { pid: 1, host: 'other-host' }, 1000);
  const lock = await lockDataDir(dir, { refreshMs: 100, staleMs: 400 });
  t.equal(
    (JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8')) as { host: string }).host,
    hostname(),
    'untouched for longer than the stale time: taken over',
  );
  await lock.release();
});

t.test('the holder keeps touching its lock; release leaves a lock that is no longer its own', async (t) => {
  const dir = freshDir(t);
  const lock = await lockDataDir(dir, { refreshMs: 50 });
  const path = join(dir, LOCK_FILE);
  const old = new Date(Date.now() - 60_000);
  utimesSync(path, old, old);
  await new Promise((resolve) => setTimeout(resolve, 200));
  t.ok(Date.now() - statSync(path).mtimeMs < 1000, 'touched again within its refresh period');
  // Someone removed it by hand and another gateway took the directory.
  writeLock(dir, { pid: process.ppid, host: hostname() });
  await lock.release();
  t.ok(existsSync(path), "the other gateway's lock is left alone");
});
