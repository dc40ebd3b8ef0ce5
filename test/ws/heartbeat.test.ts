/**
 * Heartbeat and logout, end to end with real sockets and short configured timeouts, on the
 * embedded defaults and on real Redis + PostgreSQL.
 */
import t from 'tap';
import { Redis } from 'ioredis';
import WebSocket from 'ws';
import { CloseCode } from '../../src/protocol/close-codes.ts';
import { buildTestApp, eventually, logLines, type Backend } from '../helpers/build.ts';
import { TestClient } from '../helpers/ws-client.ts';

const FAST = {
  // Short enough for a quick test, long enough that a loaded 2-core CI machine stalling the
  // event loop for a moment does not time out the pinging client.
  HEARTBEAT_TIMEOUT_MS: '1500',
  WATCHDOG_INTERVAL_MS: '50',
  HEARTBEAT_FLUSH_INTERVAL_MS: '100',
  WS_PING_INTERVAL_MS: '600000',
};

for (const backend of ['embedded', 'real'] as Backend[]) {
  t.test(`heartbeat timeout and logout (${backend})`, async (t) => {
    const h = await buildTestApp(t, backend, FAST);
    if (!h) return;
    const url = (u: string) => `${h.wsUrl}/ws?token=${h.token(u)}`;

    const { client: pinger } = await TestClient.open(url('pinger'));
    pinger.startPing(100);
    const pong = await pinger.ping();
    t.type(pong.serverTime, 'number', 'pong carries serverTime');

    const silentStart = Date.now();
    // autoPong off: the silent client must not answer WebSocket pings either.
    const { client: silent } = await TestClient.open(url('silent'), { autoPong: false });
    const closed = await silent.closed;
    const silentFor = Date.now() - silentStart;
    t.equal(closed.code, CloseCode.HEARTBEAT_TIMEOUT, 'closed with 4000');
    t.ok(silentFor >= 1500, `not before the timeout (${silentFor} ms)`);
    t.ok(silentFor < 1500 + 3000, `soon after the timeout (${silentFor} ms)`);

    // The logout: store offline with logoutTime, online set without the user, database stamped.
    const presence = await eventually(async () => {
      const p = await h.app.presence.getPlayer('silent');
      return p?.status === 'offline' ? p : undefined;
    });
    t.type(presence.logoutTime, 'number');
    t.equal(presence.logoutReason, 'timeout');
    const user = await eventually(async () => {
      const u = await h.app.players.getUser('silent');
      return u?.lastSpiritGainTime ? u : undefined;
    });
    t.equal(user.lastSpiritGainTime!.getTime(), presence.logoutTime, 'last_spirit_gain_time = the logout time');
    t.equal(user.lastLogoutAt!.getTime(), presence.logoutTime);
    const sessions = await h.app.players.listSessions('silent', 5);
    t.equal(sessions.length, 1);
    t.equal(sessions[0]!.reason, 'timeout');
    t.equal(sessions[0]!.disconnectedAt!.getTime(), presence.logoutTime);
    t.equal(logLines(h.logs, 'user logged out').filter((l) => l.userId === 'silent').length, 1, 'one log line');
    const online = await h.app.presence.listOnline({ limit: 100 });
    t.same(
      online.players.map((p) => p.userId),
      ['pinger'],
      'only the pinger is online',
    );

    if (backend === 'real') {
      const redis = new Redis(h.config.REDIS_URL!);
      t.teardown(() => redis.disconnect());
      const prefix = h.config.REDIS_KEY_PREFIX;
      const hash = await redis.hgetall(`${prefix}player:online:silent`);
      t.equal(hash.status, 'offline', 'raw hash: status=offline');
      t.equal(Number(hash.logoutTime), presence.logoutTime, 'raw hash: logoutTime');
      t.equal(await redis.sismember(`${prefix}server:online:players`, 'silent'), 0, 'SREM server:online:players');
      t.equal(await redis.sismember(`${prefix}server:online:players`, 'pinger'), 1);
      // The coalesced flush wrote the pinger's heartbeat recently.
      const pinger = await h.app.presence.getPlayer('pinger');
      t.ok(Date.now() - pinger!.lastHeartbeat < 1000, 'pinger heartbeat flushed');
    }

    // The pinger outlived several timeouts.
    await new Promise((resolve) => setTimeout(resolve, 3200));
    t.equal(h.app.gateway.connections.countOf('pinger'), 1, 'pinging client still connected');
    await pinger.ping();
    t.equal((await h.app.presence.getPlayer('pinger'))?.status, 'online');
    await pinger.close();
  });
}

t.test('WebSocket pongs are not heartbeats: a frozen game loop is timed out', async (t) => {
  const h = (await buildTestApp(t, 'embedded', { ...FAST, WS_PING_INTERVAL_MS: '200' }))!;
  // The ws client answers server pings automatically (as browsers do); it never sends an app-level ping.
  const { client } = await TestClient.open(`${h.wsUrl}/ws?token=${h.token('quiet')}`);
  let pongs = 0;
  client.socket.on('ping', () => pongs++);
  const closed = await client.closed;
  t.ok(pongs >= 3, `it answered the server's WebSocket pings (${pongs})`);
  t.equal(closed.code, CloseCode.HEARTBEAT_TIMEOUT, 'timed out all the same');
  t.equal((await h.app.presence.getPlayer('quiet'))?.logoutReason, 'timeout');
});

t.test("a canonical ping's ts comes back exactly as sent (answered from its text); others through the parser", async (t) => {
  const h = await buildTestApp(t, 'embedded', FAST);
  if (!h) return;
  const ws = new WebSocket(`${h.wsUrl}/ws?token=${h.token('echo')}`);
  t.teardown(() => ws.close());
  const texts: string[] = [];
  ws.on('message', (data) => void texts.push(String(data)));
  await eventually(async () => texts.some((x) => x.includes('"type":"connected"')) || undefined);
  ws.send('{"type":"ping","ts":1.50}');
  ws.send('{"type":"ping","ts":-2E3}');
  ws.send('{"type":"ping"}');
  ws.send('{"type":"ping", "ts":1.50}'); // not canonical: parsed, and printed as a number
  const pongs = await eventually(async () => {
    const found = texts.filter((x) => x.includes('"type":"pong"'));
    return found.length === 4 ? found : undefined;
  });
  t.match(pongs[0], /^\{"type":"pong","ts":1\.50,"serverTime":\d{13}\}$/);
  t.match(pongs[1], /^\{"type":"pong","ts":-2E3,"serverTime":\d{13}\}$/);
  t.match(pongs[2], /^\{"type":"pong","serverTime":\d{13}\}$/);
  t.match(pongs[3], /^\{"type":"pong","ts":1\.5,"serverTime":\d{13}\}$/);
  for (const pong of pongs) t.ok(JSON.parse(pong), 'valid JSON');
});
