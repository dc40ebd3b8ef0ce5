/**
 * A hostile client cannot turn its requests into log volume. 1,000 refused requests over real
 * HTTP — 15 KB URLs (not found, unauthorized REST calls, refused WebSocket handshakes) and 15 KB
 * headers — cost at most 300 bytes of log each, in all; no line carries the query string, a
 * header or more than 128 characters of the path. Refusals are logged once per client address
 * per window, the next line counting what was suppressed (nothing is lost from the count). And
 * the budget itself (KeyedLogBudget) is bounded: addresses remembered, lines per window.
 */
import { request as httpRequest } from 'node:http';
import t from 'tap';
import { KeyedLogBudget } from '../../src/util/keyed-log-budget.ts';
import { buildTestApp, logLines, TEST_ADMIN_TOKEN, type TestApp } from '../helpers/build.ts';

const JUNK = 'a'.repeat(15_000);
const HEADER_JUNK = 'h'.repeat(15_000);
/**
 * By default a 15 KB request head never reaches a route (HTTP_MAX_HEADER_BYTES, 8 KiB: the last
 * test); these tests let it through to check what the routes' refusals log.
 */
const HEADS_TO_ROUTES = { HTTP_MAX_HEADER_BYTES: '65536' };

/** A WebSocket upgrade request over real HTTP; resolves with the HTTP status of the refusal. */
function handshake(h: TestApp, path: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${h.baseUrl}${path}`, {
      // A socket per upgrade request, as WebSocket clients do: the server closes it after a refusal.
      agent: false,
      headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', ...headers },
    });
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('upgrade', (_res, socket) => {
      socket.destroy();
      reject(new Error('handshake accepted'));
    });
    req.on('error', reject);
    req.end();
  });
}

async function status(url: string, headers: Record<string, string> = {}): Promise<number> {
  const res = await fetch(url, { headers });
  await res.arrayBuffer();
  return res.status;
}

t.test('1,000 refused requests with 15 KB URLs and headers: at most 300 bytes of log each', async (t) => {
  const h = await buildTestApp(t, 'embedded', HEADS_TO_ROUTES);
  if (!h) return;
  const bytesBefore = h.logs.reduce((sum, l) => sum + Buffer.byteLength(l), 0);
  const linesBefore = h.logs.length;
  const started = Date.now();
  const statuses = new Map<number, number>();
  const count = (s: number) => statuses.set(s, (statuses.get(s) ?? 0) + 1);
  for (let i = 0; i < 250; i++) {
    count(await status(`${h.baseUrl}/no/such/route/${i}?${JUNK}`));
    count(await status(`${h.baseUrl}/api/online/players?limit=10&${JUNK}`, { authorization: `Bearer not-a-token-${i}` }));
    count(await status(`${h.baseUrl}/nope`, { 'x-junk': HEADER_JUNK, authorization: `Bearer ${HEADER_JUNK.slice(0, 100)}` }));
    count(await handshake(h, `/ws?token=${JUNK}&n=${i}`, i % 2 ? { origin: `https://${'o'.repeat(200)}.example` } : {}));
  }
  // Upgrade requests to routes without a WebSocket handler: refused before any upgrade.
  for (let i = 0; i < 50; i++) count(await handshake(h, `/health/live?${JUNK}`));
  const elapsedMs = Date.now() - started;
  t.equal(statuses.get(404), 550, 'an upgrade request to another route: 404, never upgraded');
  statuses.set(404, 500);
  t.same([...statuses.entries()].sort(), [
    [401, 500],
    [404, 500],
  ]);

  const lines = h.logs.slice(linesBefore);
  const bytes = h.logs.reduce((sum, l) => sum + Buffer.byteLength(l), 0) - bytesBefore;
  t.ok(bytes <= 300 * 1050, `${bytes} bytes of log for 1,050 refused requests (${(bytes / 1050).toFixed(1)} per request) in ${elapsedMs} ms`);
  for (const line of lines) {
    t.ok(Buffer.byteLength(line) <= 400, `a line of ${Buffer.byteLength(line)} bytes`);
    t.notOk(
      line.includes('a'.repeat(129)) ||
        line.includes('hhhhhhhhhh') ||
        line.includes('ooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooo'),
      'no query string, header or long value',
    );
    t.notOk(line.includes('not-a-token'), 'no authorization header');
  }
  const refused = logLines(lines, 'request refused');
  // One line per address per 10 s window: a few at most, however the flood is timed.
  t.ok(refused.length >= 1 && refused.length <= Math.ceil(elapsedMs / 10_000) + 1, `${refused.length} "request refused" line(s)`);
  t.match(refused[0], { level: 30, method: 'GET', statusCode: Number, ip: '127.0.0.1', path: String });
  t.equal(logLines(h.logs, 'incoming request').length, 0, "Fastify's own per-request lines are off");
  t.equal(logLines(h.logs, 'closed incoming websocket connection for path with no websocket handler').length, 0, 'no socket opened on another route');
});

t.test('the next refusal line counts what was suppressed; the path is cut, the code and reason kept', async (t) => {
  const WINDOW = 400;
  const h = await buildTestApp(t, 'embedded', { ...HEADS_TO_ROUTES, LOG_REFUSALS_WINDOW_MS: String(WINDOW) });
  if (!h) return;
  const linesBefore = h.logs.length;
  let sent = 0;
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < 20; i++) {
      await status(`${h.baseUrl}/ws/stats?${JUNK}`, { authorization: 'Bearer wrong' });
      sent++;
    }
    await new Promise((resolve) => setTimeout(resolve, WINDOW + 50));
  }
  await status(`${h.baseUrl}/${'p'.repeat(1000)}`);
  sent++;
  const refused = logLines(h.logs.slice(linesBefore), 'request refused');
  t.ok(refused.length >= 4, `${refused.length} lines: at least one per window`);
  const accounted = refused.reduce((sum, l) => sum + 1 + ((l.suppressed as number | undefined) ?? 0), 0);
  t.equal(accounted, sent, `every refusal is either logged or counted (${sent} sent)`);
  t.ok(
    refused.some((l) => ((l.suppressed as number | undefined) ?? 0) > 0),
    'some lines report suppressed refusals',
  );
  t.match(refused[0], { path: '/ws/stats', statusCode: 401, code: 'GW_UNAUTHORIZED', reason: 'invalid token' });
  const last = refused[refused.length - 1]!;
  t.match(last, { statusCode: 404, code: 'GW_NOT_FOUND', reason: 'no route' });
  t.equal(last.path, `/${'p'.repeat(127)}…[1001 chars]`, 'a long path is cut to 128 characters with its length');
});

t.test('answered requests: one line, the URL redacted and cut', async (t) => {
  const h = await buildTestApp(t, 'embedded', HEADS_TO_ROUTES);
  if (!h) return;
  t.equal(await status(`${h.baseUrl}/ws/stats?token=${TEST_ADMIN_TOKEN}&${JUNK}`, { authorization: `Bearer ${TEST_ADMIN_TOKEN}` }), 200);
  const [line] = logLines(h.logs, 'request completed');
  t.match(line, { level: 30, method: 'GET', statusCode: 200, ms: Number });
  t.equal(
    line!.url,
    `/ws/stats?token=[REDACTED]&${'a'.repeat(128 - '/ws/stats?token=[REDACTED]&'.length)}…[${'/ws/stats?token=[REDACTED]&'.length + JUNK.length} chars]`,
  );
  t.notOk(
    h.logs.some((l) => l.includes(TEST_ADMIN_TOKEN)),
    'the token is in no line',
  );
});

t.test('by default a request head over HTTP_MAX_HEADER_BYTES is refused by the HTTP parser: 431, connection closed, no log line', async (t) => {
  // Answered at once here (the delay has its own test, test/http/refusal-tarpit.test.ts).
  const h = await buildTestApp(t, 'embedded', { HTTP_REFUSAL_DELAY_MS: '0' });
  if (!h) return;
  const linesBefore = h.logs.length;
  const statuses: number[] = [];
  for (let i = 0; i < 50; i++) {
    statuses.push(await status(`${h.baseUrl}/no/such/route?${JUNK}`));
    statuses.push(await status(`${h.baseUrl}/health/live`, { 'x-junk': HEADER_JUNK }));
    statuses.push(await handshake(h, `/ws?token=${JUNK}`));
  }
  t.same([...new Set(statuses)], [431], 'every oversized head: 431 Request Header Fields Too Large');
  t.same(h.logs.slice(linesBefore), [], 'not one log line for 150 of them');
  t.equal(await status(`${h.baseUrl}/health/live?${'a'.repeat(6000)}`), 200, 'a head within 8 KiB still reaches its route');
});

t.test('KeyedLogBudget: one line per key per window, bounded keys, a global budget, nothing uncounted', async (t) => {
  let now = 0;
  const budget = new KeyedLogBudget({ windowMs: 1000, maxKeys: 3, linesPerWindow: 5, now: () => now });
  t.same(budget.take('a'), { suppressed: 0, othersSuppressed: 0 });
  t.equal(budget.take('a'), null);
  t.equal(budget.take('a'), null);
  now = 1000;
  t.same(budget.take('a'), { suppressed: 2, othersSuppressed: 0 }, 'the next window: the suppressed count');

  // Many addresses: at most maxKeys remembered, at most linesPerWindow lines per window.
  now = 5000;
  let passed = 0;
  for (let i = 0; i < 1000; i++) if (budget.take(`10.0.${i >> 8}.${i & 255}`)) passed++;
  t.equal(passed, 5, 'the global budget: 5 lines per window whatever the number of addresses');
  t.ok(budget.size <= 3, `${budget.size} keys remembered (at most 3)`);
  now = 6000;
  const next = budget.take('fresh');
  t.ok(next && next.othersSuppressed >= 995, `the next line reports ${next?.othersSuppressed} suppressed elsewhere`);

  // An evicted key's suppressed count is not lost.
  now = 10_000;
  const small = new KeyedLogBudget({ windowMs: 1000, maxKeys: 1, linesPerWindow: 100, now: () => now });
  small.take('x');
  small.take('x');
  small.take('x'); // 2 suppressed for x
  small.take('y'); // evicts x
  t.same(small.take('z'), { suppressed: 0, othersSuppressed: 2 }, "x's suppressed lines counted on a later line");
});
