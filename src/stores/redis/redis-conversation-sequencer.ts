/**
 * `ConversationSequencer` on Redis: one counter per conversation (`chat:seq:{<conversationId>}`,
 * keys.ts), one script call per message; a missing counter (first message since the counter
 * expired, or Redis lost it) is seeded from the database's `last_seq` by a second call.
 */
import type { ConversationSequencer } from '../../chat/conversation-sequencer.ts';
import { RedisKeys } from './keys.ts';
import { defineScripts, type RedisClient, type RunScript } from './scripts.ts';
import { asNumber } from './redis-online-codec.ts';

/**
 * How long a counter outlives its conversation's last message. Long: a counter seeded again
 * starts from the stored `last_seq`, so a number handed out and never stored at the very end
 * (its node died) could be handed out once more; a week later no client still waits for it.
 */
export const SEQ_COUNTER_TTL_MS = 7 * 86_400_000;

export interface RedisConversationSequencerOptions {
  /** Owned by the caller. */
  redis: RedisClient;
  /** REDIS_KEY_PREFIX. */
  keyPrefix: string;
  /** The conversation's `last_seq` in the database (0: no message yet). */
  storedLastSeq: (conversationId: string) => Promise<number>;
  /** Default SEQ_COUNTER_TTL_MS. */
  ttlMs?: number;
}

export class RedisConversationSequencer implements ConversationSequencer {
  private readonly keys: RedisKeys;
  private readonly run: RunScript;
  private readonly ttl: string;

  constructor(private readonly options: RedisConversationSequencerOptions) {
    this.keys = new RedisKeys(options.keyPrefix);
    this.run = defineScripts(options.redis);
    this.ttl = String(options.ttlMs ?? SEQ_COUNTER_TTL_MS);
  }

  async next(conversationId: string): Promise<number> {
    const counter = [this.keys.conversationSeq(conversationId)];
    const seq = asNumber(await this.run('nextConversationSeq', counter, [this.ttl, '']), 'nextConversationSeq');
    if (seq > 0) return seq;
    const seed = await this.options.storedLastSeq(conversationId);
    return asNumber(await this.run('nextConversationSeq', counter, [this.ttl, String(seed)]), 'nextConversationSeq');
  }
}
