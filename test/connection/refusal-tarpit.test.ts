/**
 * A request head the HTTP parser refuses is answered HTTP_REFUSAL_DELAY_MS late
 * (src/http/refusal-tarpit.ts): a client looping junk heads waits instead of costing the node a
 * connection per loop turn, while a player's handshake and requests in the same moment are
 * answered at once; at most 1,024 refusals wait (the core's bound); shutdown does not wait for them.
 */
import { connect } from 'node:net';
import t from 'tap';
import { RefusalTarpit } from '../../src/http/refusal-tarpit.ts';
import { buildTestApp, TEST_ADMIN_TOKEN } from '../helpers/build.ts';
import { TestClient } from '../helpers/ws-client.ts';

/** Long enough that a handshake on a loaded test machine is still done well before it. */
const DELAY_MS = 2000;

/** Sends `head` on a fresh connection; resolves with the status line and the ms until the close. */
function rawRequest(port: number, head: string): Promise<{ status: string; ms: number }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const socket = connect(port, '127.0.0.1', () => socket.write(head));
    let text = '';
    socket.on('data', (d) => (text += d.toString()));
    socket.on('error', reject);
    socket.on('close', () => resolve({ status: text.split('\r\n')[0] ?? '', ms: performance.now() - started }));
  });
}

t.test('junk heads wait for their refusal; players do not', async (t) => {
  const h = await buildTestApp(t, 'embedded', { HTTP_REFUSAL_DELAY_MS: String(DELAY_MS), AUTH_MODE: 'none' });
  if (!h) return;
  const port = Number(new URL(h.baseUrl).port);
  const oversized = `GET /api/online/players?junk=${'z'.repeat(15 * 1024)} HTTP/1.1\r\nHost: x\r\n\r\n`;
  const notHttp = 'HELLO THERE\r\n\r\n';
  const refusals = Promise.all([rawRequest(port, oversized), rawRequest(port, notHttp), rawRequest(port, oversized)]);
  let refusalsAnswered = false;
  void refusals.then(() => (refusalsAnswered = true));

  // Meanwhile a player connects and is answered, and a REST call is served, all before the refusals.
  const { client } = await TestClient.open(`${h.wsUrl}/ws?userId=player-1`);
  t.match(await client.ping(), { type: 'pong' }, 'and its ping is answered');
  const live = await fetch(`${h.baseUrl}/health/live`);
  t.equal(live.status, 200);
  t.notOk(refusalsAnswered, 'the handshake, the ping and the request were not held up by the waiting refusals');

  const [a, b, c] = await refusals;
  t.match(a, { status: 'HTTP/1.1 431 Request Header Fields Too Large' }, 'an oversized head: 431');
  t.match(b, { status: 'HTTP/1.1 400 Bad Request' }, 'not HTTP: 400');
  for (const r of [a, b, c]) t.ok(r.ms >= DELAY_MS - 50, `answered and closed after ${r.ms.toFixed(0)} ms`);

  const metrics = await (await fetch(`${h.baseUrl}/metrics`, { headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` } })).text();
  t.match(metrics, /^gatehouse_http_refusals_delayed_total 3$/m, 'counted');
  t.match(metrics, /^gatehouse_http_refusals_waiting 0$/m, 'none left waiting');
  await client.close();
});

t.test('shutdown closes the connections still waiting', async (t) => {
  const h = await buildTestApp(t, 'embedded', { HTTP_REFUSAL_DELAY_MS: '30000' });
  if (!h) return;
  const port = Number(new URL(h.baseUrl).port);
  const waiting = rawRequest(port, 'NOT HTTP\r\n\r\n');
  await new Promise((resolve) => setTimeout(resolve, 200));
  t.equal(h.app.refusalTarpit.size, 1, 'one refusal waits');
  const closing = performance.now();
  await h.app.close();
  t.ok(performance.now() - closing < 10_000, 'the close did not wait the 30 s out');
  t.match(await waiting, { status: '' }, 'closed without an answer');
});

t.test('RefusalTarpit: bounded, once per connection, off at 0', async (t) => {
  const tarpit = new RefusalTarpit<object>({ delayMs: 100, maxHeld: 2 });
  const [x, y, z] = [{}, {}, {}];
  t.ok(tarpit.hold(x));
  t.ok(tarpit.hold(x), 'held already: still held, counted once');
  t.ok(tarpit.hold(y));
  t.notOk(tarpit.hold(z), 'a third waits no more: answered at once');
  t.same([tarpit.delayed, tarpit.answeredAtOnce, tarpit.size], [2, 1, 2]);
  tarpit.done(x);
  t.ok(tarpit.hold(z), 'room again');
  t.same([...tarpit.held()], [y, z]);
  t.notOk(new RefusalTarpit<object>({ delayMs: 0, maxHeld: 2 }).hold(x), 'delay 0: never held');
});
