/**
 * A private redis-server process on a free port, for tests that stop and restart Redis
 * (the shared one on 6379 must keep serving the other suites). No persistence: a restart
 * comes back empty, the hard case.
 *
 * A machine with only Node.js has no redis-server binary: suites check `redisServerInstalled(t)`
 * first, which skips them loudly (as services.ts does for unreachable services), or fails them
 * with REQUIRE_SERVICES=1 (CI), instead of crashing on an unhandled spawn error.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { Redis } from 'ioredis';
import type { Test } from 'tap';
import { freePort } from './ports.ts';

const BINARY = 'redis-server';

/**
 * The redis-server executable found on PATH, or undefined. REDIS_SERVER_BIN names it instead
 * (scripts/test-without-services.sh points it at nothing to run the suite as on a bare machine).
 */
export function findRedisServer(): string | undefined {
  const named = process.env.REDIS_SERVER_BIN;
  if (named) {
    try {
      accessSync(named, constants.X_OK);
      return named;
    } catch {
      return undefined;
    }
  }
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, BINARY);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

/**
 * True when redis-server is installed. Otherwise the suite is skipped with a loud notice, or
 * fails under REQUIRE_SERVICES=1, and the caller returns.
 */
export function redisServerInstalled(t: Pick<Test, 'fail' | 'plan'>): boolean {
  if (findRedisServer()) return true;
  const message = `${BINARY} not found on PATH (apt-get install -y redis-server)`;
  if (process.env.REQUIRE_SERVICES === '1') {
    t.fail(`REQUIRE_SERVICES=1 and ${message}`);
  } else {
    process.stderr.write(`\n*** SKIPPED: ${message}: suite skipped. Set REQUIRE_SERVICES=1 to fail instead. ***\n`);
    // plan(0, why) marks the test as skipped (SKIP in the report), never as passed.
    t.plan(0, `${message}: suite skipped`);
  }
  return false;
}

export class RedisServer {
  private child: ChildProcess | undefined;

  private constructor(readonly port: number) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  static async start(): Promise<RedisServer> {
    const server = new RedisServer(await freePort());
    await server.restart();
    return server;
  }

  /**
   * Starts (again) on the same port, empty. Rejects with the cause when the process cannot be
   * spawned or exits before it accepts connections (e.g. the port was taken meanwhile).
   */
  async restart(): Promise<void> {
    const child = spawn(BINARY, ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    this.child = child;
    let failure: Error | undefined;
    // Without a listener a spawn error (ENOENT) would be an uncaught exception of the test process.
    child.on('error', (error) => (failure ??= new Error(`${BINARY} could not be started: ${error.message}`)));
    child.once('exit', (code, signal) => (failure ??= new Error(`${BINARY} exited (${signal ?? code}) before accepting connections on ${this.port}`)));
    const probe = new Redis(this.url, { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
    probe.on('error', () => {});
    for (let i = 0; i < 100; i++) {
      if (failure) {
        probe.disconnect();
        throw failure;
      }
      try {
        await probe.connect();
        await probe.ping();
        probe.disconnect();
        return;
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
    throw new Error(`redis-server did not start on ${this.port}`);
  }

  /** SHUTDOWN NOSAVE: the data is gone (SIGKILL if the command cannot be sent). */
  async stop(): Promise<void> {
    const child = this.child;
    // No pid: the spawn itself failed, there is no process to wait for.
    if (!child || child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    const admin = new Redis(this.url, { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
    admin.on('error', () => {});
    try {
      await admin.connect();
      await admin.call('SHUTDOWN', 'NOSAVE').catch(() => {}); // the connection drops: no reply
    } catch {
      child.kill('SIGKILL');
    } finally {
      admin.disconnect();
    }
    await exited;
  }
}
