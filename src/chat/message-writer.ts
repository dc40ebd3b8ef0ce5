/**
 * Writes stored messages in batches, off the path that reads frames: messages handed over while
 * a batch is being written wait together for the next one, so under load one transaction
 * carries hundreds of messages, and alone a message waits only for its own transaction. One
 * batch is in flight at a time: seqs are handed out in the order messages were written.
 *
 * Two kinds of message share the queue: those the database numbers (`write`: nothing was sent
 * yet, so a failed batch just fails them) and those numbered before (`writeNumbered`: already
 * delivered, so a failed batch is tried again a few times before they fail, since a message
 * that never becomes durable leaves a gap in its conversation).
 */
import type { MessageStore, NewMessage, StoredMessage } from './message-store.ts';

/** Waits before the tries of a numbered batch after the first (then its messages fail). */
export const NUMBERED_RETRY_DELAYS_MS: readonly number[] = [100, 500, 2000];

export interface MessageWriterOptions {
  store: Pick<MessageStore, 'append' | 'appendNumbered'>;
  /** Most messages in one transaction. */
  maxBatch: number;
  /** Most messages waiting (written and waiting together); beyond it `write` refuses at once. */
  maxPending: number;
  /** Default NUMBERED_RETRY_DELAYS_MS. */
  retryDelaysMs?: readonly number[];
  /**
   * Numbered messages (delivered already: only their acks wait) go to the database at most once
   * per this many ms (default 0: as soon as the previous transaction is done), all that waits in
   * one transaction. Fewer, larger transactions cost the node and the database far less CPU per
   * message; a message the database numbers never waits for it.
   */
  numberedLingerMs?: number;
}

type Waiting =
  | { numbered: false; message: NewMessage; resolve: (seq: number) => void; reject: (error: Error) => void }
  | { numbered: true; message: StoredMessage; resolve: (stored: boolean) => void; reject: (error: Error) => void };

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class MessageWriter {
  private queue: Waiting[] = [];
  private inFlight = 0;
  private writing = false;
  /** The wait before the next transaction of numbered messages. */
  private lingering: NodeJS.Timeout | undefined;
  /** When the last transaction of numbered messages started (ms, Date.now). */
  private lastNumberedAt = 0;
  /** Messages the database numbers, waiting: they never linger. */
  private plainWaiting = 0;
  /** flushed() was called: no more lingering. */
  private flushing = false;
  /** Messages stored, batches written, batches that failed: the metrics read them. */
  stored = 0;
  batches = 0;
  failedBatches = 0;

  constructor(private readonly options: MessageWriterOptions) {}

  /** Messages accepted and not yet durable or failed. */
  get pending(): number {
    return this.queue.length + this.inFlight;
  }

  /** Whether `write` / `writeNumbered` would refuse now. */
  get full(): boolean {
    return this.pending >= this.options.maxPending;
  }

  /**
   * Stores the message; resolves with its seq once it is durable, rejects when its batch could
   * not be written (nothing of it stored). Undefined: too many messages waiting, refused.
   */
  write(message: NewMessage): Promise<number> | undefined {
    if (this.full) return undefined;
    this.plainWaiting++;
    return this.enqueue<number>((resolve, reject) => ({ numbered: false, message, resolve, reject }));
  }

  /**
   * Stores a message numbered before (conversation-sequencer.ts); resolves true once it is
   * durable, false when its seq holds another message, rejects when the database kept failing.
   * Undefined: too many messages waiting, refused.
   */
  writeNumbered(message: StoredMessage): Promise<boolean> | undefined {
    if (this.full) return undefined;
    return this.enqueue<boolean>((resolve, reject) => ({ numbered: true, message, resolve, reject }));
  }

  /** Resolves once everything handed over so far is durable or failed (shutdown: no more lingering). */
  async flushed(): Promise<void> {
    this.flushing = true;
    this.schedule();
    while (this.writing || this.queue.length > 0) await new Promise<void>((resolve) => setImmediate(resolve));
  }

  private enqueue<T>(make: (resolve: (value: T) => void, reject: (error: Error) => void) => Waiting): Promise<T> {
    const promise = new Promise<T>((resolve, reject) => this.queue.push(make(resolve as never, reject)));
    this.schedule();
    return promise;
  }

  /** Starts the next transaction now, or once the numbered messages' linger is over. */
  private schedule(): void {
    if (this.writing || this.queue.length === 0) return;
    const linger = this.flushing || this.plainWaiting > 0 ? 0 : (this.options.numberedLingerMs ?? 0);
    const wait = this.lastNumberedAt + linger - Date.now();
    if (wait <= 0) {
      if (this.lingering) clearTimeout(this.lingering);
      this.lingering = undefined;
      void this.drain();
    } else {
      this.lingering ??= setTimeout(() => {
        this.lingering = undefined;
        this.schedule();
      }, wait);
    }
  }

  /** One transaction of what waits (at most maxBatch, in arrival order), then the next when due. */
  private async drain(): Promise<void> {
    this.writing = true;
    try {
      const batch = this.queue.length <= this.options.maxBatch ? this.queue : this.queue.slice(0, this.options.maxBatch);
      this.queue = batch === this.queue ? [] : this.queue.slice(batch.length);
      this.inFlight = batch.length;
      const numbered = batch.filter((w): w is Extract<Waiting, { numbered: true }> => w.numbered);
      const plain = numbered.length === 0 ? batch : batch.filter((w): w is Extract<Waiting, { numbered: false }> => !w.numbered);
      this.plainWaiting -= plain.length;
      try {
        if (numbered.length > 0) {
          this.lastNumberedAt = Date.now();
          await this.storeNumbered(numbered);
        }
        if (plain.length > 0) await this.storePlain(plain as Array<Extract<Waiting, { numbered: false }>>);
      } finally {
        this.inFlight = 0;
      }
    } finally {
      this.writing = false;
    }
    this.schedule();
  }

  private async storePlain(waiting: ReadonlyArray<Extract<Waiting, { numbered: false }>>): Promise<void> {
    try {
      const seqs = await this.options.store.append(waiting.map((w) => w.message));
      this.batches++;
      this.stored += waiting.length;
      for (let i = 0; i < waiting.length; i++) waiting[i]!.resolve(seqs[i]!);
    } catch (error) {
      this.failedBatches++;
      for (const w of waiting) w.reject(error as Error);
    }
  }

  private async storeNumbered(waiting: ReadonlyArray<Extract<Waiting, { numbered: true }>>): Promise<void> {
    const messages = waiting.map((w) => w.message);
    const delays = this.options.retryDelaysMs ?? NUMBERED_RETRY_DELAYS_MS;
    for (let attempt = 0; ; attempt++) {
      try {
        const stored = await this.options.store.appendNumbered(messages);
        this.batches++;
        for (let i = 0; i < waiting.length; i++) {
          if (stored[i]) this.stored++;
          waiting[i]!.resolve(stored[i] === true);
        }
        return;
      } catch (error) {
        this.failedBatches++;
        const delay = delays[attempt];
        if (delay === undefined) {
          for (const w of waiting) w.reject(error as Error);
          return;
        }
        await sleep(delay);
      }
    }
  }
}
