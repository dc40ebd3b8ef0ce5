/**
 * `MessageStore` over Prisma (PGlite and PostgreSQL alike), in raw SQL: a batch of messages is
 * one statement whatever its size and its number of conversations (the sequences bumped, the
 * messages and the participants of new direct conversations inserted), so its transaction is
 * one round trip; pages read the primary key (conversation_id, seq); retention deletes in
 * bounded statements. Table names are unqualified: the connection's search_path has the schema.
 */
import type { PrismaClient } from '../generated/prisma/client.ts';
import { parseConversationId } from '../protocol/conversation-ids.ts';
import { type MessageRow, storedMessage } from './message-rows.ts';
import type { HistoryQuery, MessageStore, NewMessage, StoredMessage } from '../chat/message-store.ts';

/*
 * One statement for the batch, so one transaction: it commits whole or not at all.
 * - bumped: each conversation's last_seq moves on by its number of messages in the batch (a new
 *   row starts at that number). The upsert locks the rows in input order, and append sorts the
 *   conversations: two batches (two gateway nodes) touching the same conversations lock them in
 *   the same order, so one waits for the other instead of deadlocking, then adds to the
 *   committed last_seq. Seqs never repeat and leave no gap.
 * - stored: a message's seq is counted back from its conversation's new last_seq (`later` = how
 *   many of its conversation follow it in the batch): consecutive, in input order. Messages name
 *   their conversation by its position in the batch and their time in ms since the epoch: plain
 *   numbers go through Prisma's argument serialization cheaper than repeated text and Dates
 *   (about 15% less CPU of the node per batch of 500).
 * - participants: a direct conversation whose new last_seq is its count in this batch had no
 *   message before, so this batch created it: its two users are recorded (DO NOTHING: rows
 *   already there, or a user talking to themselves, are no error).
 * Foreign keys are checked at the end of the statement, so messages and participants may
 * reference conversations the sibling CTE creates.
 */
const APPEND = `
WITH batch AS (
  SELECT * FROM unnest($1::text[], $2::bigint[]) WITH ORDINALITY AS b(conversation_id, n, position)
),
bumped AS (
  INSERT INTO conversations AS c (id, last_seq)
  SELECT conversation_id, n FROM batch ORDER BY position
  ON CONFLICT (id) DO UPDATE SET last_seq = c.last_seq + EXCLUDED.last_seq
  RETURNING c.id, c.last_seq
),
stored AS (
  INSERT INTO messages (conversation_id, seq, id, sender, content, sent_at)
  SELECT batch.conversation_id, b.last_seq - m.later, m.id, m.sender, m.content,
         'epoch'::timestamptz + m.sent_ms * interval '1 millisecond'
  FROM unnest($3::int[], $4::int[], $5::text[], $6::text[], $7::text[], $8::bigint[])
    AS m(conversation, later, id, sender, content, sent_ms)
  JOIN batch ON batch.position = m.conversation
  JOIN bumped b ON b.id = batch.conversation_id
),
participants AS (
  INSERT INTO conversation_participants (user_id, conversation_id)
  SELECT p.user_id, p.conversation_id
  FROM unnest($9::text[], $10::text[]) AS p(conversation_id, user_id)
  JOIN batch ON batch.conversation_id = p.conversation_id
  JOIN bumped b ON b.id = p.conversation_id
  WHERE b.last_seq = batch.n
  ON CONFLICT DO NOTHING
)
SELECT id, last_seq FROM bumped`;

/*
 * appendNumbered's one statement: the messages come with their seqs.
 * - bumped: each conversation's last_seq moves up to the highest seq of the batch (GREATEST: a
 *   batch of another node with lower seqs may commit after this one), in sorted order like
 *   APPEND; `created` (xmax = 0: inserted, not updated) marks the conversations this batch made.
 * - stored: ON CONFLICT DO NOTHING, so a retry of a batch that did commit (its answer was lost)
 *   stores nothing twice; the ids inserted come back, the rest are checked by the caller.
 * - participants: for the direct conversations this batch created.
 */
const APPEND_NUMBERED = `
WITH batch AS (
  SELECT * FROM unnest($1::text[], $2::bigint[]) AS b(conversation_id, top)
),
bumped AS (
  INSERT INTO conversations AS c (id, last_seq)
  SELECT conversation_id, top FROM batch ORDER BY conversation_id COLLATE "C"
  ON CONFLICT (id) DO UPDATE SET last_seq = GREATEST(c.last_seq, EXCLUDED.last_seq)
  RETURNING c.id, (c.xmax = 0) AS created
),
stored AS (
  INSERT INTO messages (conversation_id, seq, id, sender, content, sent_at)
  SELECT m.conversation_id, m.seq, m.id, m.sender, m.content, 'epoch'::timestamptz + m.sent_ms * interval '1 millisecond'
  FROM unnest($3::text[], $4::bigint[], $5::text[], $6::text[], $7::text[], $8::bigint[])
    AS m(conversation_id, seq, id, sender, content, sent_ms)
  ON CONFLICT (conversation_id, seq) DO NOTHING
  RETURNING id
),
participants AS (
  INSERT INTO conversation_participants (user_id, conversation_id)
  SELECT p.user_id, p.conversation_id
  FROM unnest($9::text[], $10::text[]) AS p(conversation_id, user_id)
  JOIN bumped b ON b.id = p.conversation_id
  WHERE b.created
  ON CONFLICT DO NOTHING
)
SELECT id FROM stored`;

/** Which message holds each (conversation, seq) asked for. */
const HOLDERS = `
SELECT m.conversation_id, m.seq, m.id FROM messages m
JOIN unnest($1::text[], $2::bigint[]) AS k(conversation_id, seq) ON m.conversation_id = k.conversation_id AND m.seq = k.seq`;

const LAST_SEQ = 'SELECT last_seq FROM conversations WHERE id = $1';

/** Seqs start at 1 and stay far below 2^53: these bounds stand for "no bound". */
const NO_LOWER_BOUND = 0;
const NO_UPPER_BOUND = Number.MAX_SAFE_INTEGER;

/** The first `limit` messages of the range (after, before), by primary key. */
const PAGE_FROM_START = `
SELECT conversation_id, seq, id, sender, content, sent_at FROM messages
WHERE conversation_id = $1 AND seq > $2::bigint AND seq < $3::bigint
ORDER BY seq LIMIT $4`;

/** The last `limit` messages of the range (after, before), newest first. */
const PAGE_FROM_END = `
SELECT conversation_id, seq, id, sender, content, sent_at FROM messages
WHERE conversation_id = $1 AND seq > $2::bigint AND seq < $3::bigint
ORDER BY seq DESC LIMIT $4`;

/*
 * At most $3 rows per statement, picked by primary key: the old ones through the sent_at index,
 * the surplus of each conversation as the key range seq <= last_seq - keep (conversations that
 * never had more than `keep` messages are skipped without reading messages). Each side stops at
 * the limit, so one call reads at most twice the limit, and a row on both sides counts once.
 * conversations is not touched: last_seq never goes back and the next message continues the
 * sequence.
 */
const PRUNE = `
DELETE FROM messages m
USING (
  (SELECT conversation_id, seq FROM messages WHERE sent_at < $1::timestamptz LIMIT $3)
  UNION
  (SELECT c.id, old.seq
   FROM conversations c
   JOIN messages old ON old.conversation_id = c.id AND old.seq <= c.last_seq - $2::bigint
   WHERE c.last_seq > $2::bigint
   LIMIT $3)
  LIMIT $3
) doomed
WHERE m.conversation_id = doomed.conversation_id AND m.seq = doomed.seq`;

/** A batch as the parallel arrays APPEND unnests, in the order of its parameters. */
type AppendArguments = [
  conversationIds: string[],
  counts: number[],
  messageConversations: number[],
  later: number[],
  ids: string[],
  senders: Array<string | null>,
  contents: string[],
  sentMs: number[],
  participantConversations: string[],
  participantUsers: string[],
];

/**
 * The batch cut into APPEND's arguments: the conversations sorted (the lock order) and counted,
 * each message with its conversation's position (1-based) and how many of that conversation
 * follow it, the two users of each direct conversation.
 * @throws on a conversation id that is not one (nothing is stored).
 */
function appendArguments(messages: readonly NewMessage[]): AppendArguments {
  const counts = new Map<string, number>();
  for (const { conversationId } of messages) counts.set(conversationId, (counts.get(conversationId) ?? 0) + 1);
  const conversationIds = [...counts.keys()].sort();
  const position = new Map(conversationIds.map((id, i) => [id, i + 1]));
  const [participantConversations, participantUsers] = participantsOf(conversationIds);
  const placed = new Map<string, number>();
  const later = messages.map(({ conversationId }) => {
    const nth = (placed.get(conversationId) ?? 0) + 1;
    placed.set(conversationId, nth);
    return counts.get(conversationId)! - nth;
  });
  return [
    conversationIds,
    conversationIds.map((id) => counts.get(id)!),
    messages.map((m) => position.get(m.conversationId)!),
    later,
    messages.map((m) => m.id),
    messages.map((m) => m.sender),
    messages.map((m) => m.content),
    messages.map((m) => Math.trunc(m.sentAt)), // whole ms, as a Date keeps them: bigint refuses a fraction
    participantConversations,
    participantUsers,
  ];
}

/** The users of each direct conversation among `conversationIds`, as two parallel arrays. */
function participantsOf(conversationIds: readonly string[]): [conversations: string[], users: string[]] {
  const conversations: string[] = [];
  const users: string[] = [];
  for (const conversationId of conversationIds) {
    const parsed = parseConversationId(conversationId);
    if (!parsed) throw new Error(`not a conversation id: ${JSON.stringify(conversationId)}`);
    if (parsed.kind !== 'dm') continue;
    for (const userId of parsed.ids) {
      conversations.push(conversationId);
      users.push(userId);
    }
  }
  return [conversations, users];
}

/** Prisma-backed message store. It does not own the client: the Database closes it. */
export class PrismaMessageStore implements MessageStore {
  constructor(private readonly prisma: PrismaClient) {}

  async append(messages: readonly NewMessage[]): Promise<number[]> {
    if (messages.length === 0) return [];
    const args = appendArguments(messages);
    const rows = await this.prisma.$queryRawUnsafe<Array<{ id: string; last_seq: bigint }>>(APPEND, ...args);
    const lastSeq = new Map(rows.map((row) => [row.id, Number(row.last_seq)]));
    const later = args[3];
    return messages.map((message, i) => lastSeq.get(message.conversationId)! - later[i]!);
  }

  async appendNumbered(messages: readonly StoredMessage[]): Promise<boolean[]> {
    if (messages.length === 0) return [];
    const top = new Map<string, number>();
    for (const { conversationId, seq } of messages) top.set(conversationId, Math.max(seq, top.get(conversationId) ?? 0));
    const conversationIds = [...top.keys()];
    const rows = await this.prisma.$queryRawUnsafe<Array<{ id: string }>>(
      APPEND_NUMBERED,
      conversationIds,
      conversationIds.map((id) => top.get(id)!),
      messages.map((m) => m.conversationId),
      messages.map((m) => m.seq),
      messages.map((m) => m.id),
      messages.map((m) => m.sender),
      messages.map((m) => m.content),
      messages.map((m) => Math.trunc(m.sentAt)),
      ...participantsOf(conversationIds),
    );
    const inserted = new Set(rows.map((row) => row.id));
    if (inserted.size === messages.length) return messages.map(() => true);
    // Some seqs were taken: by this very message (an earlier try committed), or by another one.
    const rest = messages.filter((m) => !inserted.has(m.id));
    const holders = await this.prisma.$queryRawUnsafe<Array<{ conversation_id: string; seq: bigint; id: string }>>(
      HOLDERS,
      rest.map((m) => m.conversationId),
      rest.map((m) => m.seq),
    );
    const holder = new Map(holders.map((row) => [`${Number(row.seq)} ${row.conversation_id}`, row.id]));
    return messages.map((m) => inserted.has(m.id) || holder.get(`${m.seq} ${m.conversationId}`) === m.id);
  }

  async lastSeq(conversationId: string): Promise<number> {
    const rows = await this.prisma.$queryRawUnsafe<Array<{ last_seq: bigint }>>(LAST_SEQ, conversationId);
    return rows.length === 0 ? 0 : Number(rows[0]!.last_seq);
  }

  async page(conversationId: string, query: HistoryQuery): Promise<StoredMessage[]> {
    // With `after` the page starts there; otherwise it ends at `before`, or at the newest.
    const fromStart = query.after !== undefined;
    const rows = await this.prisma.$queryRawUnsafe<MessageRow[]>(
      fromStart ? PAGE_FROM_START : PAGE_FROM_END,
      conversationId,
      query.after ?? NO_LOWER_BOUND,
      query.before ?? NO_UPPER_BOUND,
      Math.max(0, Math.floor(query.limit)),
    );
    const page = rows.map(storedMessage);
    return fromStart ? page : page.reverse();
  }

  async prune(cutoffMs: number, keepPerConversation: number, limit: number): Promise<number> {
    const bound = Math.max(0, Math.floor(limit));
    if (bound === 0) return 0;
    return this.prisma.$executeRawUnsafe(PRUNE, new Date(cutoffMs), Math.max(0, Math.floor(keepPerConversation)), bound);
  }
}
