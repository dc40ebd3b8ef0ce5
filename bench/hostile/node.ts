/**
 * The node under attack: one Gatehouse process (dist/server.js, or src/server.ts of an older checkout) pinned to the server core, on a
 * private Redis (its own key prefix) and a fresh PostgreSQL schema, production settings, with
 * its stdout and stderr appended to a log file and counted byte by byte. Plus the Redis probes:
 * the size of the node's keys (sum of MEMORY USAGE over its prefix), used_memory, and the
 * command count.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { Redis } from 'ioredis';
import { gatehouseEntryArgs } from '../lib/gatehouse-entry.ts';
import { REPO_ROOT } from '../lib/load.ts';
import { waitHttpOk } from '../lib/net.ts';
import { killChild, spawnChild, type Spawned } from '../lib/proc.ts';
import { parseCommandStats, type CommandStats } from '../lib/redis.ts';

export interface LogCount {
  bytes: number;
  lines: number;
  /** Bytes by `level msg` (pino's JSON lines; other output under `(not JSON)`). */
  byMessage: Map<string, { lines: number; bytes: number }>;
}

export class AttackedNode {
  private proc: Spawned | undefined;
  private readonly logFile: WriteStream;
  readonly log: LogCount = { bytes: 0, lines: 0, byMessage: new Map() };
  private partial = '';
  restarts = 0;

  constructor(
    readonly port: number,
    private readonly core: number | null,
    readonly env: Record<string, string>,
    readonly logPath: string,
    private readonly cwd: string = REPO_ROOT,
    /** Node options put before the entry point. */
    private readonly nodeFlags: string[] = [],
  ) {
    this.logFile = createWriteStream(logPath, { flags: 'a' });
  }

  get alive(): boolean {
    const child = this.proc?.child;
    return Boolean(child && child.exitCode === null && child.signalCode === null);
  }

  get pid(): number {
    return this.proc?.child.pid ?? -1;
  }

  tail(): string {
    return this.proc?.tail() ?? '';
  }

  private count(chunk: Buffer): void {
    this.logFile.write(chunk);
    this.log.bytes += chunk.length;
    const text = this.partial + chunk.toString('utf8');
    const lines = text.split('\n');
    this.partial = lines.pop() ?? '';
    if (this.partial.length > 1_000_000) this.partial = this.partial.slice(-1_000_000);
    for (const line of lines) {
      if (!line) continue;
      this.log.lines++;
      let key = '(not JSON)';
      if (line.startsWith('{')) {
        const level = /"level":(\d+)/.exec(line)?.[1] ?? '?';
        const msg = /"msg":"((?:[^"\\]|\\.){0,80})/.exec(line)?.[1] ?? '?';
        key = `${{ 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' }[Number(level)] ?? level} ${msg}`;
      }
      const entry = this.log.byMessage.get(key) ?? { lines: 0, bytes: 0 };
      entry.lines++;
      entry.bytes += Buffer.byteLength(line) + 1;
      this.log.byMessage.set(key, entry);
    }
  }

  async start(): Promise<void> {
    this.proc = spawnChild(this.core, process.execPath, [...this.nodeFlags, ...gatehouseEntryArgs(this.cwd)], {
      cwd: this.cwd,
      env: { ...this.env, PORT: String(this.port) },
    });
    this.proc.child.stdout?.on('data', (c: Buffer) => this.count(c));
    this.proc.child.stderr?.on('data', (c: Buffer) => this.count(c));
    const ok = await waitHttpOk(`http://127.0.0.1:${this.port}/health/ready`, 120_000, () => !this.alive);
    if (!ok) throw new Error(`the node did not become ready:\n${this.tail()}`);
  }

  /** After a crash: starts again on the same port (the bystanders reconnect by themselves). */
  async restart(): Promise<void> {
    if (this.proc) await killChild(this.proc.child, 'SIGKILL');
    this.restarts++;
    await this.start();
  }

  async stop(): Promise<void> {
    if (this.proc) await killChild(this.proc.child, 'SIGTERM', 10_000);
    await new Promise<void>((resolve) => this.logFile.end(resolve));
  }
}

/** Probes of the private Redis, on a connection of the benchmark's own. */
export class RedisProbe {
  private constructor(
    private readonly client: Redis,
    readonly prefix: string,
  ) {}

  static async connect(url: string, prefix: string): Promise<RedisProbe> {
    const client = new Redis(url, { maxRetriesPerRequest: 2 });
    await client.ping();
    return new RedisProbe(client, prefix);
  }

  private async keys(match: string): Promise<string[]> {
    const out: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await this.client.scan(cursor, 'MATCH', match, 'COUNT', 1000);
      cursor = next;
      out.push(...batch);
    } while (cursor !== '0');
    return out;
  }

  /** Sum of `MEMORY USAGE key SAMPLES 0` over the node's keys, and how many keys. */
  async keyspace(): Promise<{ bytes: number; keys: number }> {
    const keys = await this.keys(`${this.prefix}*`);
    let bytes = 0;
    for (let i = 0; i < keys.length; i += 200) {
      const pipeline = this.client.pipeline();
      for (const key of keys.slice(i, i + 200)) pipeline.call('MEMORY', 'USAGE', key, 'SAMPLES', '0');
      for (const [, v] of (await pipeline.exec()) ?? []) bytes += Number(v ?? 0);
    }
    return { bytes, keys: keys.length };
  }

  async usedMemory(): Promise<number> {
    const info = await this.client.info('memory');
    return Number(/used_memory:(\d+)/.exec(info)?.[1] ?? 0);
  }

  /** Commands processed, except the probes' own (INFO, SCAN, MEMORY, DEL/UNLINK of the cleanup run between readings). */
  async commands(): Promise<CommandStats> {
    return parseCommandStats(await this.client.info('commandstats'));
  }

  /** Deletes the keys whose name contains `tag` (what one attack left behind). */
  async clean(tag: string): Promise<number> {
    const keys = await this.keys(`${this.prefix}*${tag}*`);
    for (let i = 0; i < keys.length; i += 500) await this.client.unlink(...keys.slice(i, i + 500));
    return keys.length;
  }

  close(): void {
    this.client.disconnect();
  }
}
