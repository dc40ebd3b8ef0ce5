/**
 * Lifecycle log lines of real sessions carry the fields an operator greps for:
 * - `session closed`, once per connection end: userId, sessionId, nodeId, close code, reason,
 *   durationMs;
 * - `user logged out`: userId, reason, and the sessionId of the connection whose end logged the
 *   user out (when this node knows it);
 * - the logout grace: `logout deferred: reconnecting` (userId, sessionId, reason, graceMs) when it
 *   starts, `reconnected within grace` when a reconnect cancels it.
 */
import t, { type Test } from 'tap';
import { CloseCode } from '../../src/protocol/close-codes.ts';
import { buildTestApp, eventually, logLines, TEST_ADMIN_TOKEN, type TestApp } from '../helpers/build.ts';
import { TestClient } from '../helpers/ws-client.ts';
import { call } from '../api/http.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const ENV = { HEARTBEAT_TIMEOUT_MS: '60000', WS_PING_INTERVAL_MS: '600000' };

const linesOf = (h: TestApp, msg: string, userId: string) => logLines(h.logs, msg).filter((l) => l.userId === userId);
/** The one `session closed` line of a connection. */
async function closedLine(t: Test, h: TestApp, sessionId: string) {
  const lines = await eventually(() => {
    const found = logLines(h.logs, 'session closed').filter((l) => l.sessionId === sessionId);
    return found.length > 0 ? found : undefined;
  });
  t.equal(lines.length, 1, 'one `session closed` line for the connection');
  return lines[0]!;
}

t.test('session closed and user logged out (no grace)', async (t) => {
  const h = await buildTestApp(t, 'embedded', ENV);
  if (!h) return;
  const url = (u: string) => `${h.wsUrl}/ws?token=${h.token(u)}`;

  await t.test('a client close', async (t) => {
    const openedAt = Date.now();
    const { client, connected } = await TestClient.open(url('alice'));
    await sleep(150);
    await client.close(1000);
    const sessionId = connected.sessionId as string;
    const line = await closedLine(t, h, sessionId);
    t.match(line, { level: 30, userId: 'alice', sessionId, nodeId: h.config.NODE_ID, code: 1000, reason: 'closed' });
    t.type(line.durationMs, 'number');
    t.ok((line.durationMs as number) >= 150 && (line.durationMs as number) <= Date.now() - openedAt, `durationMs ${line.durationMs}`);
    const out = await eventually(() => linesOf(h, 'user logged out', 'alice')[0]);
    t.match(out, { userId: 'alice', sessionId, nodeId: h.config.NODE_ID, reason: 'closed' }, 'the logout names the connection that ended it');
  });

  await t.test('replaced (4001): a close line, no logout; the logout names the last connection', async (t) => {
    const first = await TestClient.open(url('phone'));
    first.client.startPing(100);
    const second = await TestClient.open(url('phone'));
    second.client.startPing(100);
    t.equal((await first.client.closed).code, CloseCode.REPLACED);
    const replaced = await closedLine(t, h, first.connected.sessionId as string);
    t.match(replaced, { userId: 'phone', code: CloseCode.REPLACED, reason: 'replaced', nodeId: h.config.NODE_ID });
    t.same(linesOf(h, 'user logged out', 'phone'), [], 'no logout for the replaced connection');
    await second.client.close();
    const out = await eventually(() => linesOf(h, 'user logged out', 'phone')[0]);
    t.equal(out.sessionId, second.connected.sessionId, 'sessionId of the connection whose end logged the user out');
  });

  await t.test('heartbeat timeout (4000)', async (t) => {
    const { client, connected } = await TestClient.open(url('silent'), { autoPong: false });
    const session = h.app.gateway.connections.get(connected.sessionId as string)!;
    h.app.gateway.watchdog.tick(session.lastHeartbeat + h.config.HEARTBEAT_TIMEOUT_MS + 1);
    t.equal((await client.closed).code, CloseCode.HEARTBEAT_TIMEOUT);
    const line = await closedLine(t, h, connected.sessionId as string);
    t.match(line, { userId: 'silent', code: CloseCode.HEARTBEAT_TIMEOUT, reason: 'timeout' });
    const out = await eventually(() => linesOf(h, 'user logged out', 'silent')[0]);
    t.match(out, { reason: 'timeout', sessionId: connected.sessionId });
  });

  await t.test('REST logout (4002)', async (t) => {
    const { client, connected } = await TestClient.open(url('ejected'));
    client.startPing(100);
    const r = await call(h, 'POST', '/api/online/logout', { token: TEST_ADMIN_TOKEN, body: { userId: 'ejected' } });
    t.same(r.body, { loggedOut: true });
    t.equal((await client.closed).code, CloseCode.LOGGED_OUT);
    const line = await closedLine(t, h, connected.sessionId as string);
    t.match(line, { userId: 'ejected', code: CloseCode.LOGGED_OUT, reason: 'logout' });
    t.match(linesOf(h, 'user logged out', 'ejected'), [{ reason: 'logout' }], 'one logout line');
  });

  await t.test('every session closed line has the fields', async (t) => {
    const lines = logLines(h.logs, 'session closed');
    t.equal(lines.length, 5, 'one per connection that ended');
    for (const l of lines) {
      t.match(l, { userId: String, sessionId: String, nodeId: h.config.NODE_ID, code: Number, reason: String, durationMs: Number });
    }
  });
});

t.test('the logout grace: start and cancel are logged', async (t) => {
  const GRACE = 1500;
  const h = await buildTestApp(t, 'embedded', { ...ENV, LOGOUT_GRACE_MS: String(GRACE) });
  if (!h) return;
  const url = `${h.wsUrl}/ws?token=${h.token('bob')}`;

  const first = await TestClient.open(url);
  await first.client.close();
  const deferred = await eventually(() => linesOf(h, 'logout deferred: reconnecting', 'bob')[0]);
  t.match(deferred, { level: 30, userId: 'bob', sessionId: first.connected.sessionId, nodeId: h.config.NODE_ID, reason: 'closed', graceMs: GRACE });

  const second = await TestClient.open(url);
  const resumed = await eventually(() => linesOf(h, 'reconnected within grace', 'bob')[0]);
  t.match(resumed, { userId: 'bob', sessionId: second.connected.sessionId, nodeId: h.config.NODE_ID });
  await sleep(GRACE + 1200); // past the first grace and a poll of the logout pipeline
  t.same(linesOf(h, 'user logged out', 'bob'), [], 'no logout: the reconnect cancelled it');

  await second.client.close();
  await eventually(() => linesOf(h, 'logout deferred: reconnecting', 'bob').length === 2);
  const out = await eventually(() => linesOf(h, 'user logged out', 'bob')[0], GRACE + 5000);
  t.match(out, { userId: 'bob', reason: 'closed', nodeId: h.config.NODE_ID }, 'logged out once the grace ran out');
  t.equal(linesOf(h, 'reconnected within grace', 'bob').length, 1, 'only the real reconnect logged as one');
  t.equal(logLines(h.logs, 'session closed').filter((l) => l.userId === 'bob').length, 2, 'a close line per connection');
  await sleep(300);
  t.equal(linesOf(h, 'user logged out', 'bob').length, 1, 'exactly one logout');
});
