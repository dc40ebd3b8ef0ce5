/**
 * A private Redis Cluster (3 primaries, 3 replicas) on free ports, for tests that kill a primary
 * or empty a shard: the shared one of scripts/redis-cluster.sh keeps serving the other suites,
 * which run alongside. Processes are children of the test (no daemon, no persistence): they end
 * with it. Suites check `redisServerInstalled(t)` first (test/helpers/redis-server.ts).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Cluster, Redis } from 'ioredis';
import type { Test } from 'tap';
import { freePort } from './ports.ts';
import { findRedisServer } from './redis-server.ts';

const run = promisify(execFile);

interface ClusterProcess {
  port: number;
  child: ChildProcess;
}

export class PrivateRedisCluster {
  private constructor(
    private readonly processes: ClusterProcess[],
    /** The nodes' cluster config files (nodes.conf), removed at stop. */
    private readonly dir: string,
  ) {}

  /** `host:port,...` of every node, as REDIS_CLUSTER_NODES. */
  get nodes(): string {
    return this.processes.map((p) => `127.0.0.1:${p.port}`).join(',');
  }

  /** Starts six nodes, joins them (redis-cli --cluster create) and waits for cluster_state:ok. */
  /** `nodeTimeoutMs`: cluster-node-timeout, how long a silent primary has before its replica takes over. */
  static async start(t: Pick<Test, 'teardown'>, nodeTimeoutMs = 1500): Promise<PrivateRedisCluster> {
    const binary = findRedisServer() ?? 'redis-server';
    const processes: ClusterProcess[] = [];
    const cluster = new PrivateRedisCluster(processes, mkdtempSync(join(tmpdir(), 'gh-cluster-')));
    t.teardown(() => cluster.stop());
    for (let i = 0; i < 6; i++) {
      // The cluster bus port is set too: port + 10000 may not exist for a high free port. Files go
      // to the cluster's own directory: a replica stores the snapshot it syncs from.
      const [port, busPort] = [await freePort(), await freePort()];
      const child = spawn(
        binary,
        [
          '--port',
          String(port),
          '--cluster-port',
          String(busPort),
          '--bind',
          '127.0.0.1',
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          join(cluster.dir, `${port}.conf`),
          '--dbfilename',
          `${port}.rdb`,
          '--dir',
          cluster.dir,
          '--cluster-node-timeout',
          String(nodeTimeoutMs),
          '--save',
          '',
          '--appendonly',
          'no',
        ],
        { stdio: 'ignore' },
      );
      child.on('error', () => {});
      processes.push({ port, child });
    }
    for (const { port } of processes) await waitForPing(port);
    const cli = binary.replace(/redis-server$/, 'redis-cli');
    await run(cli, ['--cluster', 'create', ...processes.map((p) => `127.0.0.1:${p.port}`), '--cluster-replicas', '1', '--cluster-yes']);
    await cluster.waitUntilOk();
    return cluster;
  }

  /** Until every running node reports cluster_state:ok (a failover has finished). */
  async waitUntilOk(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const states = await Promise.all(this.running().map((p) => clusterInfo(p.port).catch(() => '')));
      if (states.every((info) => info.includes('cluster_state:ok'))) return;
      if (Date.now() > deadline) throw new Error(`cluster not ok within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** The ports of the running primaries (a node that does not answer is not counted). */
  async primaries(): Promise<number[]> {
    const roles = await Promise.all(this.running().map(async (p) => ({ port: p.port, role: await role(p.port).catch(() => 'unreachable') })));
    return roles.filter((r) => r.role === 'master').map((r) => r.port);
  }

  /** CLUSTER NODES as one running node sees it (for a failing test's message). */
  async describe(): Promise<string> {
    const [first] = this.running();
    return first ? withNode(first.port, async (redis) => String(await redis.cluster('NODES'))).catch((error: Error) => error.message) : 'no node running';
  }

  /** kill -9 of the node on `port` (a primary: its replica takes over after the node timeout). */
  kill(port: number): void {
    const process = this.processes.find((p) => p.port === port);
    process?.child.kill('SIGKILL');
  }

  /** A client of this cluster, quit at teardown. */
  async client(t: Pick<Test, 'teardown'>): Promise<Cluster> {
    const client = new Cluster(
      this.processes.map((p) => ({ host: '127.0.0.1', port: p.port })),
      { lazyConnect: true },
    );
    client.on('error', () => {});
    t.teardown(() => client.quit().catch(() => client.disconnect()));
    await client.connect();
    return client;
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.processes.map(async ({ child }) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGKILL');
        await exited;
      }),
    );
    rmSync(this.dir, { recursive: true, force: true });
  }

  private running(): ClusterProcess[] {
    return this.processes.filter((p) => p.child.exitCode === null && p.child.signalCode === null);
  }
}

async function withNode<T>(port: number, fn: (redis: Redis) => Promise<T>): Promise<T> {
  const redis = new Redis(port, '127.0.0.1', { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
  redis.on('error', () => {});
  try {
    await redis.connect();
    return await fn(redis);
  } finally {
    redis.disconnect();
  }
}

const clusterInfo = (port: number) => withNode(port, async (redis) => String(await redis.cluster('INFO')));
const role = (port: number) => withNode(port, async (redis) => String(((await redis.role()) as unknown[])[0]));

async function waitForPing(port: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    try {
      await withNode(port, (redis) => redis.ping());
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  throw new Error(`redis-server did not start on ${port}`);
}
