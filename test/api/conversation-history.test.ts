/**
 * GET /api/conversations/:conversationId/messages on the embedded defaults and on real Redis +
 * PostgreSQL, over messages stored directly in the message store: the page's fields, paging
 * (newest, before, after, both, limit, hasMore) always in ascending seq, the limits (default 50,
 * HISTORY_PAGE_MAX, the content bytes of a page), who may read (the admin, the two users of a
 * direct conversation, the current members of a group; 404 for anyone else, like a missing
 * conversation), malformed ids, userIds with `:` (escaped `%3A` inside the id, URL-encoded in the
 * path) and a database failure.
 */
import t from 'tap';
import { directConversationId } from '../../src/protocol/conversation-ids.ts';
import type { NewMessage } from '../../src/chat/message-store.ts';
import { buildTestApp, TEST_ADMIN_TOKEN, type Backend, type TestApp } from '../helpers/build.ts';
import { call, errorShape, type Answer } from './http.ts';

const ADMIN = TEST_ADMIN_TOKEN;
const PAGE_MAX = 60;
const T0 = 1_763_800_000_000;

interface HistoryMessage {
  seq: number;
  id: string;
  from?: string;
  content: unknown;
  ts: number;
}
interface Page {
  conversationId: string;
  messages: HistoryMessage[];
  hasMore: boolean;
}

const path = (conversationId: string, query = '') => `/api/conversations/${encodeURIComponent(conversationId)}/messages${query}`;
const history = <T = Page>(h: TestApp, conversationId: string, token: string | undefined, query = ''): Promise<Answer<T>> =>
  call<T>(h, 'GET', path(conversationId, query), token === undefined ? {} : { token });
/** The seqs of a page, and whether it has more. */
async function seqs(h: TestApp, conversationId: string, query: string): Promise<[number[], boolean]> {
  const res = await history(h, conversationId, ADMIN, query);
  if (res.status !== 200) throw new Error(`${query}: ${res.status} ${JSON.stringify(res.body)}`);
  return [res.body.messages.map((m) => m.seq), res.body.hasMore];
}

/** `count` messages of a conversation, sent a second apart; `content(i)` is the value sent. */
function messages(conversationId: string, count: number, sender: (i: number) => string | null, content: (i: number) => unknown): NewMessage[] {
  return Array.from({ length: count }, (_, i) => ({
    conversationId,
    id: `${conversationId}#${i + 1}`,
    sender: sender(i),
    content: JSON.stringify(content(i)),
    sentAt: T0 + i * 1000,
  }));
}

/** Two userIds of 64 characters, mostly `:`: their conversation id is 384 characters long. */
const COLONS_X = `${':'.repeat(63)}x`;
const COLONS_Y = `${':'.repeat(63)}y`;

const GUILD_CONTENT = [{ text: 'gg' }, 'plain text', 42, { event: 'server notice' }, null, [1, 'two'], { nested: { deep: true } }];

for (const backend of ['embedded', 'real'] as Backend[]) {
  t.test(`conversation history API (${backend})`, async (t) => {
    const h = await buildTestApp(t, backend, { HISTORY_PAGE_MAX: String(PAGE_MAX) });
    if (!h) return;
    for (const [id, members] of [
      ['guild', ['alice', 'bob']],
      ['long', ['alice']],
      ['bulky', ['alice']],
    ] as const) {
      t.ok('created' in (await h.app.groups.create({ id, name: id, members })), `group ${id}`);
    }
    // The 4th guild message is the server's (no sender).
    const guild = messages(
      'group:guild',
      7,
      (i) => (i === 3 ? null : i % 2 ? 'bob' : 'alice'),
      (i) => GUILD_CONTENT[i],
    );
    // dm:a:b:c could be either of them: the escape tells them apart.
    const dmColonA = directConversationId('a:b', 'c');
    const dmColonB = directConversationId('a', 'b:c');
    const dmLongest = directConversationId(COLONS_Y, COLONS_X);
    await h.app.messageStore.append([
      ...guild,
      ...messages(
        dmColonA,
        2,
        (i) => (i ? 'c' : 'a:b'),
        (i) => `a:b and c #${i + 1}`,
      ),
      ...messages(
        dmColonB,
        1,
        () => 'a',
        () => 'a and b:c',
      ),
      ...messages(
        dmLongest,
        1,
        () => COLONS_X,
        () => 'long ids',
      ),
      ...messages(
        'group:long',
        60,
        () => 'alice',
        (i) => i + 1,
      ),
      // 100,002 bytes of JSON text each: two fit a page (256 KiB of content), three do not.
      ...messages(
        'group:bulky',
        4,
        () => 'alice',
        (i) => String(i + 1).repeat(100_000),
      ),
    ]);

    await t.test('a page: every field, ascending seq, the content as the value sent', async (t) => {
      const res = await history(h, 'group:guild', ADMIN);
      t.equal(res.status, 200);
      t.same(res.body, {
        conversationId: 'group:guild',
        messages: guild.map((m, i) => ({
          seq: i + 1,
          id: m.id,
          ...(m.sender === null ? {} : { from: m.sender }),
          content: GUILD_CONTENT[i],
          ts: m.sentAt,
        })),
        hasMore: false,
      });
      t.notOk('from' in res.body.messages[3]!, 'a server message has no from');
      t.equal(res.body.messages[4]!.content, null, 'null content is a value too');
    });

    await t.test('paging: newest, before, after, both, limit; hasMore on the side paged from', async (t) => {
      const cases: Array<[string, number[], boolean]> = [
        ['?limit=3', [5, 6, 7], true],
        ['?before=5&limit=3', [2, 3, 4], true],
        ['?before=3&limit=3', [1, 2], false],
        ['?before=4&limit=3', [1, 2, 3], false],
        ['?before=1', [], false],
        ['?after=0&limit=2', [1, 2], true],
        ['?after=4&limit=2', [5, 6], true],
        ['?after=5&limit=2', [6, 7], false],
        ['?after=5', [6, 7], false],
        ['?after=7', [], false],
        ['?after=2&before=6', [3, 4, 5], false],
        ['?after=2&before=7&limit=2', [3, 4], true],
        ['?after=5&before=5', [], false],
        ['?limit=7', [1, 2, 3, 4, 5, 6, 7], false],
        ['?before=100&limit=1', [7], true],
      ];
      for (const [query, expected, hasMore] of cases) t.same(await seqs(h, 'group:guild', query), [expected, hasMore], query);

      // Following hasMore back from the newest page visits every message once.
      const seen: number[] = [];
      let query = '?limit=2';
      for (let pages = 0; pages < 10; pages++) {
        const [page, more] = await seqs(h, 'group:guild', query);
        seen.unshift(...page);
        if (!more) break;
        query = `?limit=2&before=${page[0]}`;
      }
      t.same(seen, [1, 2, 3, 4, 5, 6, 7], 'paging back');
    });

    await t.test('limits: default 50, at most HISTORY_PAGE_MAX, at most 256 KiB of content', async (t) => {
      const all = Array.from({ length: 60 }, (_, i) => i + 1);
      t.same(await seqs(h, 'group:long', ''), [all.slice(10), true], 'default: the newest 50');
      t.same(await seqs(h, 'group:long', '?after=0'), [all.slice(0, 50), true], 'default with after: the oldest 50');
      t.same(await seqs(h, 'group:long', `?limit=${PAGE_MAX}`), [all, false], 'limit = HISTORY_PAGE_MAX');
      const over = await history<{ message: string }>(h, 'group:long', ADMIN, `?limit=${PAGE_MAX + 1}`);
      t.match(over, { status: 400, body: errorShape(400, 'GW_VALIDATION') }, 'limit over HISTORY_PAGE_MAX');
      t.match(over.body.message, /limit.*60/, 'names the field and the bound');

      t.same(await seqs(h, 'group:bulky', ''), [[3, 4], true], 'the newest page keeps the newest whole messages');
      t.same(await seqs(h, 'group:bulky', '?before=3'), [[1, 2], false]);
      t.same(await seqs(h, 'group:bulky', '?after=0'), [[1, 2], true], 'an after page keeps the oldest');
      t.same(await seqs(h, 'group:bulky', '?after=2'), [[3, 4], false]);
      t.same(await seqs(h, 'group:bulky', '?after=0&limit=1'), [[1], true], 'a single message always fits');
    });

    await t.test('validation: 400 naming the field, or GW_BAD_CONVERSATION', async (t) => {
      for (const query of ['?limit=0', '?limit=1001', '?limit=x', '?before=-1', '?after=-1', '?after=1.5', '?before=abc']) {
        const field = query.slice(1, query.indexOf('='));
        const res = await history<{ message: string }>(h, 'group:guild', ADMIN, query);
        t.match(res, { status: 400, body: errorShape(400, 'GW_VALIDATION') }, query);
        t.match(res.body.message, field, `${query}: names the field`);
      }
      const malformed = [
        'guild',
        'group:',
        'group:bad id',
        `group:${'g'.repeat(65)}`,
        'dm:alice',
        'dm:bob:alice',
        'dm:alice:bob:carol',
        'dm:a%3Ab',
        'room:lobby',
        'dm:a:b:c',
      ];
      for (const id of malformed) {
        t.match(await history(h, id, ADMIN), { status: 400, body: errorShape(400, 'GW_BAD_CONVERSATION') }, `${id} (admin)`);
        t.match(await history(h, id, h.token('alice')), { status: 400, body: errorShape(400, 'GW_BAD_CONVERSATION') }, `${id} (player)`);
      }
    });

    await t.test('who may read: the admin, the participants; 404 for anyone else', async (t) => {
      t.match(await history(h, 'group:guild', undefined), { status: 401, body: errorShape(401, 'GW_UNAUTHORIZED') }, 'no token');
      t.match(await history(h, 'group:guild', 'not-a-token'), { status: 401, body: errorShape(401, 'GW_UNAUTHORIZED') }, 'bad token');

      for (const member of ['alice', 'bob']) {
        t.match(
          await history(h, 'group:guild', h.token(member), '?limit=2'),
          { status: 200, body: { messages: [{ seq: 6 }, { seq: 7 }] } },
          `member ${member}`,
        );
      }
      const unknown = { status: 404, body: errorShape(404, 'GW_UNKNOWN_CONVERSATION') };
      const carol = h.token('carol');
      t.match(await history(h, 'group:guild', carol), unknown, 'not a member');
      t.match(await history(h, 'group:no-such-group', carol), unknown, 'no such group: the same 404');
      t.match(await history(h, directConversationId('alice', 'bob'), carol), unknown, "someone else's direct conversation");
      t.match(
        await history(h, directConversationId('alice', 'bob'), h.token('bob')),
        { status: 200, body: { conversationId: 'dm:alice:bob', messages: [], hasMore: false } },
        'own, nothing stored yet',
      );
      t.match(await history(h, 'group:no-such-group', ADMIN), { status: 200, body: { messages: [], hasMore: false } }, 'the admin reads any conversation');

      t.equal(await h.app.groups.removeMember('guild', 'bob'), 'removed');
      t.match(await history(h, 'group:guild', h.token('bob')), unknown, 'a former member');
      t.equal(await h.app.groups.addMember('guild', 'carol'), 'added');
      t.match(
        await history(h, 'group:guild', carol, '?after=0&limit=1'),
        { status: 200, body: { messages: [{ seq: 1 }] } },
        'a new member reads the whole history',
      );
    });

    await t.test('userIds with ":": escaped inside the id, URL-encoded in the path', async (t) => {
      t.equal(dmColonA, 'dm:a%3Ab:c');
      t.equal(dmColonB, 'dm:a:b%3Ac');
      const colonA = {
        status: 200,
        body: {
          conversationId: 'dm:a%3Ab:c',
          messages: [
            { seq: 1, from: 'a:b', content: 'a:b and c #1' },
            { seq: 2, from: 'c' },
          ],
        },
      };
      const colonB = { status: 200, body: { conversationId: 'dm:a:b%3Ac', messages: [{ seq: 1, from: 'a', content: 'a and b:c' }] } };
      t.match(await history(h, dmColonA, h.token('a:b')), colonA, 'a:b reads (a:b, c)');
      t.match(await history(h, dmColonA, h.token('c')), colonA, 'c reads (a:b, c)');
      t.match(await history(h, dmColonB, h.token('a')), colonB, 'a reads (a, b:c)');
      t.match(await history(h, dmColonB, h.token('b:c')), colonB, 'b:c reads (a, b:c)');
      for (const [userId, id] of [
        ['a', dmColonA],
        ['b', dmColonA],
        ['b:c', dmColonA],
        ['a:b', dmColonB],
        ['c', dmColonB],
        ['b', dmColonB],
      ] as const) {
        t.match(await history(h, id, h.token(userId)), { status: 404, body: errorShape(404, 'GW_UNKNOWN_CONVERSATION') }, `${userId} may not read ${id}`);
      }
      const raw = await call(h, 'GET', '/api/conversations/dm:a%3Ab:c/messages', { token: ADMIN });
      t.match(raw, { status: 400, body: errorShape(400, 'GW_BAD_CONVERSATION') }, 'a %3A left unencoded in the path is decoded: not that conversation');

      t.equal(dmLongest.length, 384);
      t.match(
        await history(h, dmLongest, ADMIN),
        { status: 200, body: { conversationId: dmLongest, messages: [{ seq: 1, from: COLONS_X, content: 'long ids' }] } },
        'the longest ids',
      );
      t.match(await history(h, dmLongest, h.token(COLONS_Y)), { status: 200, body: { messages: [{ seq: 1 }] } }, 'read by a participant');
    });

    await t.test('a database failure is a 503 without internals', async (t) => {
      const store = h.app.messageStore;
      const own = Object.getOwnPropertyDescriptor(store, 'page');
      store.page = () => Promise.reject(new Error('connection refused at 10.0.0.7:5432'));
      t.teardown(() => {
        if (own) Object.defineProperty(store, 'page', own);
        else delete (store as Partial<typeof store>).page;
      });
      const res = await history(h, 'group:guild', ADMIN);
      t.match(res, { status: 503, body: errorShape(503, 'GW_UNAVAILABLE') });
      t.notMatch(JSON.stringify(res.body), /10\.0\.0\.7|refused/, 'no internals');
      t.ok(res.headers['retry-after'], 'Retry-After');
    });
  });
}

t.test('the default page is HISTORY_PAGE_MAX when that is under 50', async (t) => {
  const h = await buildTestApp(t, 'embedded', { HISTORY_PAGE_MAX: '3' });
  if (!h) return;
  await h.app.messageStore.append(
    messages(
      directConversationId('alice', 'bob'),
      5,
      () => 'alice',
      (i) => i,
    ),
  );
  t.same(await seqs(h, 'dm:alice:bob', ''), [[3, 4, 5], true]);
  t.match(await history(h, 'dm:alice:bob', ADMIN, '?limit=4'), { status: 400, body: errorShape(400, 'GW_VALIDATION') }, 'over HISTORY_PAGE_MAX');
});
