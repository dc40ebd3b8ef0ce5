/**
 * A task run once at the end of the current turn of the event loop (`setImmediate`: after the
 * I/O callbacks of this turn, before the next timers), however often it is asked for meanwhile.
 *
 * Why the database writes of logins and logouts start this way rather than at once: a reconnect
 * storm or a node's shutdown ends or opens hundreds of sessions in the same turn (one socket
 * event each), and each would otherwise be its own statement. Deferring to the end of the turn
 * lets all of them join one batch, and the caller (a socket's close, a login) never waits for
 * the database. A microtask would run too early (before the other sockets' events of the turn);
 * a timer would add latency for nothing.
 */
export class EndOfTurnTask {
  private handle: ReturnType<typeof setImmediate> | undefined;

  constructor(private readonly task: () => void) {}

  /** Runs the task at the end of this turn; a no-op when that is already due. */
  schedule(): void {
    if (this.handle !== undefined) return;
    this.handle = setImmediate(() => {
      this.handle = undefined;
      this.task();
    });
  }

  /** Drops the pending run, if any (the caller runs the task itself now). */
  cancel(): void {
    clearImmediate(this.handle);
    this.handle = undefined;
  }
}
