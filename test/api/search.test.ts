/**
 * GET /api/online/players?prefix=: the server-side search of the admin dashboard, with players
 * created by real WebSocket sessions, on the embedded defaults and on real Redis + PostgreSQL.
 * The prefix pages exactly the matching players (each once, in userId order, `total` = the
 * number of matches), combines with the node filter, refuses what no userId can start with, and
 * keeps the exactly-once rule while players inside and outside the range leave and arrive.
 */
import t from 'tap';
import { buildTestApp, eventually, TEST_ADMIN_TOKEN, type Backend } from '../helpers/build.ts';
import type { TestClient } from '../helpers/ws-client.ts';
import { page, pageAll, random, type Page } from './online-pages.ts';
import { call, connectPlayers, errorShape, terminateAll } from './http.ts';

const pad = (i: number) => String(i).padStart(3, '0');

const userIds = (pages: Page[]) => pages.flatMap((p) => p.players.map((player) => player.userId));

for (const backend of ['embedded', 'real'] as Backend[]) {
  t.test(`searching online players by userId prefix (${backend})`, async (t) => {
    // AUTH_MODE=none (?userId=) spares signing tokens; the admin token still guards the API.
    const h = await buildTestApp(t, backend, {
      AUTH_MODE: 'none',
      AUTH_JWT_SECRET: '',
      HEARTBEAT_TIMEOUT_MS: '600000',
      WS_PING_INTERVAL_MS: '600000',
    });
    if (!h) return;
    const url = (userId: string) => `${h.wsUrl}/ws?userId=${userId}`;
    // 'b-1xx' sit in the middle of the order: 'a-*' before, 'b-0xx', 'b-2xx' and 'c-*' around.
    const ids = ['a', 'b', 'c'].flatMap((letter) => Array.from({ length: 300 }, (_, i) => `${letter}-${pad(i)}`));
    const clients = await connectPlayers(url, ids);
    const extra = new Map<string, TestClient>();
    t.teardown(() => terminateAll([...clients.values(), ...extra.values()]));
    t.equal(h.app.gateway.connections.size, ids.length, `${ids.length} live sessions`);

    await t.test('a prefix pages exactly the matching players, total = matches', async (t) => {
      const expected = ids.filter((id) => id.startsWith('b-1'));
      const pages = await pageAll(h, 'limit=30&prefix=b-1');
      t.equal(pages.length, 4, '100 matches by 30: 4 pages');
      t.same(
        pages.map((p) => p.players.length),
        [30, 30, 30, 10],
      );
      t.same(userIds(pages), expected, 'each matching player exactly once, in userId order');
      t.ok(
        pages.every((p) => p.total === 100),
        'total is the number of matches on every page',
      );
      t.equal(pages.at(-1)!.nextCursor, undefined, 'the last page ends the run');
      t.match(pages[0]!.players[0], { userId: 'b-100', nodeId: h.config.NODE_ID, status: 'online', sessions: 1 });

      // Exactly a page of matches although players sort after them: no empty extra page.
      const exact = await pageAll(h, 'limit=100&prefix=b-1');
      t.equal(exact.length, 1, 'a full page that ends the range is the last');

      const end = await page(h, 'limit=10&prefix=c-29');
      t.same([end.total, end.nextCursor, userIds([end])], [10, undefined, ids.slice(-10)], 'the end of the index');
      t.match(await page(h, 'prefix=a-000'), { total: 1, players: [{ userId: 'a-000' }] }, 'a whole userId');
      t.same(await page(h, 'prefix=d'), { players: [], total: 0 }, 'no match: empty, no cursor');
      t.same(await page(h, 'prefix=B-1'), { players: [], total: 0 }, 'case-sensitive');
      const everyone = await page(h, 'limit=5&prefix=');
      t.equal(everyone.total, ids.length, 'the empty prefix means everyone');
      t.same(
        everyone.players.map((p) => p.userId),
        ids.slice(0, 5),
      );
    });

    await t.test('with the node filter, and the first page of the dashboard', async (t) => {
      t.same(
        userIds(await pageAll(h, `limit=40&prefix=b-1&nodeId=${h.config.NODE_ID}`)),
        ids.filter((id) => id.startsWith('b-1')),
      );
      const elsewhere = await pageAll(h, 'limit=40&prefix=b-1&nodeId=gw-nowhere');
      t.same(userIds(elsewhere), [], 'nobody of the prefix on another node');
      t.equal(elsewhere[0]!.total, 100, 'total is narrowed by the prefix, not by nodeId');
      // The first page of the unfiltered list (what the dashboard shows) does not hold b-150;
      // the prefix finds it.
      t.notOk(userIds([await page(h, 'limit=50')]).includes('b-150'), 'b-150 is not on the first page');
      t.same(
        userIds([await page(h, 'limit=50&prefix=b-15')]),
        ids.filter((id) => id.startsWith('b-15')),
      );
    });

    await t.test('a prefix no userId can start with: 400 naming the field', async (t) => {
      // Encoded: 'b 1', 'b/', 'ü', '*', '[b' (Redis range syntax), 65 characters.
      for (const prefix of ['b%201', 'b%2F', '%C3%BC', '*', '%5Bb', 'x'.repeat(65)]) {
        const r = await call(h, 'GET', `/api/online/players?prefix=${prefix}`, { token: TEST_ADMIN_TOKEN });
        t.equal(r.status, 400, prefix);
        t.match(r.body, errorShape(400, 'GW_VALIDATION'), prefix);
        t.match(r.body.message, /prefix/, `${prefix}: message names the field`);
      }
      const unauthorized = await call(h, 'GET', '/api/online/players?prefix=b');
      t.equal(unauthorized.status, 401, 'admin token still required');
    });

    await t.test('churn inside and outside the range: the always-online matches appear exactly once', async (t) => {
      const rand = random(backend === 'embedded' ? 3 : 4);
      // Even 'b-*' stay online throughout; odd 'b-*' and every 'a-*' / 'c-*' may leave;
      // newcomers sort inside the range (b-…) and on both sides of it.
      const alwaysOnline = ids.filter((id, i) => id.startsWith('b-') && i % 2 === 0);
      const leavers = ids.filter((id, i) => !id.startsWith('b-') || i % 2 === 1);
      const everMatching = new Set(ids.filter((id) => id.startsWith('b-')));
      let online = ids.length;
      let newcomer = 0;
      const churn = async () => {
        const leaving: TestClient[] = [];
        for (let k = 0; k < 8 && leavers.length > 0; k++) {
          const [userId] = leavers.splice(Math.floor(rand() * leavers.length), 1);
          leaving.push(clients.get(userId!)!);
          clients.delete(userId!);
        }
        const arriving = Array.from({ length: 8 }, () => `${'abc'[Math.floor(rand() * 3)]}-${pad(Math.floor(rand() * 300))}-n${newcomer++}`);
        for (const userId of arriving) if (userId.startsWith('b-')) everMatching.add(userId);
        await Promise.all(leaving.map((c) => c.close()));
        for (const [userId, client] of await connectPlayers(url, arriving)) extra.set(userId, client);
        online += arriving.length - leaving.length;
        // The leavers' logouts have landed in the store before the next page is read.
        await eventually(async () => (await h.app.presence.countOnline()) === online, 10_000);
      };
      const pages = await pageAll(h, 'limit=20&prefix=b-', churn);
      t.ok(pages.length >= 15, `${pages.length} pages, ${newcomer} arrivals and as many departures`);
      const seen = userIds(pages);
      const counts = new Map<string, number>();
      for (const id of seen) counts.set(id, (counts.get(id) ?? 0) + 1);
      t.same(
        alwaysOnline.filter((id) => counts.get(id) !== 1),
        [],
        'every always-online match exactly once',
      );
      t.same(
        [...counts].filter(([, n]) => n > 1),
        [],
        'nobody twice',
      );
      t.same(
        seen.filter((id) => !everMatching.has(id)),
        [],
        'only players whose userId starts with the prefix',
      );
      const matchingNow = [...clients.keys(), ...extra.keys()].filter((id) => id.startsWith('b-')).length;
      t.equal(pages.at(-1)!.total, matchingNow, 'total follows the churn within the prefix');
    });
  });
}
