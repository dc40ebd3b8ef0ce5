/**
 * Faults injected into a gateway process for real (chaos/faults/process-faults.mjs: clock skew,
 * main-loop stalls). One `ProcessFault` per node: pass `env()` when starting the node, then
 * `set()` a fault at any time (the preload re-reads its file every 100 ms) and `clear()` it.
 */
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';

const PRELOAD = fileURLToPath(new URL('../../chaos/faults/process-faults.mjs', import.meta.url));

/** `{ skewMs }` and/or `{ loopStallMs, loopRunMs }`; see the preload's header. */
export interface Fault {
  skewMs?: number;
  loopStallMs?: number;
  loopRunMs?: number;
}

export class ProcessFault {
  readonly file = join(tmpdir(), `gatehouse-fault-${randomUUID()}.json`);

  constructor(initial: Fault = {}) {
    this.set(initial);
  }

  /** The environment that loads the preload into a node, steered by this fault's file. */
  env(): Record<string, string> {
    return { NODE_OPTIONS: `--import=${PRELOAD}`, GATEHOUSE_FAULT_FILE: this.file };
  }

  set(fault: Fault): void {
    writeFileSync(this.file, JSON.stringify(fault));
  }

  clear(): void {
    this.set({});
  }
}
