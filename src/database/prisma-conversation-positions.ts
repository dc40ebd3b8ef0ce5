/**
 * `ConversationPositions` over Prisma (PGlite and PostgreSQL alike), in raw SQL: what a batch
 * of logging-in users missed is two round trips whatever their number and their conversations
 * (where each conversation stands for each user, then the messages of the ranges that fit the
 * bound, by primary key), and a batch of positions is one upsert.
 */
import { type MessageRow, storedMessage } from './message-rows.ts';
import type { PrismaClient } from '../generated/prisma/client.ts';
import type { ConversationPositions, MissedMessages, Position } from '../chat/conversation-positions.ts';

/**
 * The user's conversations that have messages after their position: direct ones (participants)
 * and their groups'. Without a position, a conversation is missed from its start (groups get one
 * when the user joins them).
 */
const BEHIND = `
WITH mine AS (
  SELECT user_id, conversation_id FROM conversation_participants WHERE user_id = ANY($1::text[])
  UNION
  SELECT user_id, 'group:' || group_id FROM group_members WHERE user_id = ANY($1::text[])
)
SELECT mine.user_id, c.id AS conversation_id, COALESCE(p.seq, 0) AS after, c.last_seq
FROM mine
JOIN conversations c ON c.id = mine.conversation_id
LEFT JOIN conversation_positions p ON p.user_id = mine.user_id AND p.conversation_id = c.id
WHERE c.last_seq > COALESCE(p.seq, 0)
ORDER BY mine.user_id, c.id COLLATE "C"`;

/** The messages of the chosen ranges (after, upto] of each user, in conversation then seq order. */
const RANGES = `
SELECT r.user_id, m.conversation_id, m.seq, m.id, m.sender, m.content, m.sent_at
FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[]) AS r(user_id, conversation_id, after, upto)
JOIN messages m ON m.conversation_id = r.conversation_id AND m.seq > r.after AND m.seq <= r.upto
ORDER BY r.user_id, m.conversation_id COLLATE "C", m.seq`;

const ADVANCE = `
INSERT INTO conversation_positions AS p (user_id, conversation_id, seq)
SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[])
ON CONFLICT (user_id, conversation_id) DO UPDATE SET seq = GREATEST(p.seq, EXCLUDED.seq)
WHERE p.seq < EXCLUDED.seq`;

interface BehindRow {
  user_id: string;
  conversation_id: string;
  after: bigint;
  last_seq: bigint;
}

interface MissedRow extends MessageRow {
  user_id: string;
}

export class PrismaConversationPositions implements ConversationPositions {
  constructor(private readonly prisma: PrismaClient) {}

  async missed(userIds: readonly string[], maxMessages: number): Promise<Map<string, MissedMessages>> {
    const result = new Map<string, MissedMessages>();
    if (userIds.length === 0) return result;
    const behind = await this.prisma.$queryRawUnsafe<BehindRow[]>(BEHIND, [...new Set(userIds)]);
    if (behind.length === 0) return result;
    // Per user: whole conversations while the bound allows (by seq: pruned messages only make it
    // fewer), then the start of the one that does not fit; the rest are `more`. One read of the
    // chosen ranges for everyone.
    const users: string[] = [];
    const ids: string[] = [];
    const afters: number[] = [];
    const uptos: number[] = [];
    let budget = 0;
    let user: string | undefined;
    for (const row of behind) {
      if (row.user_id !== user) {
        user = row.user_id;
        budget = maxMessages;
        result.set(user, { messages: [], more: [] });
      }
      const missed = result.get(user)!;
      const after = Number(row.after);
      const last = Number(row.last_seq);
      if (budget <= 0) {
        missed.more.push(row.conversation_id);
        continue;
      }
      const upto = Math.min(last, after + budget);
      users.push(user);
      ids.push(row.conversation_id);
      afters.push(after);
      uptos.push(upto);
      budget -= upto - after;
      if (upto < last) missed.more.push(row.conversation_id);
    }
    const rows = await this.prisma.$queryRawUnsafe<MissedRow[]>(RANGES, users, ids, afters, uptos);
    for (const row of rows) result.get(row.user_id)!.messages.push(storedMessage(row));
    return result;
  }

  async advance(positions: readonly Position[]): Promise<void> {
    // One row per (user, conversation): an upsert may not touch a row twice in one statement.
    const furthest = new Map<string, Position>();
    for (const position of positions) {
      const key = `${position.userId}\u0000${position.conversationId}`;
      const known = furthest.get(key);
      if (!known || known.seq < position.seq) furthest.set(key, position);
    }
    if (furthest.size === 0) return;
    const rows = [...furthest.values()];
    await this.prisma.$executeRawUnsafe(
      ADVANCE,
      rows.map((p) => p.userId),
      rows.map((p) => p.conversationId),
      rows.map((p) => p.seq),
    );
  }
}
