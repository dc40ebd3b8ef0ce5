/**
 * The MessageStore contract on both databases: the embedded one (PGlite on its thread) and
 * PostgreSQL (a schema of this suite). Sequences are gap-free and consecutive per conversation,
 * also while two nodes' pools write the same conversations at once; pages, the positions of a
 * user, retention and the content itself as the interface states them.
 */
import t, { type Test } from 'tap';
import { directConversationId, groupConversationId } from '../../src/protocol/conversation-ids.ts';
import type { NewMessage, StoredMessage } from '../../src/chat/message-store.ts';
import { type Database, openDatabase } from '../../src/database/database.ts';
import { PrismaGroupStore } from '../../src/database/prisma-group-store.ts';
import { PrismaMessageStore } from '../../src/database/prisma-message-store.ts';
import { testPostgres } from '../helpers/services.ts';

interface Backend {
  /** The database the contract runs on, its statements reported to `onQuery`. */
  db: Database;
  /** Another client of the same database: a second node's pool (PostgreSQL), or `db` where there is one connection (PGlite). */
  second: Database;
}

t.test('embedded (PGlite)', async (t) => {
  messageStoreContract(t, async (onQuery) => {
    const db = await openDatabase({ pgliteDir: 'memory://', poolMax: 1, migrate: true, onQuery });
    return { db, second: db };
  });
});

t.test('PostgreSQL', async (t) => {
  // Checked before the contract declares its tests: a missing service skips the whole test.
  const svc = await testPostgres(t);
  if (!svc) return;
  messageStoreContract(t, async (onQuery) => {
    const options = { url: svc.url, schema: svc.schema, pgliteDir: 'unused', poolMax: 4, migrate: true };
    const db = await openDatabase({ ...options, onQuery });
    return { db, second: await openDatabase(options) };
  });
});

/** 2026-01-01T00:00:00.007Z: an odd millisecond, which must come back as it went in. */
const RECENT = Date.UTC(2026, 0, 1) + 7;
/** Long before RECENT: what retention deletes by age. */
const OLD = Date.UTC(2001, 0, 1) + 3;

let counter = 0;
/** A message with a unique id; content and time may be given. */
function message(conversationId: string, extra: Partial<NewMessage> = {}): NewMessage {
  counter++;
  return { conversationId, id: `m${counter}`, sender: 'alice', content: JSON.stringify({ n: counter }), sentAt: RECENT + counter, ...extra };
}

const seqsOf = (page: readonly StoredMessage[]) => page.map((m) => m.seq);

function messageStoreContract(t: Test, open: (onQuery: (sql: string) => void) => Promise<Backend>): void {
  let statements: string[] = [];
  let backend!: Backend;
  let store!: PrismaMessageStore;

  t.before(async () => {
    backend = await open((sql) => statements.push(sql));
    store = new PrismaMessageStore(backend.db.prisma);
  });
  t.teardown(async () => {
    if (!backend) return; // the open failed: the before hook reported it
    if (backend.second !== backend.db) await backend.second.close();
    await backend.db.close();
  });

  /** Runs `fn` and returns the statements it sent to the database. */
  const counting = async <T>(fn: () => Promise<T>): Promise<{ result: T; sent: string[] }> => {
    statements = [];
    const result = await fn();
    const sent = statements;
    statements = [];
    return { result, sent };
  };
  /** The whole conversation, ascending. */
  const all = (conversationId: string) => store.page(conversationId, { after: 0, limit: 100_000 });

  // Retention deletes across the whole database: it runs first, while the database holds only its messages.
  t.test('prune: by age, by count, at most `limit` rows a call; sequences continue', async (t) => {
    const aged = groupConversationId('prune-aged');
    const fresh = groupConversationId('prune-fresh');
    await store.append([...Array.from({ length: 10 }, (_, i) => message(aged, { sentAt: OLD + i })), ...Array.from({ length: 3 }, () => message(fresh))]);
    t.equal(await store.prune(OLD + 4, 1000, 100), 4, 'the four sent before the cutoff');
    t.same(seqsOf(await all(aged)), [5, 6, 7, 8, 9, 10]);
    t.same(seqsOf(await all(fresh)), [1, 2, 3], 'a recent conversation is untouched');

    const long = groupConversationId('prune-long');
    await store.append(Array.from({ length: 8 }, () => message(long)));
    t.equal(await store.prune(0, 3, 100), 3 + 5, 'beyond the newest 3: seqs 5-7 of aged, 1-5 of long');
    t.same(seqsOf(await all(aged)), [8, 9, 10]);
    t.same(seqsOf(await all(long)), [6, 7, 8]);
    t.same(seqsOf(await all(fresh)), [1, 2, 3], 'three messages: nothing beyond the newest 3');

    const bulk = groupConversationId('prune-bulk');
    await store.append(Array.from({ length: 20 }, () => message(bulk)));
    t.equal(await store.prune(0, 3, 10), 10, 'the limit bounds one call');
    t.equal(await store.prune(0, 3, 10), 7, 'the next call takes the rest');
    t.equal(await store.prune(0, 3, 10), 0, 'then nothing is left to delete');
    t.same(seqsOf(await all(bulk)), [18, 19, 20]);

    // Old and beyond the newest 3 at once (seqs 1-2): each row counts once.
    const both = groupConversationId('prune-both');
    await store.append(Array.from({ length: 5 }, (_, i) => message(both, { sentAt: OLD - 1000 + i })));
    t.equal(await store.prune(OLD, 3, 100), 5);
    t.same(await all(both), []);
    t.same(seqsOf(await all(aged)), [8, 9, 10], 'sent after that cutoff: kept');

    // The limit holds for both together: 4 old rows here, 4 beyond the newest 3 there.
    const oldFour = groupConversationId('prune-old-four');
    const sevenNew = groupConversationId('prune-seven-new');
    await store.append([
      ...Array.from({ length: 4 }, (_, i) => message(oldFour, { sentAt: OLD - 1000 + i })),
      ...Array.from({ length: 7 }, () => message(sevenNew)),
    ]);
    t.equal(await store.prune(OLD, 3, 5), 5);
    t.equal(await store.prune(OLD, 3, 5), 3);
    t.equal(await store.prune(OLD, 3, 5), 0);
    t.same(await all(oldFour), []);
    t.same(seqsOf(await all(sevenNew)), [5, 6, 7]);
    t.equal(await store.prune(OLD + 100, 0, 0), 0, 'a zero limit deletes nothing');

    t.same(await store.append([message(aged), message(both), message(bulk)]), [11, 6, 21], 'each sequence continues where it was');
    t.same(seqsOf(await all(aged)), [8, 9, 10, 11]);
    t.same(seqsOf(await all(both)), [6]);
  });

  t.test('a batch over several conversations: consecutive seqs per conversation, in input order, in one statement', async (t) => {
    const a = directConversationId('batch-ann', 'batch-bob');
    const b = groupConversationId('batch-guild');
    const c = directConversationId('batch-ann', 'batch:colon');
    const first = [message(a), message(b), message(a), message(c), message(b), message(a)];
    const { result, sent } = await counting(() => store.append(first));
    t.same(result, [1, 1, 2, 1, 2, 3]);
    t.ok(
      result.every((seq) => typeof seq === 'number'),
      'seqs are numbers, not bigints',
    );
    t.equal(sent.length, 1, 'one statement (one round trip) for the batch');
    t.same(await store.append([message(c), message(a)]), [2, 4], 'the next batch continues each sequence');
    t.same(
      (await all(a)).map((m) => [m.seq, m.id]),
      [
        [1, first[0]!.id],
        [2, first[2]!.id],
        [3, first[5]!.id],
        [4, `m${counter}`],
      ],
      'stored under the seqs returned',
    );
    t.same((await counting(() => store.append([]))).sent, [], 'an empty batch sends nothing');
  });

  t.test('2,000 messages over 50 conversations: one statement, every sequence 1..40', async (t) => {
    const conversations = Array.from({ length: 50 }, (_, i) => groupConversationId(`big-${i}`));
    const batch = Array.from({ length: 2000 }, (_, i) => message(conversations[(i * 7) % 50]!));
    const { result, sent } = await counting(() => store.append(batch));
    t.equal(sent.length, 1);
    const byConversation = new Map<string, number[]>();
    batch.forEach((m, i) => {
      const seqs = byConversation.get(m.conversationId) ?? [];
      seqs.push(result[i]!);
      byConversation.set(m.conversationId, seqs);
    });
    const expected = Array.from({ length: 40 }, (_, i) => i + 1);
    t.ok(
      [...byConversation.values()].every((seqs) => seqs.join() === expected.join()),
      'each conversation got 1..40 in input order',
    );
    t.same(
      (await all(conversations[3]!)).map((m) => m.id),
      batch.filter((m) => m.conversationId === conversations[3]).map((m) => m.id),
    );
  });

  t.test('a rejected batch stores nothing: the sequences of its other conversations do not move', async (t) => {
    const kept = groupConversationId('reject-aa');
    const broken = groupConversationId('reject-zz');
    t.same(await store.append([message(kept)]), [1]);
    // PostgreSQL text cannot hold NUL: the batch fails, its valid messages with it.
    await t.rejects(store.append([message(kept), message(kept), message(broken, { content: 'nul\u0000' })]));
    t.same(seqsOf(await all(kept)), [1]);
    t.same(await all(broken), []);
    t.same(await store.append([message(broken), message(kept)]), [1, 2], 'no seq was used up');
  });

  t.test('two writers (two nodes) appending to the same conversations at once: 1..N, no gap, no repeat, no deadlock', async (t) => {
    const shared = [groupConversationId('race-x'), groupConversationId('race-y'), directConversationId('race-a', 'race-b')];
    const writers = [store, new PrismaMessageStore(backend.second.prisma)];
    const BATCHES = 8;
    const PER_CONVERSATION = 5;
    const seqsByConversation = new Map<string, Array<{ seq: number; id: string }>>(shared.map((c) => [c, []]));
    let inconsecutive = 0;
    // Each writer runs three batches at a time; the two list the conversations in opposite orders.
    const lanes = writers.flatMap((writer, w) =>
      [0, 1, 2].map(async () => {
        for (let i = 0; i < BATCHES; i++) {
          const order = w === 0 ? shared : [...shared].reverse();
          const batch = order.flatMap((conversationId) => Array.from({ length: PER_CONVERSATION }, () => message(conversationId)));
          const seqs = await writer.append(batch);
          for (let k = 0; k < batch.length; k++) {
            seqsByConversation.get(batch[k]!.conversationId)!.push({ seq: seqs[k]!, id: batch[k]!.id });
            if (k % PER_CONVERSATION > 0 && seqs[k] !== seqs[k - 1]! + 1) inconsecutive++;
          }
        }
      }),
    );
    await Promise.all(lanes);
    t.equal(inconsecutive, 0, "a batch's messages of one conversation have consecutive seqs");
    const total = 2 * 3 * BATCHES * PER_CONVERSATION;
    for (const conversationId of shared) {
      const handed = seqsByConversation.get(conversationId)!.sort((p, q) => p.seq - q.seq);
      t.same(
        handed.map((h) => h.seq),
        Array.from({ length: total }, (_, i) => i + 1),
        `${conversationId}: the seqs handed out are 1..${total}`,
      );
      t.same(
        (await all(conversationId)).map((m) => [m.seq, m.id]),
        handed.map((h) => [h.seq, h.id]),
        `${conversationId}: stored under them`,
      );
    }
  });

  t.test('page: after, before, both, neither; always ascending', async (t) => {
    const c = groupConversationId('paging');
    await store.append(Array.from({ length: 10 }, () => message(c)));
    const page = async (query: { before?: number; after?: number; limit: number }) => seqsOf(await store.page(c, query));
    t.same(await page({ limit: 3 }), [8, 9, 10], 'neither: the newest');
    t.same(await page({ limit: 50 }), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 'neither, more than there are: all');
    t.same(await page({ after: 2, limit: 3 }), [3, 4, 5], 'after: the first after it');
    t.same(await page({ after: 8, limit: 5 }), [9, 10]);
    t.same(await page({ after: 10, limit: 5 }), [], 'after the last: nothing');
    t.same(await page({ before: 5, limit: 3 }), [2, 3, 4], 'before: the last before it');
    t.same(await page({ before: 3, limit: 5 }), [1, 2]);
    t.same(await page({ before: 1, limit: 5 }), []);
    t.same(await page({ before: 99, limit: 2 }), [9, 10]);
    t.same(await page({ after: 3, before: 8, limit: 10 }), [4, 5, 6, 7], 'both: within the range');
    t.same(await page({ after: 3, before: 8, limit: 2 }), [4, 5], 'both: the first of the range');
    t.same(await page({ after: 5, before: 6, limit: 2 }), []);
    t.same(await page({ limit: 0 }), []);
    t.same(await store.page(groupConversationId('paging-none'), { limit: 10 }), [], 'an unknown conversation: empty');
  });

  t.test('content, sender and time are stored exactly', async (t) => {
    const c = directConversationId('exact-a', 'exact-b');
    const contents = [
      '"plain"',
      JSON.stringify({ text: 'Grüße, 你好, مرحبا, 🎉👩‍👩‍👧 e\u0301 \u2028\u2029' }),
      JSON.stringify('it\'s "quoted" \\ back\\slash\nnew line\ttab'),
      JSON.stringify('\u0000 escaped NUL and a lone surrogate \ud800'),
      "'); DELETE FROM messages; --",
      JSON.stringify('x'.repeat(100_000)),
      '',
    ];
    const batch = contents.map((content, i) => message(c, { content, sender: i === 2 ? null : 'exact-a', sentAt: RECENT + i * 1001 }));
    await store.append(batch);
    t.strictSame(
      await all(c),
      batch.map((m, i) => ({ ...m, seq: i + 1 })),
    );
  });

  t.test('direct conversations record their participants; lastSeq of each conversation', async (t) => {
    const groups = new PrismaGroupStore(backend.db.prisma, 100);
    const withBob = directConversationId('pos-alice', 'pos-bob');
    const withColon = directConversationId('pos-alice', 'pos:colon');
    const withSelf = directConversationId('pos-alice', 'pos-alice');
    const upper = directConversationId('pos-alice', 'POS-upper');
    const quiet = groupConversationId('pos-quiet');
    const busy = groupConversationId('pos-busy');
    const notMine = groupConversationId('pos-not-mine');
    await groups.create({ id: 'pos-busy', name: 'busy', members: ['pos-alice', 'pos-bob'] });
    await groups.create({ id: 'pos-quiet', name: 'quiet', members: ['pos-alice'] });
    await store.append([message(withBob), message(busy), message(withColon), message(withBob), message(notMine), message(upper)]);
    await store.append([message(withBob), message(busy), message(busy), message(withSelf)]);

    t.same(
      await Promise.all([withBob, busy, quiet, withColon, withSelf, upper, notMine].map((c) => store.lastSeq(c))),
      [3, 3, 0, 1, 1, 1, 1],
      'a group without messages (or no such conversation) stands at 0',
    );
    t.equal(await store.lastSeq(directConversationId('pos-nobody', 'pos-none')), 0);

    const participants = await backend.db.prisma.$queryRawUnsafe<Array<{ user_id: string; conversation_id: string }>>(
      `SELECT user_id, conversation_id FROM conversation_participants WHERE conversation_id LIKE '%pos%' ORDER BY conversation_id COLLATE "C", user_id COLLATE "C"`,
    );
    t.same(
      participants.map((p) => [p.conversation_id, p.user_id]),
      [
        [upper, 'POS-upper'],
        [upper, 'pos-alice'],
        [withColon, 'pos-alice'],
        [withColon, 'pos:colon'],
        [withSelf, 'pos-alice'],
        [withBob, 'pos-alice'],
        [withBob, 'pos-bob'],
      ],
      'two rows per direct conversation (one for a user with themselves), none for groups',
    );
  });

  t.test('appendNumbered: messages stored under the seqs they carry, last_seq moves up, participants recorded', async (t) => {
    const c = directConversationId('num-alice', 'num-bob');
    const numbered = (seq: number, extra: Partial<NewMessage> = {}): StoredMessage => ({ ...message(c, extra), seq });
    const first = [numbered(1), numbered(2), numbered(3)];
    const { result, sent } = await counting(() => store.appendNumbered(first));
    t.same(result, [true, true, true]);
    t.equal(sent.length, 1, 'one statement when every row went in');
    t.equal(await store.lastSeq(c), 3);
    // Another node's batch with a lower seq commits later: last_seq does not go back.
    const late = [numbered(5)];
    t.same(await store.appendNumbered(late), [true]);
    const early = numbered(4);
    t.same(await store.appendNumbered([early]), [true]);
    t.equal(await store.lastSeq(c), 5, 'the highest seq, whatever the commit order');
    t.strictSame(await all(c), [...first, early, ...late], 'ascending by seq');
    const participants = await backend.db.prisma.$queryRawUnsafe<Array<{ user_id: string }>>(
      `SELECT user_id FROM conversation_participants WHERE conversation_id = $1 ORDER BY user_id`,
      c,
    );
    t.same(
      participants.map((p) => p.user_id),
      ['num-alice', 'num-bob'],
    );
    // The next append (the database numbering) continues after the highest.
    t.same(await store.append([message(c)]), [6]);
  });

  t.test('appendNumbered: a retried batch stores nothing twice; a seq held by another message is refused', async (t) => {
    const c = groupConversationId('num-retry');
    const a = { ...message(c), seq: 1 };
    const b = { ...message(c), seq: 2 };
    t.same(await store.appendNumbered([a, b]), [true, true]);
    const c3 = { ...message(c), seq: 3 };
    const intruder = { ...message(c), seq: 2 };
    const { result, sent } = await counting(() => store.appendNumbered([a, c3, intruder]));
    t.same(result, [true, true, false], 'a: already there (the same id); c3: stored; intruder: seq 2 holds b');
    t.equal(sent.length, 2, 'the holders of the seqs not inserted are read once');
    t.strictSame(await all(c), [a, b, c3], 'b kept; nothing doubled');
    t.equal(await store.lastSeq(c), 3);
  });

  t.test('appendNumbered: a rejected batch stores nothing and moves no last_seq', async (t) => {
    const c = groupConversationId('num-broken');
    t.same(await store.appendNumbered([{ ...message(c), seq: 1 }]), [true]);
    await t.rejects(
      store.appendNumbered([
        { ...message(c), seq: 2 },
        { ...message(c, { content: 'nul\u0000' }), seq: 3 },
      ]),
    );
    t.equal(await store.lastSeq(c), 1);
    t.same(seqsOf(await all(c)), [1]);
    t.same(await store.appendNumbered([]), []);
  });
}
