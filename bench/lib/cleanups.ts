/**
 * What a benchmark run has to undo (private servers, schemas, child processes), undone in reverse
 * order at its end or when it is interrupted: SIGINT/SIGTERM kill every child process, undo the
 * rest and exit 130 (a second signal, or 5 s later, exits at once); any exit kills the children.
 */
import { killAllChildren } from './proc.ts';

export class Cleanups {
  private readonly steps: Array<() => Promise<void>> = [];
  /** A signal came: the run should stop starting new work. */
  interrupted = false;

  add(step: () => Promise<void>): void {
    this.steps.push(step);
  }

  /** Undoes everything added so far, the last first; a failing step does not stop the others. */
  async run(): Promise<void> {
    const steps = this.steps.splice(0).reverse();
    for (const step of steps) await step().catch(() => {});
  }

  /** Installs the signal and exit handlers (once per run). */
  onInterrupt(log: (message: string) => void): void {
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      process.on(signal, () => {
        if (this.interrupted) process.exit(130);
        this.interrupted = true;
        log(`${signal}: stopping every process of the benchmark`);
        killAllChildren();
        const force = setTimeout(() => process.exit(130), 5000);
        void this.run().finally(() => {
          clearTimeout(force);
          process.exit(130);
        });
      });
    }
    process.on('exit', () => killAllChildren());
  }
}
