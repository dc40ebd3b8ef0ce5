/**
 * Timers a bot's game loop runs on (handed to the SDK as its `timers`): `freeze()` holds every
 * callback that comes due until `thaw()`. A frozen bot therefore sends no app `ping` (and does
 * not reconnect), while its `ws` socket, driven by the network, still answers WebSocket-level
 * pings: a game whose main loop hangs on a machine whose network stack works.
 */
import type { Timers } from '../../src/client/types.ts';

interface Handle {
  callback: () => void;
  real: NodeJS.Timeout | undefined;
  done: boolean;
}

export class FreezableTimers implements Timers {
  frozen = false;
  private readonly held = new Set<Handle>();

  setTimeout(callback: () => void, ms: number): unknown {
    const handle: Handle = { callback, real: undefined, done: false };
    handle.real = setTimeout(() => {
      if (handle.done) return;
      if (this.frozen) this.held.add(handle);
      else {
        handle.done = true;
        callback();
      }
    }, ms);
    return handle;
  }

  clearTimeout(value: unknown): void {
    const handle = value as Handle | undefined;
    if (!handle) return;
    handle.done = true;
    if (handle.real) clearTimeout(handle.real);
    this.held.delete(handle);
  }

  freeze(): void {
    this.frozen = true;
  }

  thaw(): void {
    this.frozen = false;
    const due = [...this.held];
    this.held.clear();
    for (const handle of due) {
      if (handle.done) continue;
      handle.done = true;
      handle.callback();
    }
  }
}
