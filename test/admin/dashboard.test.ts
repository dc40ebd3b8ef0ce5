/**
 * The admin dashboard and Swagger UI in a real headless Chromium (Debian's /usr/bin/chromium,
 * driven by playwright-core; nothing is downloaded): sign in with the admin token, see players
 * connected by real WebSocket bots appear (and one that connects later, by auto-refresh), the
 * nodes, the chart and a room a bot joined, search by userId prefix (on the server: a player
 * beyond the first page is found), click "Log out" and see that bot closed with 4002; show a
 * persistent group (made on the server) with its members and the 20 most recent of the messages
 * real bots sent to it (HTML in them shown as text), an unknown group, an empty conversation and
 * a database down, and the groups of a player whose userId is clicked.
 * Screenshots go to test-output/.
 * Without Chromium the suite is skipped loudly, or fails with REQUIRE_SERVICES=1 (CI).
 */
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { chromium, type Browser, type Page } from 'playwright-core';
import { CloseCode } from '../../src/protocol/close-codes.ts';
import { buildTestApp, TEST_ADMIN_TOKEN, type TestApp } from '../helpers/build.ts';
import { TestClient } from '../helpers/ws-client.ts';

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-quic',
  '--no-first-run',
  '--disable-component-update',
  '--disable-sync',
];
const OUTPUT = fileURLToPath(new URL('../../test-output/', import.meta.url));
export const SCREENSHOT = `${OUTPUT}admin-dashboard.png`;
export const GROUPS_SCREENSHOT = `${OUTPUT}admin-groups.png`;
/** What the groups panel shows of a long content (CONTENT_SHOWN in dashboard.js). */
const CONTENT_SHOWN = 140;

async function bot(h: TestApp, userId: string, name: string): Promise<TestClient> {
  const { client } = await TestClient.open(`${h.wsUrl}/ws?token=${h.token(userId, { name })}`);
  client.startPing(1000);
  return client;
}

const row = (page: Page, userId: string) => page.locator(`#players-table tbody tr[data-user-id="${userId}"]`);
const member = (page: Page, userId: string) => page.locator(`#group ul.members li[data-user-id="${userId}"]`);

/** Types a group id into the groups panel and shows it; resolves once the panel is in `state`. */
async function showGroup(page: Page, groupId: string, state: string): Promise<void> {
  await page.fill('#group-input', groupId);
  await page.click('#group-show');
  await page.locator(`#group[data-state="${state}"]`).waitFor({ state: 'attached' });
}

t.test('admin dashboard in headless Chromium', async (t) => {
  if (!existsSync(CHROMIUM)) {
    const message = `Chromium not found at ${CHROMIUM} (apt-get install -y chromium)`;
    if (process.env.REQUIRE_SERVICES === '1') {
      t.fail(`REQUIRE_SERVICES=1 and ${message}`);
    } else {
      process.stderr.write(`\n*** SKIPPED: ${message}: browser suite skipped. Set REQUIRE_SERVICES=1 to fail instead. ***\n`);
      t.plan(0, `${message}: suite skipped`);
    }
    return;
  }
  mkdirSync(OUTPUT, { recursive: true });
  const h = await buildTestApp(t, 'embedded', { HEARTBEAT_TIMEOUT_MS: '60000', STATS_HISTORY_INTERVAL_MS: '250' });
  if (!h) return;
  const bots = new Map<string, TestClient>();
  t.teardown(() => Promise.all([...bots.values()].map((c) => c.terminate())));
  // An hour of earlier samples, as a node that has been running would have: the chart then
  // draws a real series (the sampler adds the live points after them).
  const now = Date.now();
  for (let i = 60; i >= 1; i--) {
    const online = Math.round(40 + 25 * Math.sin(i / 9) + i / 3);
    h.app.statsHistory.add({ t: now - i * 60_000, connections: Math.round(online * 0.55), onlineUsers: i === 17 ? null : online });
  }
  // Groups exist before their members log in: a session enters its groups' rooms at login.
  // The name is HTML, to be shown as text.
  const GUILD = 'dash-guild';
  const GUILD_NAME = 'Night <b>Watch</b>';
  t.ok('created' in (await h.app.groups.create({ id: GUILD, name: GUILD_NAME, members: ['bot-charlie', 'zed-away', 'bot-alpha'] })), `${GUILD} created`);
  t.ok('created' in (await h.app.groups.create({ id: 'quiet-room', name: 'Quiet room', members: ['bot-alpha', 'bot-bravo'] })), 'quiet-room created');
  bots.set('bot-alpha', await bot(h, 'bot-alpha', 'Alpha'));
  bots.set('bot-bravo', await bot(h, 'bot-bravo', 'Bravo'));

  const browser: Browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true, timeout: 60_000 });
  t.teardown(() => browser.close());
  const context = await browser.newContext({ viewport: { width: 1360, height: 1000 } });
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  const problems: string[] = [];
  /** Failed answers a subtest provokes on purpose (an unknown group, a database down): `status of N` at a path. */
  const provoked: Array<{ status: number; path: string }> = [];
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    // Chromium logs every 4xx answer itself: the 401 of the wrong token below is expected, and
    // so is the 404 of the favicon it asks for on its own, and the answers the groups subtests
    // provoke; anything else (a 404 of an API route the dashboard calls included) is not.
    if (message.type() !== 'error') return;
    const url = message.location().url;
    const text = message.text();
    const expected =
      /Failed to load resource: .*status of 401/.test(text) ||
      (/status of 404/.test(text) && /\/favicon\.ico$/.test(url)) ||
      provoked.some(({ status, path }) => text.includes(`status of ${status}`) && new URL(url).pathname === path);
    if (!expected) problems.push(`console: ${text} (${url})`);
  });
  // The only dialog the page may open is the logout confirm (accepted by the tests): an alert
  // would be a message content run as code.
  page.on('dialog', (dialog) => {
    if (dialog.type() === 'confirm') return;
    problems.push(`dialog: ${dialog.type()} ${dialog.message()}`);
    void dialog.dismiss();
  });
  /** Paths of the group API the page asked for. */
  const groupRequests: string[] = [];
  page.on('request', (request) => {
    const { pathname } = new URL(request.url());
    if (pathname.startsWith('/api/groups/') || pathname.startsWith('/api/conversations/')) groupRequests.push(pathname);
  });

  await t.test('/docs: Swagger UI renders the document', async (t) => {
    await page.goto(`${h.baseUrl}/docs`);
    await page.locator('.swagger-ui .info .title').filter({ hasText: 'Gatehouse' }).waitFor();
    for (const path of ['/metrics', '/api/nodes', '/api/stats/history', '/api/online/players']) {
      await page.locator(`.opblock-summary-path[data-path="${path}"]`).first().waitFor();
      t.pass(`${path} listed`);
    }
    t.equal(await page.locator('.opblock-summary-path[data-path^="/admin"]').count(), 0, 'the dashboard files are not in the API document');
    await page.screenshot({ path: `${OUTPUT}docs.png` });
  });

  await t.test('sign in: a wrong token is refused, the admin token opens the dashboard', async (t) => {
    await page.goto(`${h.baseUrl}/admin`);
    await page.locator('#login-form').waitFor();
    t.ok(await page.locator('#dashboard-view').isHidden(), 'dashboard hidden before sign-in');
    await page.fill('#token-input', 'not-the-admin-token-000');
    await page.click('#sign-in');
    await page.locator('#login-error').filter({ hasText: 'not the admin token' }).waitFor();
    t.pass('wrong token refused');
    await page.fill('#token-input', TEST_ADMIN_TOKEN);
    await page.click('#sign-in');
    await page.locator('#dashboard-view').waitFor({ state: 'visible' });
    t.equal(await page.evaluate(() => sessionStorage.getItem('gatehouse.adminToken')), TEST_ADMIN_TOKEN, 'token kept in sessionStorage');
    t.equal(await page.evaluate(() => localStorage.length), 0, 'nothing in localStorage');
  });

  await t.test('players of the bots appear; a later one by auto-refresh', async (t) => {
    await row(page, 'bot-alpha').waitFor();
    await row(page, 'bot-bravo').waitFor();
    t.match(await row(page, 'bot-alpha').innerText(), /bot-alpha\s+Alpha\s+online\s+\S+\s+1\s/);
    bots.set('bot-charlie', await bot(h, 'bot-charlie', 'Charlie'));
    await row(page, 'bot-charlie').waitFor({ timeout: 6000 });
    t.pass('bot-charlie appeared without a reload');
    await page.locator('#stat-online').filter({ hasText: /^3$/ }).waitFor();
    await page.locator('#stat-connections').filter({ hasText: /^3$/ }).waitFor();
    t.pass('counts: 3 online, 3 connections');
  });

  await t.test('nodes, chart and rooms panels', async (t) => {
    const nodeRow = page.locator(`#nodes-table tbody tr[data-node-id="${h.config.NODE_ID}"]`);
    await nodeRow.waitFor();
    t.match(await nodeRow.innerText(), /this node[\s\S]*alive/);
    await page.locator('#chart svg path.line-online').waitFor({ state: 'attached' });
    t.pass('chart drawn');
    // Rooms made by real bots: the panel must list them (a missing /api/rooms is a failure).
    for (const name of ['bot-alpha', 'bot-charlie']) {
      bots.get(name)!.send({ type: 'join', room: 'lobby' });
      t.match(await bots.get(name)!.next('joined'), { type: 'joined', room: 'lobby' }, `${name} joined the lobby`);
    }
    const lobby = page.locator('#rooms tr[data-room="lobby"]');
    await lobby.waitFor();
    t.match(await lobby.innerText(), new RegExp(`^lobby\\s+2\\s+2\\s+${h.config.NODE_ID}: 2$`), 'lobby: 2 members, both on this node');
    t.notMatch(await page.locator('#rooms').innerText(), /not available|could not be loaded/, 'no fallback message');
  });

  await t.test('groups panel: a group, its members and its 20 most recent messages, sent by real bots', async (t) => {
    // 22 lines, then HTML, a JSON object and a long text from the bots, then a server message:
    // 26 stored, the panel shows the newest 20 (seq 7 to 26), oldest first.
    const XSS = '<img src=x onerror=alert(1)>';
    const LONG = `${'A long story, '.repeat(30)}the end.`;
    const frames: Array<{ from: string; content: unknown }> = [];
    for (let i = 1; i <= 22; i++) frames.push({ from: i % 2 ? 'bot-alpha' : 'bot-charlie', content: `line ${i}` });
    frames.push({ from: 'bot-charlie', content: XSS }, { from: 'bot-alpha', content: { text: 'gg', score: 3 } }, { from: 'bot-charlie', content: LONG });
    const seqs: unknown[] = [];
    for (const [i, { from, content }] of frames.entries()) {
      const client = bots.get(from)!;
      client.send({ type: 'group', group: GUILD, content, id: `g-${i + 1}` });
      const ack = await client.next('ack', 5000, (f) => f.id === `g-${i + 1}`);
      t.equal(ack.status, 'stored', `g-${i + 1} stored`);
      seqs.push(ack.seq);
    }
    t.same(
      seqs,
      frames.map((_, i) => i + 1),
      'the bots messages are seq 1 to 25',
    );
    await h.app.messageStore.append([
      { conversationId: `group:${GUILD}`, id: randomUUID(), sender: null, content: JSON.stringify('Server restart at 18:00'), sentAt: Date.now() },
    ]);

    await showGroup(page, GUILD, 'group');
    t.equal(await page.locator('#group .group-name').textContent(), GUILD_NAME, 'the name, as text');
    t.equal(await page.locator('#group .group-id').textContent(), GUILD);
    t.match(await page.locator('#group .group-head').innerText(), /created \S/, 'the creation time');
    t.equal(await page.locator('#group b').count(), 0, 'no element made of the name');
    t.match(await page.locator('#group .group-members h3').innerText(), /^Members \(3\)$/);
    t.same(
      await page.locator('#group ul.members li').evaluateAll((items) => items.map((li) => (li as HTMLElement).dataset.userId)),
      ['bot-alpha', 'bot-charlie', 'zed-away'],
      'every member, in userId order',
    );
    // Marked from the players page shown: it is the whole list (3 players, no search, one page).
    await member(page, 'bot-alpha').locator('.status.online').waitFor();
    await member(page, 'bot-charlie').locator('.status.online').waitFor();
    await member(page, 'zed-away').locator('.status.offline').waitFor();
    t.pass('bot-alpha and bot-charlie online, zed-away offline');

    // No function declared inside the callback: tsx would wrap it in a helper the page lacks.
    const rows = await page
      .locator('#group table.messages tbody tr')
      .evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => ({ className: td.className, text: td.textContent, title: td.title }))));
    const cells = rows.map((tds) => Object.fromEntries(tds.map((td) => [td.className.split(' ')[0], td])));
    const shown = [...frames.map(({ from, content }) => ({ from, content })), { from: 'server', content: 'Server restart at 18:00' }].slice(-20);
    t.same(
      cells.map((r) => [r.seq?.text, r.from?.text, r.content?.text]),
      shown.map(({ from, content }, i) => [
        String(i + 7),
        from,
        typeof content === 'string' ? (content.length > CONTENT_SHOWN ? `${content.slice(0, CONTENT_SHOWN - 1)}…` : content) : JSON.stringify(content),
      ]),
      'seq 7 to 26 in order, with sender and content (a JSON object as JSON, the long one cut, the server message from "server")',
    );
    t.equal(cells.at(-2)?.content?.title, LONG, 'the whole long content in the tooltip');
    t.notMatch(await page.locator('#group').innerText(), /line 6\b/, 'seq 6 and older are not shown');
    t.match(await page.locator('#group .group-messages h3').innerText(), /the 20 most recent, oldest first \(older ones are stored\)/);

    const xss = page.locator('#group table.messages tbody tr[data-seq="23"] td.content');
    t.equal(await xss.textContent(), XSS, 'the HTML content is shown as it was sent');
    t.match(await xss.innerHTML(), /^&lt;img src=x onerror=alert\(1\)&gt;$/, 'as text: escaped in the DOM');
    t.equal(await page.locator('#group img, #groups-panel img').count(), 0, 'no element made of it');

    await page.locator('#groups-panel').screenshot({ path: GROUPS_SCREENSHOT });

    // The marks follow the players page: with a search, charlie is not on it and nobody is known offline.
    await page.fill('#search', 'bot-a');
    await row(page, 'bot-charlie').waitFor({ state: 'detached' });
    await member(page, 'bot-charlie').locator('.status').waitFor({ state: 'hidden' });
    t.equal(await member(page, 'zed-away').locator('.status').isHidden(), true, 'zed-away: no mark (the page is not the whole list)');
    t.equal(await member(page, 'bot-alpha').locator('.status.online').count(), 1, 'bot-alpha still online');
    await page.fill('#search', '');
    await row(page, 'bot-charlie').waitFor();
    await member(page, 'zed-away').locator('.status.offline').waitFor();
    t.pass('the whole list again: zed-away offline');
  });

  await t.test('groups panel: unknown group, empty conversation, bad id, database down', async (t) => {
    provoked.push({ status: 404, path: '/api/groups/no-such-group' });
    await showGroup(page, 'no-such-group', 'not-found');
    t.match(await page.locator('#group').innerText(), /^No group "no-such-group"/);
    t.equal(await page.locator('#group ul.members, #group table').count(), 0, 'nothing of the group shown before');

    await page.fill('#group-input', 'quiet-room');
    await page.press('#group-input', 'Enter');
    await page.locator('#group[data-state="group"] .group-messages[data-state="empty"]').waitFor();
    t.equal(await page.locator('#group .group-name').textContent(), 'Quiet room');
    t.match(await page.locator('#group .group-messages').innerText(), /No message is stored in group:quiet-room\./);
    t.equal(await page.locator('#group table.messages').count(), 0, 'no message table');

    const asked = groupRequests.length;
    await showGroup(page, 'not a group', 'invalid');
    t.match(await page.locator('#group-error').innerText(), /no group has this one/);
    t.equal(groupRequests.length, asked, 'an id outside the grammar is not sent');
    await showGroup(page, GUILD, 'group');
    t.ok(await page.locator('#group-error').isHidden(), 'the error is gone');

    const groups = h.app.groups;
    const ownGet = Object.getOwnPropertyDescriptor(groups, 'get');
    groups.get = () => Promise.reject(new Error('connection refused'));
    provoked.push({ status: 503, path: `/api/groups/${GUILD}` });
    try {
      await showGroup(page, GUILD, 'unavailable');
      t.match(await page.locator('#group').innerText(), /database cannot be reached \(HTTP 503\)/);
    } finally {
      if (ownGet) Object.defineProperty(groups, 'get', ownGet);
      else delete (groups as Partial<typeof groups>).get;
    }

    const store = h.app.messageStore;
    const ownPage = Object.getOwnPropertyDescriptor(store, 'page');
    store.page = () => Promise.reject(new Error('connection refused'));
    provoked.push({ status: 503, path: `/api/conversations/${encodeURIComponent(`group:${GUILD}`)}/messages` });
    try {
      await showGroup(page, GUILD, 'group');
      await page.locator('#group .group-messages[data-state="unavailable"]').waitFor();
      t.equal(await page.locator('#group .group-name').textContent(), GUILD_NAME, 'the group is shown');
      t.match(await page.locator('#group .group-messages').innerText(), /database cannot be reached \(HTTP 503\)/, 'its messages: unavailable');
    } finally {
      if (ownPage) Object.defineProperty(store, 'page', ownPage);
      else delete (store as Partial<typeof store>).page;
    }
    await showGroup(page, GUILD, 'group');
    await page.locator('#group .group-messages[data-state="messages"]').waitFor();
    t.pass('back once the database answers');
  });

  await t.test("clicking a player's userId lists their groups; a group of the list shows it", async (t) => {
    await row(page, 'bot-alpha').locator('button.user-groups').click();
    const list = page.locator('#user-groups[data-state="groups"][data-user-id="bot-alpha"]');
    await list.waitFor();
    t.same(await list.locator('button.group-link').allTextContents(), [GUILD, 'quiet-room'], "bot-alpha's groups");
    await list.locator('button.group-link[data-group-id="quiet-room"]').click();
    await page.locator('#group[data-state="group"] .group-messages[data-state="empty"]').waitFor();
    t.equal(await page.locator('#group .group-name').textContent(), 'Quiet room', 'the group clicked is shown');
    t.equal(await page.locator('#group-input').inputValue(), 'quiet-room', 'its id in the input');
    await showGroup(page, GUILD, 'group');
  });

  await t.test('search by userId prefix', async (t) => {
    await page.fill('#search', 'bot-b');
    await row(page, 'bot-alpha').waitFor({ state: 'detached' });
    t.equal(await page.locator('#players-table tbody tr').count(), 1, 'only bot-bravo');
    await page.fill('#search', '');
    await row(page, 'bot-charlie').waitFor();
  });

  await t.test('"Log out" closes that bot with 4002', async (t) => {
    page.once('dialog', (dialog) => void dialog.accept());
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    await row(page, 'bot-bravo').locator('button.logout').click();
    const closed = await bots.get('bot-bravo')!.closed;
    t.equal(closed.code, CloseCode.LOGGED_OUT, 'bot-bravo closed with 4002');
    await page.locator('#toast').filter({ hasText: 'bot-bravo logged out' }).waitFor();
    await row(page, 'bot-bravo').waitFor({ state: 'detached' });
    t.pass('its row is gone');
    t.equal(bots.get('bot-alpha')!.socket.readyState, 1, 'the other bots stay connected');
    await page.locator('#stat-online').filter({ hasText: /^2$/ }).waitFor();
  });

  await t.test('the search finds a player beyond the first page, pages its matches, logs it out', async (t) => {
    // 60 players sort after the bots and before the needle: the first page (50 rows) ends at
    // crowd-47, so only a search on the server can find needle-7.
    const crowd = Array.from({ length: 60 }, (_, i) => `crowd-${String(i).padStart(2, '0')}`);
    const opened = await Promise.all(crowd.map((userId, i) => bot(h, userId, `Crowd ${i}`)));
    crowd.forEach((userId, i) => bots.set(userId, opened[i]!));
    bots.set('needle-7', await bot(h, 'needle-7', 'Needle'));
    const rows = page.locator('#players-table tbody tr');
    await page.locator('#stat-online').filter({ hasText: /^63$/ }).waitFor();
    await row(page, 'crowd-47').waitFor();
    t.equal(await rows.count(), 50, 'a full first page');
    t.equal(await row(page, 'crowd-48').count(), 0, 'crowd-48 is on the second page');
    t.equal(await row(page, 'needle-7').count(), 0, 'needle-7 is not on the first page');

    await page.fill('#search', 'need');
    await row(page, 'needle-7').waitFor();
    t.equal(await rows.count(), 1, 'only the match');
    t.match(await page.locator('#page-info').innerText(), /matches 1–1 of 1$/);
    t.match(await row(page, 'needle-7').innerText(), /needle-7\s+Needle\s+online/);
    await page.waitForTimeout(2500); // an auto-refresh keeps the search
    t.equal(await rows.count(), 1, 'still only the match after an auto-refresh');
    t.equal(await page.locator('#stat-online').innerText(), '63', 'the card still counts the whole cluster');

    await page.fill('#search', 'crowd-');
    await row(page, 'crowd-00').waitFor();
    await row(page, 'needle-7').waitFor({ state: 'detached' });
    t.equal(await rows.count(), 50, 'first page of the 60 matches');
    t.match(await page.locator('#page-info').innerText(), /matches 1–50 of 60$/);
    await page.click('#next-page');
    await row(page, 'crowd-59').waitFor();
    t.equal(await rows.count(), 10, 'second page: the other 10 matches');
    t.equal(await row(page, 'crowd-00').count(), 0);
    t.ok(await page.locator('#next-page').isDisabled(), 'no third page');
    await page.click('#prev-page');
    await row(page, 'crowd-00').waitFor();

    await page.fill('#search', 'not a userId');
    await page.locator('#search-error').filter({ hasText: 'no player can match' }).waitFor();
    await rows.first().waitFor({ state: 'detached' });
    t.ok(await page.locator('#players-empty').isVisible(), 'no row, and said so');

    await page.fill('#search', 'needle-7');
    await row(page, 'needle-7').waitFor();
    t.ok(await page.locator('#search-error').isHidden(), 'the error is gone');
    page.once('dialog', (dialog) => void dialog.accept());
    await row(page, 'needle-7').locator('button.logout').click();
    t.equal((await bots.get('needle-7')!.closed).code, CloseCode.LOGGED_OUT, 'the player found by the search is logged out (4002)');
    await row(page, 'needle-7').waitFor({ state: 'detached' });
    await page.fill('#search', '');
    await row(page, 'bot-alpha').waitFor();
    await page.locator('#stat-online').filter({ hasText: /^62$/ }).waitFor();
  });

  await t.test('a reload keeps the session; sign out forgets the token', async (t) => {
    await page.reload();
    await row(page, 'bot-alpha').waitFor();
    t.pass('still signed in after a reload');
    await page.click('#sign-out');
    await page.locator('#login-form').waitFor();
    t.equal(await page.evaluate(() => sessionStorage.getItem('gatehouse.adminToken')), null);
    t.equal(await page.locator('#group').innerHTML(), '', 'the group shown is forgotten');
  });

  t.same(problems, [], 'no page error, no console error (CSP included)');
});
