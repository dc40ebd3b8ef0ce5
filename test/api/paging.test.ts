/**
 * GET /api/online/players pages through 2,500 players created by real WebSocket sessions,
 * 100 at a time, returning each exactly once, on the embedded defaults and on real Redis +
 * PostgreSQL; and stays exact under churn: while paging, players leave and new ones arrive on
 * both sides of the cursor, and every player online for the whole run appears exactly once.
 */
import t from 'tap';
import { buildTestApp, eventually, TEST_ADMIN_TOKEN, type Backend, type TestApp } from '../helpers/build.ts';
import type { TestClient } from '../helpers/ws-client.ts';
import { call, connectPlayers, terminateAll } from './http.ts';

const PLAYERS = 2500;
const LIMIT = 100;
/** Players leaving and arriving after each page of the churn run. */
const CHURN_PER_PAGE = 20;

interface Page {
  players: Array<{ userId: string; username: string; nodeId: string; sessions: number; connectedAt: number; lastHeartbeat: number }>;
  nextCursor?: string;
  total: number;
}

const id = (i: number) => `p-${String(i).padStart(4, '0')}`;

async function page(h: TestApp, query: string): Promise<Page> {
  const r = await call<Page>(h, 'GET', `/api/online/players?${query}`, { token: TEST_ADMIN_TOKEN });
  if (r.status !== 200) throw new Error(`HTTP ${r.status}: ${JSON.stringify(r.body)}`);
  return r.body;
}

/** Every page of a paging run; `between` runs after each page (churn). */
async function pageAll(h: TestApp, query: string, between?: () => Promise<void>): Promise<Page[]> {
  const pages: Page[] = [];
  let cursor: string | undefined;
  do {
    const p = await page(h, `${query}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    pages.push(p);
    cursor = p.nextCursor;
    if (cursor && between) await between();
    if (pages.length > 1000) throw new Error('paging does not end');
  } while (cursor);
  return pages;
}

/** userId -> times seen. */
function occurrences(pages: Page[]): Map<string, number> {
  const seen = new Map<string, number>();
  for (const p of pages) for (const player of p.players) seen.set(player.userId, (seen.get(player.userId) ?? 0) + 1);
  return seen;
}

/** A small deterministic PRNG, so a failing churn run can be replayed. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
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
      t.ok(pages.every((p) => p.players.length === LIMIT), `every page holds ${LIMIT}`);
      t.ok(pages.every((p) => p.total === PLAYERS), 'total on every page');
      const seen = occurrences(pages);
      t.equal(seen.size, PLAYERS, 'every player');
      t.ok([...seen.values()].every((n) => n === 1), 'exactly once');
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
      t.ok([...seen.values()].every((n) => n === 1), 'exactly once');
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
        await eventually(async () => (await h.app.onlineStore.countOnline()) === online, 10_000);
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
