/**
 * Runs the real entry point (src/server.ts) as a child process, the way `npm start` does, and
 * collects its JSON log lines. Used by shutdown and cluster tests.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = fileURLToPath(new URL('../..', import.meta.url));

export interface ServerProcess {
  child: ChildProcess;
  port: number;
  logs: Array<Record<string, unknown>>;
  /** stdout lines that are not JSON log lines (the development start banner). */
  output: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * `compiled`: run the build (`node dist/server.js`, as the container does; the caller makes sure
 * dist/ is built) instead of the source under tsx; `npmStart`: what `npm start` runs
 * (scripts/start.mjs: dist/, built first when stale).
 */
export async function startServer(
  env: Record<string, string>,
  timeoutMs = 60_000,
  options: { compiled?: boolean; npmStart?: boolean } = {},
): Promise<ServerProcess> {
  const args = options.npmStart ? ['scripts/start.mjs'] : options.compiled ? ['dist/server.js'] : ['--import', 'tsx', 'src/server.ts'];
  const child = spawn(process.execPath, args, {
    cwd: root,
    // NODE_STATE_FILE: parallel suites must not share one crash-recovery state (a test that is
    // about it passes its own).
    env: {
      PATH: process.env.PATH ?? '',
      HOST: '127.0.0.1',
      PORT: '0',
      NODE_ENV: 'test',
      // Suites open hundreds of connections at once to set a scene; admission control
      // (MAX_PENDING_LOGINS, MAX_EVENT_LOOP_LAG_MS) has its own suite, test/ws/login-admission.test.ts.
      MAX_PENDING_LOGINS: '100000',
      MAX_EVENT_LOOP_LAG_MS: '0',
      NODE_STATE_FILE: join(tmpdir(), `gatehouse-${randomUUID()}.json`),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Array<Record<string, unknown>> = [];
  const output: string[] = [];
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start in ${timeoutMs} ms: ${stderr}`)), timeoutMs);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(line) as Record<string, unknown>;
      } catch {
        output.push(line);
        return;
      }
      logs.push(entry);
      const match = typeof entry.msg === 'string' && /Server listening at http:\/\/127\.0\.0\.1:(\d+)/.exec(entry.msg);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    });
    void exited.then(({ code }) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before listening: ${stderr}`));
    });
  });
  return {
    child,
    port,
    logs,
    output,
    exited,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}
