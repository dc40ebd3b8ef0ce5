/**
 * The bounded per-session send queue of PROTOCOL.md "Send queues".
 *
 * A message is written straight to the socket while the socket keeps up (nothing queued ahead
 * and its buffer below a watermark); otherwise it waits here and is drained from the socket's
 * send callbacks. The bounds count messages waiting here and bytes waiting here plus what the
 * socket itself has buffered. A message that does not fit is dropped: push() never blocks and
 * never awaits, so a fan-out loop pays nothing for a slow consumer but that consumer's drops.
 *
 * The common case, a socket with an empty buffer, sends without a callback. A write callback is
 * not free in Node: the stream then builds a closure for every corked write (ws corks each frame's
 * header and payload) and schedules a nextTick per write, where callback-less writes share one
 * no-op. That was most of what a pong cost Gatehouse beyond raw ws (bench/alloc-profile.ts). The
 * socket's buffer stands in for the callback: empty again means written out.
 */

/** The part of a `ws` WebSocket the queue uses (a `ws` WebSocket satisfies it). */
export interface OutboundSocket {
  /** Bytes accepted by send() but not yet written to the kernel. */
  readonly bufferedAmount: number;
  /**
   * `cb`, when given, runs once the data is written out, or with an error; callbacks come in
   * send order. ws calls back with null or undefined on success (Node's write callback), an
   * Error on failure.
   */
  send(data: string, cb?: (err?: Error | null) => void): void;
}

/**
 * Told about drops. An object with methods rather than two callbacks: the session is its own
 * queue's listener, so a connection costs no closures for it (each closure built per connection
 * is a few hundred bytes under tsx, whose keepNames gives it a property dictionary).
 */
export interface SendQueueListener {
  /** After every drop, with the number of drops in a row (the message is already gone). Must not throw. */
  onQueueDrop(consecutive: number): void;
  /** Once per queue, when `slowConsumerDrops` drops happened in a row. Must not throw. */
  onSlowConsumer(): void;
}

/**
 * The bounds and clock of a node's queues: one object shared by all of them (a copy per session
 * would cost every connection its own), so nothing in it is per session.
 */
export interface SendQueueOptions {
  /** SEND_QUEUE_MAX: messages waiting in the queue (not yet handed to the socket). */
  maxMessages: number;
  /** SEND_QUEUE_MAX_BYTES: queued bytes + socket.bufferedAmount + the new message. */
  maxBytes: number;
  /** SLOW_CONSUMER_DROPS: consecutive drops before onSlowConsumer; 0 = never. */
  slowConsumerDrops: number;
  /** Clock for oldestPendingSince (default Date.now); called once per push. */
  now?: () => number;
  /** Write through while socket.bufferedAmount is below this (default 16 KiB, Node's stream highWaterMark). */
  writeThroughBelow?: number;
}

/** Default watermark under which messages skip the queue. */
export const DEFAULT_WRITE_THROUGH_BELOW = 16 * 1024;
/** Drained slots are reclaimed once this many pile up at the front of the arrays. */
const COMPACT_AFTER = 1024;

/**
 * Bounded send queue for one session. Not thread-safe in any sense that matters here: it is
 * used from the event loop only, and tolerates socket callbacks that run inside send().
 */
export class SendQueue {
  // One FIFO of pending messages in three parallel arrays (no object per message):
  // [head, next) were handed to the socket and await their callback; [next, tail) are queued.
  // Only `since` is written for the first kind. Each array is created on its first write: a
  // session that keeps up, most of them, never tracks a send and never has any.
  private data: string[] | undefined;
  private size: number[] | undefined;
  private since: number[] | undefined;
  private head = 0;
  private next = 0;
  private tail = 0;
  private queuedBytes = 0;
  private droppedTotal = 0;
  private dropsInARow = 0;
  private slowConsumerFired = false;
  /** True while this queue is inside socket.send: callbacks then must not start another send. */
  private sending = false;
  private broken = false;
  /**
   * When a callback-less send (see push) left bytes in the socket buffer, and the buffer has not
   * been seen empty since; 0 when there is none. Everything sent later is tracked, so this is
   * the oldest pending write while it is set.
   */
  private untrackedSince = 0;
  /**
   * One callback for every tracked send: callbacks arrive in order, so they need no identity.
   * Bound on the first tracked send (untracked ones need none); bound rather than an arrow
   * field, which tsx would name, costing it a property dictionary.
   */
  private onSent: ((err?: Error | null) => void) | undefined;

  constructor(
    private readonly socket: OutboundSocket,
    private readonly options: SendQueueOptions,
    private readonly listener?: SendQueueListener,
  ) {}

  private now(): number {
    return (this.options.now ?? Date.now)();
  }

  private get watermark(): number {
    return this.options.writeThroughBelow ?? DEFAULT_WRITE_THROUGH_BELOW;
  }

  /** Messages waiting in the queue (not yet handed to the socket). */
  get depth(): number {
    return this.tail - this.next;
  }
  /** UTF-8 bytes waiting in the queue (the socket's own buffer is `socket.bufferedAmount`). */
  get bytes(): number {
    return this.queuedBytes;
  }
  /** Messages handed to the socket whose send callback has not run yet. */
  get inFlight(): number {
    return this.next - this.head;
  }
  /** Messages dropped over the queue's lifetime. */
  get dropped(): number {
    return this.droppedTotal;
  }
  /** Drops since the last accepted message. */
  get consecutiveDrops(): number {
    return this.dropsInARow;
  }
  /** True once the socket reported a send error: the queue is discarded and accepts nothing. */
  get failed(): boolean {
    return this.broken;
  }

  /**
   * Queues or writes `data`. Returns false when it was dropped (does not fit the bounds), or,
   * without counting a drop, when the socket already failed (the session is closing anyway).
   */
  push(data: string): boolean {
    if (this.broken) return false;
    const queued = this.tail - this.next;
    if (queued >= this.options.maxMessages) return this.drop();
    const used = this.queuedBytes + this.socket.bufferedAmount;
    const max = this.options.maxBytes;
    // data.length <= UTF-8 bytes <= 3 * data.length: measure only when the bounds disagree.
    let bytes = -1;
    if (used + data.length * 3 > max) {
      if (used + data.length > max) return this.drop();
      bytes = Buffer.byteLength(data, 'utf8');
      if (used + bytes > max) return this.drop();
    }
    this.dropsInARow = 0;
    if (queued === 0 && !this.sending && used === 0) {
      // Nothing of ours waits and the socket's buffer is empty: hand it over untracked.
      this.untrackedSince = 0;
      this.writeUntracked(data);
      if (this.socket.bufferedAmount > 0 && !this.broken) this.untrackedSince = this.now();
      // a socket that calls back into push() from inside send() left messages behind
      if (this.tail > this.next) this.drain();
      return true;
    }
    // Nothing tracked in flight (an untracked send may be): this one goes with a callback, whatever
    // the buffer, so that anything queued behind it has a callback coming to drain it.
    const writeThrough = queued === 0 && !this.sending && (this.next === this.head || this.socket.bufferedAmount < this.watermark);
    const slot = this.tail++;
    (this.since ??= [])[slot] = this.now();
    if (writeThrough) {
      this.next = this.tail;
      this.write(data);
      // a socket that calls back into push() from inside send() left messages behind
      if (this.tail > this.next) this.drain();
    } else {
      if (bytes < 0) bytes = Buffer.byteLength(data, 'utf8');
      (this.data ??= [])[slot] = data;
      (this.size ??= [])[slot] = bytes;
      this.queuedBytes += bytes;
    }
    return true;
  }

  /**
   * The last message before a close: discards what is still queued and hands `data` to the
   * socket at once, whatever its buffer and the bounds. The socket writes in order, so it goes
   * out after what was already handed to it and before the close frame that follows. Never
   * counts a drop; false only when the socket already failed.
   */
  pushFinal(data: string): boolean {
    if (this.broken) return false;
    this.clear();
    (this.since ??= [])[this.tail++] = this.now();
    this.next = this.tail;
    this.write(data);
    return true;
  }

  /**
   * ms timestamp (per `now`) of the push of the oldest message not yet written out, queued or
   * in the socket; undefined when everything is flushed. The watchdog compares it with
   * WRITE_TIMEOUT_MS. A send made without a callback counts as pending until the socket's
   * buffer is seen empty or a later send calls back: "not drained since", as PROTOCOL.md puts it.
   */
  oldestPendingSince(): number | undefined {
    if (this.untrackedSince !== 0) {
      if (this.socket.bufferedAmount > 0) return this.untrackedSince;
      this.untrackedSince = 0; // written out since
    }
    return this.head < this.tail ? this.since?.[this.head] : undefined;
  }

  /**
   * Discards the queued messages (e.g. on close). Messages already handed to the socket stay
   * tracked until their callbacks; counters are kept; the queue stays usable.
   */
  clear(): void {
    const data = this.data;
    if (data) for (let i = this.next; i < this.tail; i++) data[i] = '';
    this.tail = this.next;
    this.queuedBytes = 0;
    this.reclaim();
  }

  private drop(): false {
    this.droppedTotal++;
    const inARow = ++this.dropsInARow;
    this.listener?.onQueueDrop(inARow);
    const limit = this.options.slowConsumerDrops;
    if (limit > 0 && inARow >= limit && !this.slowConsumerFired) {
      this.slowConsumerFired = true;
      this.listener?.onSlowConsumer();
    }
    return false;
  }

  private write(data: string): void {
    this.sending = true;
    try {
      this.socket.send(data, (this.onSent ??= this.sent.bind(this)));
    } catch (err) {
      // ws throws only when not open yet; no callback will come for this message
      this.sending = false;
      this.sent(err instanceof Error ? err : new Error(String(err)));
      return;
    }
    this.sending = false;
  }

  /** A send without callback: its errors reach the socket's 'error' and close events instead. */
  private writeUntracked(data: string): void {
    this.sending = true;
    try {
      this.socket.send(data);
    } catch {
      // ws throws only when not open yet: nothing was written, and the session is not open
      this.broken = true;
    } finally {
      this.sending = false;
    }
  }

  private sent(err: Error | null | undefined): void {
    if (this.head < this.next) this.head++;
    // Sends are written in order: an untracked one before this is written out too.
    this.untrackedSince = 0;
    // Loose check on purpose: success comes as null from ws/Node, as undefined from others.
    if (err != null && !this.broken) {
      this.broken = true;
      this.clear();
    }
    this.reclaim();
    if (!this.sending) this.drain();
  }

  /** Hands queued messages to the socket in order while it keeps up. Iterative: a socket that
   * calls back synchronously cannot grow the stack. */
  private drain(): void {
    while (this.next < this.tail && !this.broken && (this.next === this.head || this.socket.bufferedAmount < this.watermark)) {
      const slot = this.next++;
      const queued = this.data;
      const data = queued?.[slot] ?? '';
      if (queued) queued[slot] = '';
      this.queuedBytes -= this.size?.[slot] ?? 0;
      this.write(data);
    }
  }

  /** Keeps the arrays from growing while the pipeline never empties. */
  private reclaim(): void {
    if (this.head === this.tail) {
      this.head = this.next = this.tail = 0;
      return;
    }
    if (this.head < COMPACT_AFTER || this.head * 2 < this.tail) return;
    const shift = this.head;
    const { data, size, since } = this;
    since?.copyWithin(0, shift, this.tail);
    size?.copyWithin(0, shift, this.tail);
    if (data) {
      data.copyWithin(0, shift, this.tail);
      for (let i = this.tail - shift; i < Math.min(this.tail, data.length); i++) data[i] = '';
    }
    this.head = 0;
    this.next -= shift;
    this.tail -= shift;
  }
}
