/**
 * The gateway nodes of the chaos run: `node --import tsx src/server.ts` child processes (the
 * real entry point, as `npm start` runs it), each on a fixed port, reaching Redis through its
 * own ChaosProxy, with the fault preload (chaos/faults/process-faults.mjs) and its own fault
 * file. A node that exits without the orchestrator having killed or stopped it is a crash.
 */
import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChaosProxy } from './proxy.ts';
import { exited, spawnLogged, waitFor } from './processes.ts';

export const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
export const FAULT_PRELOAD = join(ROOT, 'chaos/faults/process-faults.mjs');

export interface NodeExit {
  nodeId: string;
  incarnation: number;
  at: number;
  code: number | null;
  signal: string | null;
  /** True when the orchestrator killed or terminated it. */
  expected: boolean;
}

export class GatewayNode {
  child: ChildProcess | undefined;
  incarnation = 0;
  /** The orchestrator is about to end this process (kill -9 or SIGTERM). */
  private expectingExit = false;
  stopped = false;
  /** Under a fault that slows its answers (starved loop): the observer asks the others. */
  degraded = false;
  readonly faultFile: string;

  constructor(
    readonly nodeId: string,
    readonly port: number,
    readonly redisProxy: ChaosProxy,
    private readonly rawDir: string,
    private readonly env: Record<string, string>,
    private readonly onExit: (exit: NodeExit) => void,
  ) {
    this.faultFile = join(rawDir, `fault-${nodeId}.json`);
    writeFileSync(this.faultFile, '{}');
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Up and not frozen: the observer may ask it. */
  get usable(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null && !this.stopped && !this.degraded;
  }

  async start(extra: Record<string, string> = {}): Promise<void> {
    this.incarnation++;
    this.expectingExit = false;
    const incarnation = this.incarnation;
    const child = spawnLogged(process.execPath, ['--import', 'tsx', 'src/server.ts'], join(this.rawDir, 'nodes', `${this.nodeId}.${incarnation}.log`), {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? '',
        HOST: '127.0.0.1',
        PORT: String(this.port),
        NODE_ENV: 'test',
        NODE_ID: this.nodeId,
        REDIS_URL: `redis://127.0.0.1:${this.redisProxy.port}`,
        NODE_STATE_FILE: join(this.rawDir, `state-${this.nodeId}.json`),
        NODE_OPTIONS: `--import=${FAULT_PRELOAD}`,
        GATEHOUSE_FAULT_FILE: this.faultFile,
        ...this.env,
        ...extra,
      },
    });
    this.child = child;
    child.once('exit', (code, signal) => {
      this.onExit({ nodeId: this.nodeId, incarnation, at: Date.now(), code, signal, expected: this.expectingExit });
    });
    await waitFor(
      `${this.nodeId} to listen`,
      async () => {
        if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${this.nodeId} exited while starting`);
        return (await fetch(`${this.url}/health/live`, { signal: AbortSignal.timeout(1000) })).ok;
      },
      90_000,
      200,
    ).catch((error: Error) => {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${this.nodeId} exited while starting (see raw/nodes)`);
      throw error;
    });
  }

  setFault(fault: Record<string, number>): void {
    writeFileSync(this.faultFile, JSON.stringify(fault));
  }

  async kill9(): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.expectingExit = true;
    if (this.stopped) this.cont();
    child.kill('SIGKILL');
    await exited(child);
  }

  freeze(): void {
    this.stopped = true;
    this.child?.kill('SIGSTOP');
  }

  cont(): void {
    this.stopped = false;
    this.child?.kill('SIGCONT');
  }

  /** Graceful stop (drain). Resolves with the exit code. */
  async terminate(timeoutMs = 30_000): Promise<number | null> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return child?.exitCode ?? null;
    this.expectingExit = true;
    if (this.stopped) this.cont();
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    await exited(child);
    clearTimeout(timer);
    return child.exitCode;
  }
}
