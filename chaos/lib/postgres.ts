/**
 * The chaos run's private PostgreSQL cluster: initdb into the run's temp dir, trust auth, its own
 * port on 127.0.0.1 (the shared server on 5432 is never restarted). PostgreSQL refuses to run as
 * root, so the commands run as the `postgres` user when we are root.
 */
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { appendFileSync, chownSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { freePort, waitFor } from './processes.ts';

const BIN = '/usr/lib/postgresql/15/bin';

export class PrivatePostgres {
  private constructor(
    readonly dir: string,
    readonly port: number,
    private readonly logFile: string,
  ) {}

  get url(): string {
    return `postgresql://postgres@127.0.0.1:${this.port}/postgres`;
  }

  /** Async: a pg_ctl restart must not stall the orchestrator's proxies and observer. */
  private static async run(command: string, args: string[]): Promise<void> {
    const asRoot = process.getuid?.() === 0;
    const [file, argv] = asRoot ? ['runuser', ['-u', 'postgres', '--', join(BIN, command), ...args]] : [join(BIN, command), args];
    await promisify(execFile)(file, argv, { timeout: 120_000 });
  }

  static async start(runDir: string): Promise<PrivatePostgres> {
    const dir = join(runDir, 'pgdata');
    const sock = join(runDir, 'pgsock');
    mkdirSync(dir, { recursive: true });
    mkdirSync(sock, { recursive: true });
    const logFile = join(runDir, 'postgres.log');
    appendFileSync(logFile, '');
    if (process.getuid?.() === 0) {
      const { uid, gid } = userIds('postgres');
      for (const path of [runDir, dir, sock, logFile]) chownSync(path, uid, gid);
    }
    const port = await freePort();
    await PrivatePostgres.run('initdb', ['-D', dir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync']);
    appendFileSync(
      join(dir, 'postgresql.conf'),
      `\nport = ${port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '${sock}'\nfsync = off\nsynchronous_commit = off\nfull_page_writes = off\nmax_connections = 200\n`,
    );
    const server = new PrivatePostgres(dir, port, logFile);
    await server.ctl('start');
    await server.ready();
    return server;
  }

  private ctl(action: 'start' | 'restart' | 'stop', mode = 'fast'): Promise<void> {
    return PrivatePostgres.run('pg_ctl', ['-D', this.dir, '-l', this.logFile, '-m', mode, '-w', '-t', '60', action]);
  }

  async ready(): Promise<void> {
    await waitFor('PostgreSQL', async () => {
      const client = new pg.Client({ connectionString: this.url, connectionTimeoutMillis: 1000 });
      try {
        await client.connect();
        await client.query('SELECT 1');
        return true;
      } finally {
        await client.end().catch(() => {});
      }
    });
  }

  /** pg_ctl restart -m fast: every connection is terminated, the server is back in ~1 s. */
  async restart(): Promise<void> {
    await this.ctl('restart');
    await this.ready();
  }

  async stop(): Promise<void> {
    await this.ctl('stop', 'immediate').catch(() => {});
  }
}

function userIds(name: string): { uid: number; gid: number } {
  const uid = Number(execFileSync('id', ['-u', name]).toString().trim());
  const gid = Number(execFileSync('id', ['-g', name]).toString().trim());
  return { uid, gid };
}
