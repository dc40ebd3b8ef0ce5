/**
 * A child process of the hostile benchmark (the bystanders, the attacker) and its command
 * channel: the orchestrator sends `{id, cmd, args}` over IPC, the child answers `{id, result}`
 * or `{id, error}`. Children run pinned to the load core; the attacker also runs `nice`d, so
 * that sharing the core with it does not slow the bystanders' own clock readings.
 */
import { fileURLToPath } from 'node:url';
import type { ChildProcess } from 'node:child_process';
import { REPO_ROOT } from '../lib/load.ts';
import { killChild, spawnChild } from '../lib/proc.ts';

type Handler = (args: never) => Promise<unknown> | unknown;

interface Request {
  id: number;
  cmd: string;
  args: unknown;
}

/** Child side: answers the orchestrator's commands with `handlers`; exits when it is gone. */
export function serveCommands(handlers: Record<string, Handler>): void {
  if (!process.send) {
    process.stderr.write('this file runs as a child of the hostile benchmark (IPC channel required)\n');
    process.exit(1);
  }
  process.on('disconnect', () => process.exit(0));
  process.on('message', (raw) => {
    const { id, cmd, args } = raw as Request;
    const handler = handlers[cmd];
    void (async () => {
      try {
        if (!handler) throw new Error(`unknown command ${cmd}`);
        const result = await handler(args as never);
        process.send!({ id, result: result ?? null });
      } catch (error) {
        process.send!({ id, error: (error as Error).stack ?? String(error) });
      }
    })();
  });
  process.send({ id: 0, result: 'hello' });
}

export class Agent {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (r: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();

  private constructor(
    readonly name: string,
    private readonly child: ChildProcess,
    private readonly tail: () => string,
  ) {
    child.on('message', (raw) => {
      const msg = raw as { id: number; result?: unknown; error?: string };
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id);
      clearTimeout(p.timer);
      if (msg.error !== undefined) p.reject(new Error(`${name}: ${msg.error}`));
      else p.resolve(msg.result);
    });
    child.on('exit', (code, signal) => {
      for (const [, p] of this.pending) {
        clearTimeout(p.timer);
        p.reject(new Error(`${name} exited (${code ?? signal}):\n${tail()}`));
      }
      this.pending.clear();
    });
  }

  /** Starts `file` (relative to this folder) pinned to `core`, at `niceness`. */
  static async start(name: string, file: string, core: number | null, niceness = 0): Promise<Agent> {
    const script = fileURLToPath(new URL(file, import.meta.url));
    const node = [process.execPath, '--max-old-space-size=2048', '--import', 'tsx', script];
    const [command, ...args] = niceness > 0 ? ['nice', '-n', String(niceness), ...node] : node;
    const spawned = spawnChild(core, command!, args, {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      env: { ...process.env, NODE_OPTIONS: '' },
    });
    const agent = new Agent(name, spawned.child, spawned.tail);
    await new Promise<void>((resolve, reject) => {
      agent.pending.set(0, {
        resolve: () => resolve(),
        reject,
        timer: setTimeout(() => reject(new Error(`${name} did not start:\n${spawned.tail()}`)), 30_000),
      });
    });
    return agent;
  }

  request<R>(cmd: string, args: unknown = {}, timeoutMs = 120_000): Promise<R> {
    const id = this.nextId++;
    return new Promise<R>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${this.name}: ${cmd} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve: resolve as (r: unknown) => void, reject, timer });
      this.child.send({ id, cmd, args });
    });
  }

  async kill(): Promise<void> {
    await killChild(this.child, 'SIGKILL');
  }

  get output(): string {
    return this.tail();
  }
}
