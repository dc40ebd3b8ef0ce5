/**
 * Automatic acks of replayed offline messages. Acks are cumulative on the server, so one ack for
 * the last replayed message processed, sent a short delay after it, covers a whole replay: 100
 * messages cost one or two frames, not 100 (acks count against the server's rate limit).
 */
import type { ClientFrame } from '../protocol/frame-types.ts';
import type { Timers } from './types.ts';

export interface OfflineAcksDeps {
  timers: Timers;
  delayMs: number;
  send(frame: ClientFrame): boolean;
}

export class OfflineAcks {
  /** Server id of the last offline replay processed and not yet acknowledged. */
  private unackedId: string | undefined;
  private timer: unknown;

  constructor(private readonly deps: OfflineAcksDeps) {}

  /**
   * The listeners of replayed message `id` ran. `stillCurrent` tells, when the delay is over,
   * whether the connection it came on is still the current one.
   */
  processed(id: string, stillCurrent: () => boolean): void {
    this.unackedId = id;
    if (this.timer !== undefined) return;
    this.timer = this.deps.timers.setTimeout(() => {
      this.timer = undefined;
      if (stillCurrent()) this.flush();
    }, this.deps.delayMs);
  }

  /** Sends the pending cumulative ack now, if any (before a close, or when the delay is over). */
  flush(): void {
    const id = this.unackedId;
    this.reset();
    if (id !== undefined) this.deps.send({ type: 'ack', id });
  }

  /** The connection ended: unacknowledged replays stay queued on the server and come again. */
  reset(): void {
    if (this.timer !== undefined) this.deps.timers.clearTimeout(this.timer);
    this.timer = undefined;
    this.unackedId = undefined;
  }
}
