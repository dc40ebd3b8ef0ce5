/**
 * Collects the positions clients report (`received` frames) and writes them in batches: a
 * client acknowledging every message would otherwise cost a database statement per message.
 * Only the furthest position per user and conversation is kept until the write. A write that
 * fails is not retried: a position is how far recovery may skip, and one left behind only means
 * the client is sent again what it has (it dedupes by id).
 */
import type { ConversationPositions, Position } from './conversation-positions.ts';

export interface PositionWriterOptions {
  positions: Pick<ConversationPositions, 'advance'>;
  /** How long positions gather before a write. */
  lingerMs: number;
  /** Positions that trigger a write at once. */
  maxBatch: number;
  onError: (error: Error) => void;
}

export class PositionWriter {
  private collected = new Map<string, Position>();
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> | undefined;

  constructor(private readonly options: PositionWriterOptions) {}

  advance(userId: string, conversationId: string, seq: number): void {
    const key = `${userId}\u0000${conversationId}`;
    const known = this.collected.get(key);
    if (known && known.seq >= seq) return;
    this.collected.set(key, { userId, conversationId, seq });
    if (this.collected.size >= this.options.maxBatch) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), this.options.lingerMs);
  }

  /** Writes what was collected (shutdown: resolves once it is written or failed). */
  async flushed(): Promise<void> {
    this.flush();
    while (this.writing) await this.writing;
  }

  private flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.collected.size === 0 || this.writing) {
      // One write at a time; what arrives meanwhile goes with the next.
      if (this.collected.size > 0) this.timer = setTimeout(() => this.flush(), this.options.lingerMs);
      return;
    }
    const batch = [...this.collected.values()];
    this.collected = new Map();
    this.writing = this.options.positions
      .advance(batch)
      .catch((error: unknown) => this.options.onError(error as Error))
      .finally(() => {
        this.writing = undefined;
      });
  }
}
