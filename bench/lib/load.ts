/** The orchestrator's handle on one load-generator process (bench/load/client.ts). */
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { LoadCommand, LoadReply } from './ipc.ts';
import { killChild, spawnChild } from './proc.ts';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLIENT = fileURLToPath(new URL('../load/client.ts', import.meta.url));

type Pending = { resolve: (r: LoadReply) => void; reject: (e: Error) => void; timer: NodeJS.Timeout };
/** Distributes a command that has no `id` yet over the LoadCommand union. */
type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;

export class LoadProcess {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  readonly ready: Promise<void>;

  private constructor(
    readonly index: number,
    private readonly child: ChildProcess,
    private readonly tail: () => string,
  ) {
    this.ready = new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`load process ${index} did not start:\n${tail()}`)), 30_000);
      child.on('message', (raw) => {
        const msg = raw as LoadReply | { kind: 'hello' };
        if (msg.kind === 'hello') {
          clearTimeout(timer);
          resolve();
          return;
        }
        const p = this.pending.get((msg as LoadReply).id);
        if (!p) return;
        this.pending.delete((msg as LoadReply).id);
        clearTimeout(p.timer);
        const error = 'error' in msg ? msg.error : undefined;
        if (error) p.reject(new Error(`load process ${index}: ${error}`));
        else p.resolve(msg as LoadReply);
      });
      child.on('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`load process ${index} exited (${code ?? signal})`));
        for (const [, p] of this.pending) {
          clearTimeout(p.timer);
          p.reject(new Error(`load process ${index} exited (${code ?? signal}) during a command:\n${tail()}`));
        }
        this.pending.clear();
      });
    });
    this.ready.catch(() => {});
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  static async start(index: number, core: number | null): Promise<LoadProcess> {
    const spawned = spawnChild(core, process.execPath, ['--max-old-space-size=2048', '--import', 'tsx', CLIENT], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      env: { ...process.env, NODE_OPTIONS: '' },
    });
    const lp = new LoadProcess(index, spawned.child, spawned.tail);
    await lp.ready;
    return lp;
  }

  request<R extends LoadReply>(cmd: WithoutId<LoadCommand>, timeoutMs = 120_000): Promise<R> {
    const id = this.nextId++;
    return new Promise<R>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`load process ${this.index}: ${cmd.cmd} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve: resolve as (r: LoadReply) => void, reject, timer });
      this.child.send({ ...cmd, id });
    });
  }

  /** SIGKILL: the kernel closes every socket of the process at once (FIN/RST to the server). */
  async kill(): Promise<void> {
    await killChild(this.child, 'SIGKILL');
  }
}
