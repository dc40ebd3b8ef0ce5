/**
 * The bounded per-session send queue of PROTOCOL.md "Send queues", in two lanes.
 *
 * A message is written straight to the socket while the socket keeps up (nothing queued ahead
 * and its buffer below a watermark); otherwise it waits here and is drained from the socket's
 * send callbacks. A message that does not fit its lane's bounds is dropped: push() never blocks
 * and never awaits, so a fan-out loop pays nothing for a slow consumer but that consumer's drops.
 *
 * Two lanes, because a client flooded with bulk (messages, room frames, broadcasts, replays)
 * must still get its pongs: a pong queued behind a megabyte of chat reaches a 256 KB/s player
 * seconds late, and a client that judges the link by its pongs reconnects for nothing.
 * - Bulk (`push`): SEND_QUEUE_MAX messages waiting here, SEND_QUEUE_MAX_BYTES counting these
 *   plus what the socket has buffered.
 * - Control (`pushControl`: pong, ack, error, joined/left, connected): answers to the client's own
 *   frames, small and few. Whenever both lanes hold something, the next write takes control
 *   first: control overtakes queued bulk, and each lane keeps its own order. Control has bounds
 *   of its own (as many messages as bulk, at most CONTROL_FRAME_BUDGET bytes each on average) and
 *   does not count against bulk's, so a full bulk lane never drops a pong; a client that never
 *   reads its pongs fills its control lane and loses the rest (counted as drops like bulk).
 * What the socket already holds cannot be overtaken, and the socket is given more only while its
 * buffer is below the watermark: a pong waits behind at most about one watermark of bulk (plus
 * the message that crossed it).
 * `fence()` keeps bulk queued so far ahead of every control frame: the offline replay's "a ping
 * after `connected` is answered after the whole replay" (delivery/offline-replay.ts).
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
  /** SEND_QUEUE_MAX: bulk messages waiting in the queue (not yet handed to the socket); also the control lane's count bound. */
  maxMessages: number;
  /** SEND_QUEUE_MAX_BYTES: queued bulk bytes + socket.bufferedAmount + the new message. */
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
/**
 * Average bytes a queued control frame may take: the control lane holds at most
 * `maxMessages * CONTROL_FRAME_BUDGET` bytes (and never more than `maxBytes`). Control frames
 * are small by construction (a pong is about 60 bytes; ids, refs and room names are bounded);
 * the byte bound only keeps a misrouted big frame from growing the lane.
 */
export const CONTROL_FRAME_BUDGET = 1024;
/** Drained slots are reclaimed once this many pile up at the front of the arrays. */
const COMPACT_AFTER = 1024;

/**
 * One FIFO of queued messages in three parallel arrays (no object per message). Created the
 * first time its queue has to hold something: a session that keeps up, most of them, never has one.
 */
class Lane {
  private readonly data: string[] = [];
  private readonly size: number[] = [];
  private readonly since: number[] = [];
  private head = 0;
  private tail = 0;
  /** UTF-8 bytes of the messages in the lane. */
  bytes = 0;

  get length(): number {
    return this.tail - this.head;
  }

  /** Push time of the oldest message; only while length > 0. */
  get oldestSince(): number {
    return this.since[this.head]!;
  }

  /** Slots the arrays hold (tests check that they stay bounded). */
  get slots(): number {
    return this.data.length;
  }

  add(data: string, bytes: number, since: number): void {
    const slot = this.tail++;
    this.data[slot] = data;
    this.size[slot] = bytes;
    this.since[slot] = since;
    this.bytes += bytes;
  }

  /** Removes and returns the oldest message (length > 0). */
  take(): string {
    const slot = this.head++;
    const data = this.data[slot]!;
    this.data[slot] = '';
    this.bytes -= this.size[slot]!;
    if (this.head === this.tail) this.head = this.tail = 0;
    else if (this.head >= COMPACT_AFTER && this.head * 2 >= this.tail) this.compact();
    return data;
  }

  clear(): void {
    for (let i = this.head; i < this.tail; i++) this.data[i] = '';
    this.head = this.tail = 0;
    this.bytes = 0;
  }

  /** Keeps the arrays from growing while the lane never empties. */
  private compact(): void {
    const { head, tail, data } = this;
    data.copyWithin(0, head, tail);
    this.size.copyWithin(0, head, tail);
    this.since.copyWithin(0, head, tail);
    for (let i = tail - head; i < tail; i++) data[i] = '';
    this.head = 0;
    this.tail = tail - head;
  }
}

/**
 * Bounded send queue for one session. Not thread-safe in any sense that matters here: it is
 * used from the event loop only, and tolerates socket callbacks that run inside send().
 */
export class SendQueue {
  private bulk: Lane | undefined;
  private control: Lane | undefined;
  /** Messages waiting in both lanes: the fast path reads one number. */
  private waiting = 0;
  /**
   * Bulk messages at the front of the bulk lane that control frames may not overtake (fence());
   * counts down as they are handed to the socket.
   */
  private fenced = 0;
  /**
   * Tracked sends handed to the socket, awaiting their callback, in write order: [flightHead,
   * flightTail) of `flight`, each holding the oldest push time among itself and every send
   * written after it (a control frame written ahead of older bulk does not make the socket look
   * fresher than it is). Created on the first tracked send.
   */
  private flight: number[] | undefined;
  private flightHead = 0;
  private flightTail = 0;
  private droppedTotal = 0;
  private controlDroppedTotal = 0;
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

  /** Bulk messages waiting in the queue (not yet handed to the socket). */
  get depth(): number {
    return this.bulk?.length ?? 0;
  }
  /** UTF-8 bytes of bulk waiting in the queue (the socket's own buffer is `socket.bufferedAmount`). */
  get bytes(): number {
    return this.bulk?.bytes ?? 0;
  }
  /** Control frames waiting in the queue. */
  get controlDepth(): number {
    return this.control?.length ?? 0;
  }
  /** UTF-8 bytes of control frames waiting in the queue. */
  get controlBytes(): number {
    return this.control?.bytes ?? 0;
  }
  /** Messages (either lane) handed to the socket whose send callback has not run yet. */
  get inFlight(): number {
    return this.flightTail - this.flightHead;
  }
  /** Messages (either lane) dropped over the queue's lifetime. */
  get dropped(): number {
    return this.droppedTotal;
  }
  /** Control frames dropped over the queue's lifetime (included in `dropped`). */
  get controlDropped(): number {
    return this.controlDroppedTotal;
  }
  /** Drops since the last accepted bulk message. */
  get consecutiveDrops(): number {
    return this.dropsInARow;
  }
  /** True once the socket reported a send error: the queue is discarded and accepts nothing. */
  get failed(): boolean {
    return this.broken;
  }

  /**
   * Queues or writes a bulk message. Returns false when it was dropped (does not fit the bounds),
   * or, without counting a drop, when the socket already failed (the session is closing anyway).
   */
  push(data: string): boolean {
    if (this.broken) return false;
    const queued = this.bulk?.length ?? 0;
    if (queued >= this.options.maxMessages) return this.drop(false);
    const used = (this.bulk?.bytes ?? 0) + this.socket.bufferedAmount;
    const max = this.options.maxBytes;
    // data.length <= UTF-8 bytes <= 3 * data.length: measure only when the bounds disagree.
    let bytes = -1;
    if (used + data.length * 3 > max) {
      if (used + data.length > max) return this.drop(false);
      bytes = Buffer.byteLength(data, 'utf8');
      if (used + bytes > max) return this.drop(false);
    }
    this.dropsInARow = 0;
    if (this.waiting === 0 && !this.sending && used === 0) {
      this.writeFirst(data);
      return true;
    }
    if (this.waiting === 0 && !this.sending && this.keepsUp()) {
      this.writeThrough(data, this.now());
      return true;
    }
    if (bytes < 0) bytes = Buffer.byteLength(data, 'utf8');
    (this.bulk ??= new Lane()).add(data, bytes, this.now());
    this.waiting++;
    return true;
  }

  /**
   * Queues or writes a control frame: like push(), but in the control lane, which the next write
   * serves before bulk. Bounded on its own (see the header); a drop counts like a bulk drop but
   * does not end a run of drops when accepted: a pong accepted says nothing of whether the client
   * keeps up with its bulk.
   */
  pushControl(data: string): boolean {
    if (this.broken) return false;
    if (this.waiting === 0 && !this.sending) {
      // Nothing to overtake: the same writes as a bulk message, outside bulk's bounds.
      if (this.socket.bufferedAmount === 0) {
        this.writeFirst(data);
        return true;
      }
      if (this.keepsUp()) {
        this.writeThrough(data, this.now());
        return true;
      }
    }
    const control = this.control;
    const queued = control?.length ?? 0;
    const { maxMessages, maxBytes } = this.options;
    if (queued >= maxMessages) return this.drop(true);
    const bytes = Buffer.byteLength(data, 'utf8');
    if ((control?.bytes ?? 0) + bytes > Math.min(maxMessages * CONTROL_FRAME_BUDGET, maxBytes)) return this.drop(true);
    (this.control ??= new Lane()).add(data, bytes, this.now());
    this.waiting++;
    // Queued while nothing is: the socket was above the watermark with a callback coming, or this
    // runs inside a send (a socket calling back into the queue); either way drain() follows.
    return true;
  }

  /**
   * Bulk queued now stays ahead of every control frame: control overtakes only bulk queued after
   * this call. The offline replay fences its frames, so that a pong answers after the replay.
   */
  fence(): void {
    this.fenced = this.bulk?.length ?? 0;
  }

  /**
   * The last message before a close: discards what is still queued (both lanes) and hands `data`
   * to the socket at once, whatever its buffer and the bounds. The socket writes in order, so it
   * goes out after what was already handed to it and before the close frame that follows. Never
   * counts a drop; false only when the socket already failed.
   */
  pushFinal(data: string): boolean {
    if (this.broken) return false;
    this.clear();
    this.write(data, this.now());
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
    let oldest = this.flightHead < this.flightTail ? this.flight![this.flightHead]! : Infinity;
    if (this.bulk && this.bulk.length > 0) oldest = Math.min(oldest, this.bulk.oldestSince);
    if (this.control && this.control.length > 0) oldest = Math.min(oldest, this.control.oldestSince);
    return oldest === Infinity ? undefined : oldest;
  }

  /**
   * Discards the queued messages of both lanes (e.g. on close). Messages already handed to the
   * socket stay tracked until their callbacks; counters are kept; the queue stays usable.
   */
  clear(): void {
    this.bulk?.clear();
    this.control?.clear();
    this.waiting = 0;
    this.fenced = 0;
  }

  /** Whether the socket takes another message now: no tracked send to wait for, or below the watermark. */
  private keepsUp(): boolean {
    return this.flightHead === this.flightTail || this.socket.bufferedAmount < this.watermark;
  }

  private drop(control: boolean): false {
    this.droppedTotal++;
    if (control) this.controlDroppedTotal++;
    const inARow = ++this.dropsInARow;
    this.listener?.onQueueDrop(inARow);
    const limit = this.options.slowConsumerDrops;
    if (limit > 0 && inARow >= limit && !this.slowConsumerFired) {
      this.slowConsumerFired = true;
      this.listener?.onSlowConsumer();
    }
    return false;
  }

  /** Nothing waits and the socket's buffer is empty: hand `data` over untracked. */
  private writeFirst(data: string): void {
    this.untrackedSince = 0;
    this.writeUntracked(data);
    if (this.socket.bufferedAmount > 0 && !this.broken) this.untrackedSince = this.now();
    // a socket that calls back into push() from inside send() left messages behind
    if (this.waiting > 0) this.drain();
  }

  /**
   * Nothing waits, the socket keeps up (or has no tracked send: an untracked one may be in it):
   * this one goes with a callback, whatever the buffer, so that anything queued behind it has a
   * callback coming to drain it.
   */
  private writeThrough(data: string, since: number): void {
    this.write(data, since);
    // a socket that calls back into push() from inside send() left messages behind
    if (this.waiting > 0) this.drain();
  }

  /** A tracked send of a message pushed at `since`. */
  private write(data: string, since: number): void {
    const flight = (this.flight ??= []);
    // Each entry holds the oldest push among itself and what follows (see `flight`): only a
    // control frame written ahead of older bulk walks back further than one comparison.
    for (let i = this.flightTail - 1; i >= this.flightHead && flight[i]! > since; i--) flight[i] = since;
    flight[this.flightTail++] = since;
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
    if (this.flightHead < this.flightTail) {
      this.flightHead++;
      this.reclaimFlight();
    }
    // Sends are written in order: an untracked one before this is written out too.
    this.untrackedSince = 0;
    // Loose check on purpose: success comes as null from ws/Node, as undefined from others.
    if (err != null && !this.broken) {
      this.broken = true;
      this.clear();
    }
    if (!this.sending) this.drain();
  }

  /**
   * Hands queued messages to the socket while it keeps up, control first (unless fenced), each
   * lane in order. Iterative: a socket that calls back synchronously cannot grow the stack.
   */
  private drain(): void {
    while (this.waiting > 0 && !this.broken && this.keepsUp()) {
      const control = this.control;
      const bulk = this.bulk;
      const lane = control && control.length > 0 && this.fenced === 0 ? control : bulk;
      if (!lane || lane.length === 0) return; // unreachable: `waiting` and the fence count what the lanes hold
      if (lane === bulk && this.fenced > 0) this.fenced--;
      const since = lane.oldestSince;
      const data = lane.take();
      this.waiting--;
      this.write(data, since);
    }
  }

  /** Keeps the in-flight array from growing while the pipeline never empties. */
  private reclaimFlight(): void {
    if (this.flightHead === this.flightTail) {
      this.flightHead = this.flightTail = 0;
      return;
    }
    if (this.flightHead < COMPACT_AFTER || this.flightHead * 2 < this.flightTail) return;
    const shift = this.flightHead;
    this.flight!.copyWithin(0, shift, this.flightTail);
    this.flightHead = 0;
    this.flightTail -= shift;
  }
}
