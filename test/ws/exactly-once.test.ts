/**
 * The logout runs exactly once per logical session: racing closes and timeouts, the replace
 * policy (the old session closes with 4001 and does not log the user out), and the multi
 * policy (logout after the last session only).
 */
import t from 'tap';
import { CloseCode } from '../../src/protocol/close-codes.ts';
import { buildTestApp, eventually, logLines, type Backend, type TestApp } from '../helpers/build.ts';
import { TestClient } from '../helpers/ws-client.ts';

const FAST = { HEARTBEAT_TIMEOUT_MS: '400', WATCHDOG_INTERVAL_MS: '50', WS_PING_INTERVAL_MS: '600000' };
/** For tests about policies, not timing: a loaded CI machine must not time the pingers out. */
const RELAXED = { ...FAST, HEARTBEAT_TIMEOUT_MS: '3000' };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const logoutsOf = (h: TestApp, userId: string) => logLines(h.logs, 'user logged out').filter((l) => l.userId === userId);

async function landed(h: TestApp, userId: string) {
  return eventually(async () => {
    const sessions = await h.app.players.listSessions(userId, 10);
    return sessions.length > 0 && sessions.every((s) => s.disconnectedAt) ? sessions : undefined;
  });
}

for (const backend of ['embedded', 'real'] as Backend[]) {
  t.test(`exactly once (${backend})`, async (t) => {
    // The race made real and deterministic: the client's close frame and the watchdog's 4000
    // are issued in the same turn of the event loop (client and server share this process), so
    // they cross on the wire and neither side has seen the other's close when it sends its own.
    // The watchdog is driven with an explicit time past the timeout instead of waiting for it.
    for (const order of ['client close first', 'watchdog first'] as const) {
      await t.test(`a client close racing the heartbeat timeout (${order}, same turn)`, async (t) => {
        const h = await buildTestApp(t, backend, { HEARTBEAT_TIMEOUT_MS: '60000', WATCHDOG_INTERVAL_MS: '1000', WS_PING_INTERVAL_MS: '600000' });
        if (!h) return;
        const { client, connected } = await TestClient.open(`${h.wsUrl}/ws?token=${h.token('racer')}`, { autoPong: false });
        const session = h.app.gateway.connections.get(connected.sessionId as string)!;
        t.equal(session.state, 'open', 'logged in');
        const timeoutsBefore = h.app.gateway.watchdog.timeouts;
        // Its last frame moved back past the timeout (a tick driven in the future instead would
        // be a late tick: a node stall, credited to the session).
        session.lastHeartbeat = Date.now() - h.config.HEARTBEAT_TIMEOUT_MS - 1;
        if (order === 'client close first') {
          client.socket.close(1000);
          h.app.gateway.watchdog.tick(Date.now());
        } else {
          h.app.gateway.watchdog.tick(Date.now());
          client.socket.close(1000);
        }
        t.equal(h.app.gateway.watchdog.timeouts, timeoutsBefore + 1, 'the watchdog timed the session out');
        t.equal(session.state, 'closed', 'ended by the timeout at once, before the client close reached the server');
        const closed = await client.closed;
        t.ok([1000, CloseCode.HEARTBEAT_TIMEOUT].includes(closed.code), `the client saw a crossing close (${closed.code})`);
        await eventually(() => h.app.gateway.connections.size === 0);
        await h.app.gateway.settled();
        const sessions = await landed(h, 'racer');
        await sleep(200); // room for a second (wrong) logout to show up
        t.equal(logoutsOf(h, 'racer').length, 1, 'one logout');
        t.equal(logoutsOf(h, 'racer')[0]!.reason, 'timeout', 'the first reason given wins: the timeout');
        t.equal(
          [...h.app.logoutPipeline.logoutsByReason.values()].reduce((a, b) => a + b, 0),
          1,
          'one logout counted',
        );
        t.equal(sessions.length, 1, 'one session row');
        t.equal(sessions[0]!.reason, 'timeout');
        t.equal(await h.app.logoutPipeline.pendingCount(), 0, 'nothing left to write');
      });
    }

    await t.test('replace policy: old session closed 4001, user stays online, one logout at the end', async (t) => {
      const h = await buildTestApp(t, backend, { ...RELAXED, SESSION_POLICY: 'replace' });
      if (!h) return;
      const url = `${h.wsUrl}/ws?token=${h.token('phone')}`;
      const { client: first } = await TestClient.open(url);
      first.startPing(100);
      const { client: second, connected } = await TestClient.open(url);
      second.startPing(100);
      const closed = await first.closed;
      t.equal(closed.code, CloseCode.REPLACED, 'older session closed with 4001');
      const presence = await eventually(async () => {
        const p = await h.app.presence.getPlayer('phone');
        return p?.sessions === 1 ? p : undefined;
      });
      t.equal(presence?.status, 'online', 'still online');
      t.equal(presence?.sessions, 1, 'one live session');
      t.equal(logoutsOf(h, 'phone').length, 0, 'no logout for the replaced session');
      t.equal((await h.app.players.getUser('phone'))?.lastLogoutAt ?? null, null, 'database untouched');
      t.equal(h.app.gateway.connections.get(connected.sessionId as string)?.userId, 'phone');
      await second.close();
      await h.app.gateway.settled();
      const sessions = await landed(h, 'phone');
      t.equal(sessions.length, 1, 'one logical session row');
      t.equal(sessions[0]!.reason, 'closed');
      t.equal(logoutsOf(h, 'phone').length, 1, 'one logout');
    });

    await t.test('multi policy: logout only after the last session', async (t) => {
      const h = await buildTestApp(t, backend, { ...FAST, SESSION_POLICY: 'multi', MAX_SESSIONS_PER_USER: '3' });
      if (!h) return;
      const url = `${h.wsUrl}/ws?token=${h.token('tabs')}`;
      const tabs = await Promise.all([TestClient.open(url), TestClient.open(url), TestClient.open(url)]);
      tabs.forEach(({ client }) => client.startPing(100));
      t.equal((await h.app.presence.getPlayer('tabs'))?.sessions, 3);
      await tabs[0]!.client.close();
      await tabs[1]!.client.terminate(); // vanished without a close frame
      await eventually(async () => (await h.app.presence.getPlayer('tabs'))?.sessions === 1);
      t.equal((await h.app.presence.getPlayer('tabs'))?.status, 'online', 'online while one tab lives');
      t.equal(logoutsOf(h, 'tabs').length, 0);
      tabs[2]!.client.stopPing(); // the last one goes silent: heartbeat timeout
      const closed = await tabs[2]!.client.closed;
      t.equal(closed.code, CloseCode.HEARTBEAT_TIMEOUT);
      const sessions = await landed(h, 'tabs');
      t.equal(sessions.length, 1);
      t.equal(sessions[0]!.reason, 'timeout');
      await sleep(100);
      t.equal(logoutsOf(h, 'tabs').length, 1, 'exactly one logout');
    });

    await t.test('multi policy: over MAX_SESSIONS_PER_USER the oldest session gives way', async (t) => {
      const h = await buildTestApp(t, backend, { ...RELAXED, SESSION_POLICY: 'multi', MAX_SESSIONS_PER_USER: '2' });
      if (!h) return;
      const url = `${h.wsUrl}/ws?token=${h.token('capped')}`;
      const a = await TestClient.open(url);
      a.client.startPing(100);
      const b = await TestClient.open(url);
      b.client.startPing(100);
      const c = await TestClient.open(url);
      c.client.startPing(100);
      t.equal((await a.client.closed).code, CloseCode.REPLACED, 'oldest closed with 4001');
      await eventually(async () => (await h.app.presence.getPlayer('capped'))?.sessions === 2);
      t.equal(logoutsOf(h, 'capped').length, 0);
      await b.client.close();
      await c.client.close();
    });
  });
}
