/**
 * The chaos run's private Redis: a primary, a replica and three Sentinels, all on free ports of
 * 127.0.0.1 (the shared Redis on 6379 is never touched). No automatic persistence anywhere, and
 * each server has its own RDB file name: a replica writes the RDB of its full sync to disk, and a
 * primary restarted in a shared directory with the default `dump.rdb` would load that old copy.
 *
 * `restartPrimaryEmpty` kills the current primary (-9), removes its RDB file (with AOF off it is
 * the only file it could load) and starts a fresh redis-server on its port at once, well inside
 * the Sentinels' down-after-milliseconds (5 s), so no failover happens: the replica reconnects to
 * the empty primary and a full resync empties it too. Its log of this start must not say it
 * loaded anything (`loadedFromDisk`) and INFO persistence must report 0 keys loaded
 * (`loadedKeysAtStart`), and a marker key written (and replicated) before the kill is looked for
 * on both after the resync (`oldDataBack`); the key count is what the nodes re-asserted meanwhile.
 * `snapshotPrimary` + `rewindPrimary` (the opt-in `redis-rewind` fault): the primary saves an RDB
 * snapshot, traffic goes on, then it is killed and restarted from that snapshot, as a Redis with
 * RDB persistence comes back from its last save: every node's lease, every session and queue
 * entry as they were then (`loadedKeysAtStart`: the snapshot's keys, less those expired since;
 * `snapshotAgeMs`: from the save to the kill). The replica resyncs from it.
 * `failover` runs SENTINEL FAILOVER: the replica is promoted, the old primary becomes its replica.
 */
import type { ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { exited, freePort, sleep, spawnLogged, waitFor } from './processes.ts';

export const MASTER_NAME = 'chaos';

interface Instance {
  port: number;
  child: ChildProcess;
}

/** What a restarted primary loaded at startup (recorded in the fault's details). */
interface RestartOutcome {
  port: number;
  killedAt: number;
  /** Its log of this start says it loaded an RDB file. */
  loadedFromDisk: boolean;
  /** Keys it loaded from that file, and keys in it it dropped as already expired. */
  loadedKeysAtStart: number;
  expiredKeysAtStart: number;
}

export class RedisSet {
  readonly servers: Instance[] = [];
  readonly sentinels: Instance[] = [];
  private sentinelClient: Redis | undefined;
  /** The primary as the Sentinels last named it. */
  master: { host: string; port: number } | undefined;
  private poller: NodeJS.Timeout | undefined;
  private readonly masterListeners: Array<() => void> = [];

  private constructor(private readonly dir: string) {}

  static async start(dir: string): Promise<RedisSet> {
    const set = new RedisSet(dir);
    const [p1, p2] = [await freePort(), await freePort()];
    set.servers.push({ port: p1, child: set.spawnServer(p1) });
    await set.ping(p1);
    set.servers.push({ port: p2, child: set.spawnServer(p2, p1) });
    await set.ping(p2);
    for (let i = 0; i < 3; i++) {
      const port = await freePort();
      const conf = join(dir, `sentinel-${i}.conf`);
      writeFileSync(
        conf,
        [
          `port ${port}`,
          'bind 127.0.0.1',
          `dir ${dir}`,
          `sentinel monitor ${MASTER_NAME} 127.0.0.1 ${p1} 2`,
          `sentinel down-after-milliseconds ${MASTER_NAME} 5000`,
          `sentinel failover-timeout ${MASTER_NAME} 10000`,
          `sentinel parallel-syncs ${MASTER_NAME} 1`,
          '',
        ].join('\n'),
      );
      set.sentinels.push({ port, child: spawnLogged('redis-server', [conf, '--sentinel'], join(dir, `sentinel-${i}.log`)) });
    }
    set.sentinelClient = new Redis({ port: set.sentinels[0]!.port, host: '127.0.0.1', maxRetriesPerRequest: 1, retryStrategy: () => 200 });
    set.sentinelClient.on('error', () => {});
    await waitFor('sentinels to see the replica', async () => {
      const replicas = (await set.sentinelClient!.call('SENTINEL', 'replicas', MASTER_NAME)) as unknown[];
      return replicas.length === 1 && (await set.refreshMaster());
    });
    set.poller = setInterval(() => void set.refreshMaster().catch(() => {}), 250);
    set.poller.unref();
    return set;
  }

  private spawnServer(port: number, replicaOf?: number): ChildProcess {
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', this.dir, '--dbfilename', this.rdbName(port)];
    if (replicaOf) args.push('--replicaof', '127.0.0.1', String(replicaOf));
    return spawnLogged('redis-server', args, this.logFile(port));
  }

  private rdbName(port: number): string {
    return `redis-${port}.rdb`;
  }

  private logFile(port: number): string {
    return join(this.dir, `redis-${port}.log`);
  }

  /**
   * Kills the primary (-9) and starts it again on its port with `rdb` in place of its RDB file
   * (null: none, an empty start). Resolves once it answers, with what it loaded at startup. Both
   * signals are race-free while the nodes write through their proxies (DBSIZE after startup is
   * not): the server's own log lines of this start (written before it accepts connections), and
   * INFO persistence's `rdb_last_load_keys_loaded`, set by the startup load and never again on a
   * primary.
   */
  private async restartPrimary(rdb: string | null): Promise<RestartOutcome> {
    const port = this.master!.port;
    const instance = this.servers.find((s) => s.port === port)!;
    instance.child.kill('SIGKILL');
    await exited(instance.child);
    const killedAt = Date.now();
    const file = join(this.dir, this.rdbName(port));
    rmSync(file, { force: true });
    if (rdb) copyFileSync(rdb, file);
    const logFrom = existsSync(this.logFile(port)) ? statSync(this.logFile(port)).size : 0;
    instance.child = this.spawnServer(port);
    await this.ping(port);
    const log = readFileSync(this.logFile(port)).subarray(logFrom).toString();
    const probe = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 1 });
    probe.on('error', () => {});
    const persistence = await probe.info('persistence').finally(() => probe.disconnect());
    const field = (name: string) => Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(persistence)?.[1] ?? Number.NaN);
    return {
      port,
      killedAt,
      loadedFromDisk: /Loading RDB|DB loaded from disk/.test(log),
      loadedKeysAtStart: field('rdb_last_load_keys_loaded'),
      expiredKeysAtStart: field('rdb_last_load_keys_expired'),
    };
  }

  private async ping(port: number): Promise<void> {
    const probe = new Redis({ port, host: '127.0.0.1', lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
    probe.on('error', () => {});
    try {
      await waitFor(`redis-server on ${port}`, async () => {
        if (probe.status !== 'ready') await probe.connect().catch(() => {});
        return (await probe.ping()) === 'PONG';
      });
    } finally {
      probe.disconnect();
    }
  }

  /** Asks a Sentinel for the primary; true when known. Listeners hear about a change. */
  async refreshMaster(): Promise<boolean> {
    const reply = (await this.sentinelClient!.call('SENTINEL', 'get-master-addr-by-name', MASTER_NAME)) as [string, string] | null;
    if (!reply) return false;
    const next = { host: reply[0], port: Number(reply[1]) };
    const changed = !this.master || this.master.port !== next.port || this.master.host !== next.host;
    this.master = next;
    if (changed) for (const listener of this.masterListeners) listener();
    return true;
  }

  onMasterChange(listener: () => void): void {
    this.masterListeners.push(listener);
  }

  get masterUrl(): string {
    return `redis://127.0.0.1:${this.master!.port}`;
  }

  /** Kill -9 the primary and start it again at once, empty, on the same port (see the header). */
  async restartPrimaryEmpty(): Promise<Omit<RestartOutcome, 'killedAt'> & { oldDataBack: boolean | null; replicaKeysAfter: number }> {
    // A marker written before the kill, replicated: if it is anywhere after the restart, old data came back.
    const primary = new Redis({ port: this.master!.port, host: '127.0.0.1', maxRetriesPerRequest: 1 });
    primary.on('error', () => {});
    await primary.set('chaos:marker', String(Date.now())).catch(() => {});
    await primary.call('WAIT', '1', '2000').catch(() => {});
    primary.disconnect();
    const { killedAt: _, ...loaded } = await this.restartPrimary(null);
    const port = loaded.port;
    const replica = this.servers.find((s) => s.port !== port)!;
    const client = new Redis({ port: replica.port, host: '127.0.0.1', maxRetriesPerRequest: 1 });
    client.on('error', () => {});
    let keys = -1;
    let oldDataBack: boolean | null = null;
    try {
      await waitFor(
        'the replica to resync from the empty primary',
        async () => {
          const info = await client.info('replication');
          return /master_link_status:up/.test(info) && /master_sync_in_progress:0/.test(info);
        },
        30_000,
        200,
      );
      keys = await client.dbsize();
      const restarted = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 1 });
      restarted.on('error', () => {});
      oldDataBack = (await client.exists('chaos:marker')) + (await restarted.exists('chaos:marker').finally(() => restarted.disconnect())) > 0;
    } catch {
      // reported as -1
    } finally {
      client.disconnect();
    }
    return { ...loaded, oldDataBack, replicaKeysAfter: keys };
  }

  /** When `snapshotPrimary` last saved (the rewind reports its snapshot's real age). */
  private snapshotAt = 0;

  /** The primary saves a snapshot now (SAVE), kept aside for `rewindPrimary`. */
  async snapshotPrimary(): Promise<void> {
    const primary = new Redis({ port: this.master!.port, host: '127.0.0.1', maxRetriesPerRequest: 1 });
    primary.on('error', () => {});
    try {
      await primary.call('SAVE');
      this.snapshotAt = Date.now();
      copyFileSync(join(this.dir, this.rdbName(this.master!.port)), join(this.dir, 'rewind.rdb'));
    } finally {
      primary.disconnect();
    }
  }

  /**
   * Kill -9 the primary and start it again from the snapshot `snapshotPrimary` kept (see the
   * header). `loadedKeysAtStart` is the snapshot's key count (less those expired since).
   */
  async rewindPrimary(): Promise<Omit<RestartOutcome, 'killedAt'> & { snapshotAgeMs: number }> {
    const { killedAt, ...loaded } = await this.restartPrimary(join(this.dir, 'rewind.rdb'));
    return { ...loaded, snapshotAgeMs: killedAt - this.snapshotAt };
  }

  /** SENTINEL FAILOVER; resolves once the Sentinels name the new primary. */
  async failover(): Promise<{ from: number; to: number }> {
    const from = this.master!.port;
    await this.sentinelClient!.call('SENTINEL', 'failover', MASTER_NAME);
    await waitFor(
      'the failover',
      async () => {
        await this.refreshMaster();
        return this.master!.port !== from;
      },
      30_000,
      200,
    );
    return { from, to: this.master!.port };
  }

  async stop(): Promise<void> {
    if (this.poller) clearInterval(this.poller);
    this.sentinelClient?.disconnect();
    for (const instance of [...this.sentinels, ...this.servers]) instance.child.kill('SIGKILL');
    await Promise.all([...this.sentinels, ...this.servers].map((i) => exited(i.child)));
    await sleep(10);
  }
}
