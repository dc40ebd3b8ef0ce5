/**
 * How the node answers a request head its HTTP parser refuses (a 15 KB URL, 15 KB of junk
 * headers, bytes that are not HTTP): late, not at once.
 *
 * Each refusal is cheap, but a client looping such requests opens thousands of connections a
 * second, and accepting, reading and closing them alone delays the pongs of every player on the
 * node (bench, attack 6: bystander pong p99 18–27 ms against a 1–4 ms baseline). Players never
 * send such a head, so the answer (431 / 400, then the close) waits `delayMs` with the
 * connection held unread: a loop then makes one request per delay per connection it holds open. Not keyed by address, so a
 * NAT or a load balancer in front of the node changes nothing, and nobody else is ever delayed.
 * At most `maxHeld` connections wait at once (a client with thousands of connections costs
 * their memory, not more): beyond that a refusal is answered at once, as before.
 *
 * No framework here: the caller owns the sockets and the timer (http/plugins/refusal-tarpit.ts).
 */

export interface RefusalTarpitOptions {
  /** How long a refused connection waits for its answer (0 = answered at once). */
  delayMs: number;
  /** Connections waiting at once, at most. */
  maxHeld: number;
}

export class RefusalTarpit<S extends object> {
  private readonly waiting = new Set<S>();
  /** Refusals answered late, and at once because `maxHeld` were already waiting. */
  delayed = 0;
  answeredAtOnce = 0;

  constructor(private readonly options: RefusalTarpitOptions) {}

  /**
   * A refused connection: true when it is to wait `delayMs` (the caller calls `done` once it is
   * answered or gone); false when it is to be answered at once. A connection already waiting
   * (the parser may refuse the rest of its bytes again) is not counted twice.
   */
  hold(connection: S): boolean {
    if (this.waiting.has(connection)) return true;
    if (this.options.delayMs <= 0) return false;
    if (this.waiting.size >= this.options.maxHeld) {
      this.answeredAtOnce += 1;
      return false;
    }
    this.waiting.add(connection);
    this.delayed += 1;
    return true;
  }

  isHeld(connection: S): boolean {
    return this.waiting.has(connection);
  }

  done(connection: S): void {
    this.waiting.delete(connection);
  }

  /** The connections waiting now (closed at shutdown). */
  held(): IterableIterator<S> {
    return this.waiting.values();
  }

  get size(): number {
    return this.waiting.size;
  }
}
