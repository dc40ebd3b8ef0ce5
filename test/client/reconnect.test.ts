/**
 * Reconnecting for real: the SDK survives a restart of the server process (SIGTERM, then a new
 * process on the same port) and gets a new `connected`; it does not reconnect after 4001
 * (replaced by another device), 4002 (REST logout) or its own close().
 */
import t from 'tap';
import { createSigner } from 'fast-jwt';
import type { CloseInfo, ConnectionState, GatehouseClient } from '../../src/client/index.ts';
import { buildTestApp, eventually, TEST_ADMIN_TOKEN } from '../helpers/build.ts';
import { startServer } from '../helpers/server-process.ts';
import { freePort, nextEvent, sdkClient, sleep } from './helpers.ts';

const SECRET = 'sdk-reconnect-secret-0123456789abcdef';

/** Records every close and state of a client. */
function watch(client: GatehouseClient) {
  const closes: CloseInfo[] = [];
  const states: ConnectionState[] = [];
  client.on('close', (c) => closes.push(c));
  client.on('state', (s) => states.push(s.state));
  return { closes, states };
}

t.test('reconnects after a server restart', async (t) => {
  const port = await freePort();
  const env = { PORT: String(port), PGLITE_DIR: 'memory://', AUTH_JWT_SECRET: SECRET, SHUTDOWN_TIMEOUT_MS: '5000' };
  const first = await startServer({ ...env, NODE_ID: 'gw-first' });
  t.teardown(() => first.stop('SIGKILL'));
  const sign = createSigner({ key: SECRET, expiresIn: 600_000 });
  const url = `ws://127.0.0.1:${port}/ws`;
  // A token provider, as a game would use: asked again for every attempt.
  const player = sdkClient({ url, token: () => sign({ sub: 'player' }), reconnect: { initialDelayMs: 200, maxDelayMs: 1000 } });
  t.teardown(() => player.close());
  const { closes } = watch(player);
  const before = await player.connect();
  t.equal(before.nodeId, 'gw-first');
  await player.join('lobby');
  await player.join('raid');
  await player.leave('raid');
  t.same([...player.joinedRooms], ['lobby'], 'joined and not left');
  const rejoined: string[] = [];
  player.on('rejoined', ({ room }) => rejoined.push(room));

  const lost = nextEvent(player, 'close', 10_000);
  await first.stop('SIGTERM');
  const close = await lost;
  t.ok([1001, 1012].includes(close.code), `server going away / restarting: ${close.code}`);
  t.match(close, { willReconnect: true, wasConnected: true, byClient: false });

  const back = nextEvent(player, 'connected', 60_000);
  const lobbyBack = nextEvent(player, 'rejoined', 60_000);
  const second = await startServer({ ...env, NODE_ID: 'gw-second' });
  t.teardown(() => second.stop('SIGKILL'));
  const after = await back;
  t.equal(after.nodeId, 'gw-second', 'connected to the new process');
  t.not(after.sessionId, before.sessionId, 'a new session');
  t.equal(player.state, 'connected');
  t.equal(player.reconnectAttempts, 0, 'attempts reset by connected');
  t.ok(
    closes.slice(1).every((c) => c.code === 1006 && c.willReconnect),
    'attempts while the port was closed failed and were retried',
  );
  t.ok(
    closes.every((c) => c.delayMs! <= 1000),
    'within maxDelayMs',
  );

  // It works: a second player reaches the reconnected one.
  const friend = sdkClient({ url, token: sign({ sub: 'friend' }) });
  t.teardown(() => friend.close());
  await friend.connect();
  const got = nextEvent(player, 'message');
  t.same((await friend.sendTo('player', 'welcome back')).status, 'delivered');
  t.match(await got, { from: 'friend', content: 'welcome back' });
  // Rooms: the SDK joined the lobby again by itself (not the room it left).
  t.same(await lobbyBack, { room: 'lobby' });
  await sleep(100);
  t.same(rejoined, ['lobby'], 'only the rooms still joined');
  await friend.join('lobby');
  const roomMessage = nextEvent(player, 'room');
  await friend.publish('lobby', 'raid at 9');
  t.match(await roomMessage, { room: 'lobby', from: 'friend', content: 'raid at 9' });
  t.ok((await player.ping()) >= 0);
});

t.test('no reconnect after 4001, 4002 or close()', async (t) => {
  const h = (await buildTestApp(t, 'embedded', { SESSION_POLICY: 'replace' }))!;
  const url = `${h.wsUrl}/ws`;
  const open = (userId: string) => {
    const client = sdkClient({ url, token: h.token(userId), reconnect: { initialDelayMs: 50, maxDelayMs: 100 } });
    t.teardown(() => client.close());
    return client;
  };

  await t.test('4001: the same user connected again', async (t) => {
    const phone = open('replaced');
    const phoneEvents = watch(phone);
    await phone.connect();
    const tablet = open('replaced');
    const tabletEvents = watch(tablet);
    const replaced = nextEvent(phone, 'close');
    await tablet.connect();
    t.match(await replaced, { code: 4001, willReconnect: false, wasConnected: true, byClient: false });
    await sleep(600); // several backoff ceilings: a reconnect would have happened by now
    t.equal(phone.state, 'closed');
    t.same(phoneEvents.states, ['connecting', 'open', 'connected', 'closed'], 'no attempt after 4001');
    t.equal(tablet.state, 'connected', 'the newer connection keeps the session');
    t.same(tabletEvents.closes, []);
    t.equal(h.app.gateway.connections.countOf('replaced'), 1);
  });

  await t.test('4002: logged out through the REST API', async (t) => {
    const player = open('logged-out');
    const events = watch(player);
    await player.connect();
    const closed = nextEvent(player, 'close');
    const res = await h.app.inject({
      method: 'POST',
      url: '/api/online/logout',
      headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
      payload: { userId: 'logged-out' },
    });
    t.equal(res.statusCode, 200);
    t.match(await closed, { code: 4002, willReconnect: false });
    await sleep(600);
    t.same(events.states, ['connecting', 'open', 'connected', 'closed'], 'no attempt after 4002');
    t.equal(h.app.gateway.connections.countOf('logged-out'), 0);
  });

  await t.test('close() by the client', async (t) => {
    const player = open('quitter');
    const events = watch(player);
    await player.connect();
    t.match(await player.close(), { code: 1000, byClient: true, willReconnect: false });
    await sleep(600);
    t.same(events.states, ['connecting', 'open', 'connected', 'closing', 'closed']);
    t.equal(h.app.gateway.connections.countOf('quitter'), 0);
  });

  await t.test('a lost connection (no close frame) does reconnect', async (t) => {
    const player = open('flaky');
    const events = watch(player);
    const first = await player.connect();
    const again = nextEvent(player, 'connected', 5000);
    (player.rawSocket as unknown as { terminate(): void }).terminate();
    const second = await again;
    t.not(second.sessionId, first.sessionId);
    t.match(events.closes, [{ code: 1006, willReconnect: true }]);
  });
});

t.test('after a lost connection the SDK rejoins its rooms and takes the offline replay by itself', async (t) => {
  const h = (await buildTestApp(t, 'embedded'))!;
  const url = `${h.wsUrl}/ws`;
  // Back ~2 s after a loss, never sooner: the backoff's full jitter draws from [0, ceiling], so
  // without a fixed draw the SDK could be back before the message below is sent (then delivered
  // live, not queued).
  const player = sdkClient({
    url,
    token: h.token('wanderer'),
    reconnect: { initialDelayMs: 2000, maxDelayMs: 2000 },
    random: () => 0.99,
    autoAckDelayMs: 20,
  });
  const friend = sdkClient({ url, token: h.token('friend2') });
  t.teardown(() => Promise.all([player.close(), friend.close()]));
  await player.connect();
  await friend.connect();
  await player.join('guild');

  // The link drops; before the SDK is back, a message is sent to the player.
  const lost = nextEvent(player, 'close');
  (player.rawSocket as unknown as { terminate(): void }).terminate();
  await lost;
  await eventually(async () => {
    const status = await fetch(`${h.baseUrl}/api/online/players/wanderer`, { headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` } });
    return ((await status.json()) as { sessions?: number }).sessions === 0;
  });
  const replayed = nextEvent(player, 'message', 10_000, (m) => m.offline === true);
  const rejoined = nextEvent(player, 'rejoined', 10_000);
  const ack = await friend.sendTo('wanderer', 'while you were away');
  t.equal(ack.status, 'queued', 'nobody connected: queued');

  const message = await replayed;
  t.match(message, { from: 'friend2', content: 'while you were away', offline: true });
  t.same(await rejoined, { room: 'guild' });
  await friend.join('guild');
  const inRoom = nextEvent(player, 'room');
  await friend.publish('guild', 'welcome back');
  t.match(await inRoom, { room: 'guild', content: 'welcome back' });

  // The replay was acknowledged by the SDK: a new connection does not get it again.
  await sleep(200);
  const replayedAgain: unknown[] = [];
  player.on('message', (m) => m.offline && replayedAgain.push(m));
  const back = nextEvent(player, 'connected', 10_000);
  (player.rawSocket as unknown as { terminate(): void }).terminate();
  await back;
  await sleep(300);
  t.same(replayedAgain, [], 'acknowledged once, not replayed again');
});
