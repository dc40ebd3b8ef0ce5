/**
 * How many logins a node takes on at once. A reconnect storm (a deploy, a crashed node, a
 * network blip) brings thousands of handshakes within seconds; taken all at once, each waits
 * behind all the others, the event loop's turns grow to hundreds of milliseconds (connected
 * players' pongs wait as long) and handshakes time out in the clients, who retry into the same
 * queue. Beyond `max` logins in flight, a handshake is refused at once, before any token check,
 * with 503 GW_BUSY and a Retry-After spread over a few seconds, so the refused come back in a
 * trickle instead of a wave (the SDK honours it, src/client/client.ts).
 *
 * The same refusal is given while the event loop is late (`overloaded`, see
 * src/gateway/loop-lag.ts): handshakes queued before they are logins cost as much.
 *
 * A login is in flight from the moment its handshake passed the cheap checks (origin, draining,
 * MAX_CONNECTIONS) until `connected` was sent or the attempt failed: ticket.release(), which
 * may be called any number of times.
 */
export interface LoginTicket {
  release(): void;
}

export class LoginAdmission {
  private inFlight = 0;
  /** Handshakes refused for being over `max` (the metric gatehouse_logins_deferred_total). */
  deferred = 0;

  constructor(
    private readonly max: number,
    /** Retry-After of a refusal is drawn from [minRetryS, maxRetryS]. */
    private readonly retryAfterRange: readonly [minRetryS: number, maxRetryS: number] = [1, 4],
    private readonly random: () => number = Math.random,
    /** A reason to refuse however few logins are in flight: the event loop is late (loop-lag.ts). */
    private readonly overloaded: () => boolean = () => false,
  ) {}

  /** Logins in flight now. */
  get pending(): number {
    return this.inFlight;
  }

  /** A ticket, or undefined when `max` logins are in flight or the loop is overloaded (counted as deferred). */
  enter(): LoginTicket | undefined {
    if (this.inFlight >= this.max || this.overloaded()) {
      this.deferred++;
      return undefined;
    }
    this.inFlight++;
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        this.inFlight--;
      },
    };
  }

  /** Whole seconds for the Retry-After of a refusal: spread so that the refused do not return together. */
  retryAfterS(): number {
    const [min, max] = this.retryAfterRange;
    return min + Math.floor(this.random() * (max - min + 1));
  }
}
