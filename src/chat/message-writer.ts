/**
 * Writes stored messages in batches, off the path that reads frames: messages handed over while
 * a batch is being written wait together for the next one, so under load one transaction
 * carries hundreds of messages, and alone a message waits only for its own transaction. One
 * batch is in flight at a time: seqs are handed out in the order messages were written.
 */
import type { MessageStore, NewMessage } from './message-store.ts';

export interface MessageWriterOptions {
  store: Pick<MessageStore, 'append'>;
  /** Most messages in one transaction. */
  maxBatch: number;
  /** Most messages waiting (written and waiting together); beyond it `write` refuses at once. */
  maxPending: number;
}

interface Waiting {
  message: NewMessage;
  resolve: (seq: number) => void;
  reject: (error: Error) => void;
}

export class MessageWriter {
  private queue: Waiting[] = [];
  private inFlight = 0;
  private writing = false;
  /** Messages stored, batches written, batches that failed: the metrics read them. */
  stored = 0;
  batches = 0;
  failedBatches = 0;

  constructor(private readonly options: MessageWriterOptions) {}

  /** Messages accepted and not yet durable or failed. */
  get pending(): number {
    return this.queue.length + this.inFlight;
  }

  /**
   * Stores the message; resolves with its seq once it is durable, rejects when its batch could
   * not be written (nothing of it stored). Undefined: too many messages waiting, refused.
   */
  write(message: NewMessage): Promise<number> | undefined {
    if (this.pending >= this.options.maxPending) return undefined;
    const promise = new Promise<number>((resolve, reject) => this.queue.push({ message, resolve, reject }));
    if (!this.writing) void this.drain();
    return promise;
  }

  /** Resolves once everything handed over so far is durable or failed (shutdown). */
  async flushed(): Promise<void> {
    while (this.writing) await new Promise<void>((resolve) => setImmediate(resolve));
  }

  private async drain(): Promise<void> {
    this.writing = true;
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.length <= this.options.maxBatch ? this.queue : this.queue.slice(0, this.options.maxBatch);
        this.queue = batch === this.queue ? [] : this.queue.slice(batch.length);
        this.inFlight = batch.length;
        try {
          const seqs = await this.options.store.append(batch.map((waiting) => waiting.message));
          this.batches++;
          this.stored += batch.length;
          for (let i = 0; i < batch.length; i++) batch[i]!.resolve(seqs[i]!);
        } catch (error) {
          this.failedBatches++;
          for (const waiting of batch) waiting.reject(error as Error);
        } finally {
          this.inFlight = 0;
        }
      }
    } finally {
      this.writing = false;
    }
  }
}
