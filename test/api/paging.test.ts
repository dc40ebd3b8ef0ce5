/**
 * GET /api/online/players pages through 2,500 players created by real WebSocket sessions,
 * 100 at a time, returning each exactly once, on the embedded defaults and on real Redis +
 * PostgreSQL; and stays exact under churn: while paging, players leave and new ones arrive on
 * both sides of the cursor, and every player online for the whole run appears exactly once.
 */
import t from 'tap';
import { buildTestApp, eventually, type Backend } from '../helpers/build.ts';
import type { TestClient } from '../helpers/ws-client.ts';
import { page, pageAll, random, type Page } from './online-pages.ts';
import { connectPlayers, terminateAll } from './http.ts';

const PLAYERS = 2500;
const LIMIT = 100;
/** Players leaving and arriving after each page of the churn run. */
const CHURN_PER_PAGE = 20;

const id = (i: number) => `p-${String(i).padStart(4, '0')}`;

/** userId -> times seen. */
function occurrences(pages: Page[]): Map<string, number> {
  const seen = new Map<string, number>();
  for (const p of pages) for (const player of p.players) seen.set(player.userId, (seen.get(player.userId) ?? 0) + 1);
  return seen;
}

for (const backend of ['embedded', 'real'] as Backend[]) {
  t.test(`paging 2,500 online players (${backend})`, async (t) => {
    // AUTH_MODE=none (?userId=) spares signing 2,500 tokens; the admin token still guards the API.
    const h = await buildTestApp(t, backend, {
      AUTH_MODE: 'none',
      AUTH_JWT_SECRET: '',
      HEARTBEAT_TIMEOUT_MS: '600000',
      WS_PING_INTERVAL_MS: '600000',
    });
    if (!h) return;
    const url = (userId: string) => `${h.wsUrl}/ws?userId=${userId}`;
    const ids = Array.from({ length: PLAYERS }, (_, i) => id(i));
    const clients = await connectPlayers(url, ids);
    const extra = new Map<string, TestClient>();
    t.teardown(async () => {
      await terminateAll([...clients.values(), ...extra.values()]);
    });
    t.equal(h.app.gateway.connections.size, PLAYERS, `${PLAYERS} live sessions`);

    await t.test(`limit ${LIMIT}: every player exactly once`, async (t) => {
      const pages = await pageAll(h, `limit=${LIMIT}`);
      t.equal(pages.length, PLAYERS / LIMIT, `${PLAYERS / LIMIT} pages`);
      t.ok(
        pages.every((p) => p.players.length === LIMIT),
        `every page holds ${LIMIT}`,
      );
      t.ok(
        pages.every((p) => p.total === PLAYERS),
        'total on every page',
      );
      const seen = occurrences(pages);
      t.equal(seen.size, PLAYERS, 'every player');
      t.ok(
        [...seen.values()].every((n) => n === 1),
        'exactly once',
      );
      t.same([...seen.keys()], ids, 'in userId order');
      const first = pages[0]!.players[0]!;
      t.match(first, { userId: 'p-0000', username: 'p-0000', nodeId: h.config.NODE_ID, sessions: 1 });
    });

    await t.test('default limit and the node filter', async (t) => {
      const first = await page(h, '');
      t.equal(first.players.length, 100, 'default limit 100');
      const pages = await pageAll(h, `limit=1000&nodeId=${h.config.NODE_ID}`);
      const seen = occurrences(pages);
      t.equal(seen.size, PLAYERS, 'every player of this node');
      t.ok(
        [...seen.values()].every((n) => n === 1),
        'exactly once',
      );
      const none = await pageAll(h, 'limit=1000&nodeId=gw-nowhere');
      t.equal(occurrences(none).size, 0, 'nobody on another node');
    });

    await t.test('churn while paging: the always-online players appear exactly once', async (t) => {
      const rand = random(backend === 'embedded' ? 1 : 2);
      // Even players stay online throughout; odd ones may leave; newcomers sort in between.
      const alwaysOnline = ids.filter((_, i) => i % 2 === 0);
      const leavers = ids.filter((_, i) => i % 2 === 1);
      const everOnline = new Set(ids);
      let online = PLAYERS;
      let newcomer = 0;
      const churn = async () => {
        const leaving: TestClient[] = [];
        for (let k = 0; k < CHURN_PER_PAGE && leavers.length > 0; k++) {
          const [userId] = leavers.splice(Math.floor(rand() * leavers.length), 1);
          leaving.push(clients.get(userId!)!);
          clients.delete(userId!);
        }
        const arriving = Array.from({ length: CHURN_PER_PAGE }, () => `${id(Math.floor(rand() * PLAYERS))}-n${newcomer++}`);
        for (const userId of arriving) everOnline.add(userId);
        await Promise.all(leaving.map((c) => c.close()));
        for (const [userId, client] of await connectPlayers(url, arriving)) extra.set(userId, client);
        online += arriving.length - leaving.length;
        // The leavers' logouts have landed in the store before the next page is read.
        await eventually(async () => (await h.app.presence.countOnline()) === online, 10_000);
      };
      const pages = await pageAll(h, `limit=${LIMIT}`, churn);
      const seen = occurrences(pages);
      t.ok(pages.length >= PLAYERS / LIMIT, `${pages.length} pages`);
      t.ok(newcomer >= CHURN_PER_PAGE * 20, `${newcomer} players arrived and as many left while paging`);
      const missing = alwaysOnline.filter((u) => seen.get(u) !== 1);
      t.same(missing, [], 'every always-online player exactly once');
      const twice = [...seen].filter(([, n]) => n > 1).map(([u]) => u);
      t.same(twice, [], 'nobody twice');
      const strangers = [...seen.keys()].filter((u) => !everOnline.has(u));
      t.same(strangers, [], 'only players who were online during the run');
      t.equal(pages.at(-1)!.total, online, 'total follows the churn');
    });
  });
}
