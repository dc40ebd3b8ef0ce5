/**
 * A private Redis for the benchmark (`redis-server --port <free> --save '' --appendonly no`), so
 * that `INFO commandstats` counts only the commands of the server under test, not those of
 * other suites sharing the machine's Redis.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from './net.ts';
import { killChild, sleep, spawnChild, type Spawned } from './proc.ts';

/** Calls and time per command from `INFO commandstats`, the probes' own INFO left out. */
export function parseCommandStats(text: string): CommandStats {
  const byCommand: Record<string, number> = {};
  const usecByCommand: Record<string, number> = {};
  let total = 0;
  let usec = 0;
  for (const line of text.split('\n')) {
    const m = /^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/.exec(line.trim());
    if (!m || m[1] === 'info') continue;
    byCommand[m[1]!] = Number(m[2]);
    usecByCommand[m[1]!] = Number(m[3]);
    total += Number(m[2]);
    usec += Number(m[3]);
  }
  return { total, byCommand, usec, usecByCommand };
}

export interface CommandStats {
  /** Total calls of every command except INFO (the benchmark's own probe). */
  total: number;
  byCommand: Record<string, number>;
  /** Microseconds Redis spent executing them (scripts included), in all and per command. */
  usec: number;
  usecByCommand: Record<string, number>;
}

export class PrivateRedis {
  private constructor(
    readonly url: string,
    readonly port: number,
    private readonly proc: Spawned,
    private readonly client: Redis,
    private readonly dir: string,
  ) {}

  get pid(): number | undefined {
    return this.proc.child.pid;
  }

  static async start(core: number | null): Promise<PrivateRedis> {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-redis-'));
    const proc = spawnChild(
      core,
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--loglevel', 'warning', '--maxclients', '1000'],
      {},
    );
    const client = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
    client.on('error', () => {}); // refused while the server boots; connect() reports it
    const until = Date.now() + 10_000;
    for (;;) {
      try {
        await client.connect();
        await client.ping();
        break;
      } catch (error) {
        if (Date.now() > until || proc.child.exitCode !== null) {
          await killChild(proc.child);
          throw new Error(`private redis-server did not start: ${(error as Error).message}\n${proc.tail()}`);
        }
        client.disconnect();
        await sleep(100);
      }
    }
    return new PrivateRedis(`redis://127.0.0.1:${port}`, port, proc, client, dir);
  }

  async commandStats(): Promise<CommandStats> {
    return parseCommandStats(await this.client.info('commandstats'));
  }

  static delta(a: CommandStats, b: CommandStats): CommandStats {
    const byCommand: Record<string, number> = {};
    const usecByCommand: Record<string, number> = {};
    for (const [k, v] of Object.entries(b.byCommand)) {
      const d = v - (a.byCommand[k] ?? 0);
      if (d > 0) {
        byCommand[k] = d;
        usecByCommand[k] = (b.usecByCommand[k] ?? 0) - (a.usecByCommand[k] ?? 0);
      }
    }
    return { total: b.total - a.total, byCommand, usec: b.usec - a.usec, usecByCommand };
  }

  /** Two instances' counters together (the primaries of a cluster). */
  static sum(a: CommandStats, b: CommandStats): CommandStats {
    const byCommand: Record<string, number> = { ...a.byCommand };
    const usecByCommand: Record<string, number> = { ...a.usecByCommand };
    for (const [k, v] of Object.entries(b.byCommand)) byCommand[k] = (byCommand[k] ?? 0) + v;
    for (const [k, v] of Object.entries(b.usecByCommand)) usecByCommand[k] = (usecByCommand[k] ?? 0) + v;
    return { total: a.total + b.total, byCommand, usec: a.usec + b.usec, usecByCommand };
  }

  /** Empties the instance between runs (and resets the counters). */
  async reset(): Promise<void> {
    await this.client.flushall();
    await this.client.config('RESETSTAT');
  }

  async stop(): Promise<void> {
    this.client.disconnect();
    await killChild(this.proc.child, 'SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }
}
