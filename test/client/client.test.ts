/**
 * The SDK against a real gateway (embedded backend, JWT auth): connected, ping RTT, typed events,
 * direct messages with acks, error frames and timeouts as rejections, a refused handshake.
 */
import t from 'tap';
import { GatehouseError, type CloseInfo } from '../../src/client/index.ts';
import { buildTestApp, eventually, TEST_ADMIN_TOKEN } from '../helpers/build.ts';
import { nextEvent, sdkClient, sleep, tcpOf } from './helpers.ts';

t.test('SDK against a real gateway', async (t) => {
  // No offline queue here: a message to an offline user is USER_OFFLINE (queued: see below).
  const h = (await buildTestApp(t, 'embedded', { MAX_CONTENT_BYTES: '1024', OFFLINE_QUEUE_MAX: '0' }))!;
  const url = `${h.wsUrl}/ws`;
  const open = (userId: string, extra = {}) => {
    const client = sdkClient({ url, token: h.token(userId), ...extra });
    t.teardown(() => client.close());
    return client;
  };
  const alice = open('alice');
  const bob = open('bob');

  await t.test('connect resolves with the connected frame, also emitted', async (t) => {
    const event = nextEvent(alice, 'connected');
    const connected = await alice.connect();
    t.match(connected, { type: 'connected', userId: 'alice', nodeId: h.config.NODE_ID, heartbeat: { intervalMs: 1000, timeoutMs: 10_000 } });
    t.match(connected.sessionId, /^[0-9a-f-]{36}$/);
    t.equal(await event, connected);
    t.equal(alice.state, 'connected');
    t.equal(alice.session, connected);
    t.equal(await alice.connect(), connected, 'connect() while connected: the same session');
    await bob.connect();
  });

  await t.test('ping: RTT in ms; the ping loop measures it on its own', async (t) => {
    const rtt = await alice.ping();
    t.ok(rtt >= 0 && rtt < 1000, `rtt ${rtt.toFixed(2)} ms`);
    // The loop pinged right after connected and keeps pinging every heartbeat.intervalMs.
    const looped = await nextEvent(alice, 'rtt', 3000);
    t.ok(looped >= 0 && looped < 1000);
    t.type(alice.rtt, 'number');
  });

  await t.test('sendTo: delivered ack, the message event on the other side', async (t) => {
    const received = nextEvent(bob, 'message');
    const ack = await alice.sendTo('bob', { move: [1, 2] });
    t.equal(ack.status, 'delivered');
    t.match(ack.id, /^[0-9a-f-]{36}$/, 'generated client id');
    t.match(await received, { type: 'message', from: 'alice', content: { move: [1, 2] }, id: String, ts: Number });
    t.same(await alice.sendTo('bob', 'with my id', { id: 'c-42' }), { id: 'c-42', status: 'delivered' });
  });

  await t.test('error frames reject with their code', async (t) => {
    const offline = await alice.sendTo('nobody', 'hi').catch((e: unknown) => e);
    t.ok(offline instanceof GatehouseError);
    t.match(offline, { code: 'USER_OFFLINE', ref: String, frame: { type: 'error', code: 'USER_OFFLINE' } });
    const errorEvent = nextEvent(alice, 'error');
    await t.rejects(alice.sendTo('bob', 'x'.repeat(2000)), { name: 'GatehouseError', code: 'TOO_LARGE' });
    t.match(await errorEvent, { type: 'error', code: 'TOO_LARGE', ref: String });
    await t.rejects(alice.join('not a room!'), { code: 'BAD_MESSAGE' }, 'a malformed room name is refused with the join id as ref');
    t.equal(alice.state, 'connected', 'the connection stays');
  });

  await t.test('no answer in time: TIMEOUT (the client stops reading its socket)', async (t) => {
    const slow = open('slow', { ackTimeoutMs: 300, pingIntervalMs: 0 });
    await slow.connect();
    tcpOf(slow).pause();
    const started = Date.now();
    await t.rejects(slow.sendTo('bob', 'unread ack'), { code: 'TIMEOUT' });
    await t.rejects(slow.ping(200), { code: 'TIMEOUT' });
    t.ok(Date.now() - started >= 450, 'after the timeouts');
    tcpOf(slow).resume();
    t.ok((await slow.ping()) >= 0, 'works again once reading');
  });

  await t.test('broadcast event', async (t) => {
    const got = nextEvent(bob, 'broadcast');
    const res = await h.app.inject({
      method: 'POST',
      url: '/api/broadcast',
      headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
      payload: { content: { motd: 'hi' } },
    });
    t.ok(res.statusCode < 300, `broadcast ${res.statusCode}`);
    t.match(await got, { type: 'broadcast', content: { motd: 'hi' }, ts: Number });
  });

  await t.test('pending requests reject when the connection is lost', async (t) => {
    const carol = open('carol', { pingIntervalMs: 0, reconnect: false });
    await carol.connect();
    const pending = carol.sendTo('bob', 'in flight');
    tcpOf(carol).destroy(); // same tick: no answer can have arrived
    await t.rejects(pending, { code: 'CLOSED' });
    t.equal(carol.state, 'closed');
    await t.rejects(carol.sendTo('bob', 'after'), { code: 'NOT_CONNECTED' });
  });

  await t.test('a refused handshake (bad token) stops: no retry loop', async (t) => {
    const intruder = sdkClient({ url, token: 'not-a-jwt' });
    const closes: CloseInfo[] = [];
    intruder.on('close', (c) => closes.push(c));
    await t.rejects(intruder.connect(), { code: 'CLOSED' });
    t.match(closes, [{ code: 1006, status: 401, willReconnect: false, wasConnected: false }]);
    t.equal(intruder.state, 'closed');
  });

  await t.test('kicked: the server says why before its close (a second device, then a REST logout); the close info carries it', async (t) => {
    const phone = open('erin');
    await phone.connect();
    const kicked = nextEvent(phone, 'kicked');
    const closed = nextEvent(phone, 'close');
    const laptop = open('erin');
    await laptop.connect();
    t.same(await kicked, { type: 'kicked', reason: 'replaced' }, 'kicked event');
    t.match(await closed, { code: 4001, kicked: 'replaced', willReconnect: false, byClient: false });
    const laptopClosed = nextEvent(laptop, 'close');
    const res = await fetch(`${h.baseUrl}/api/online/logout`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ userId: 'erin' }),
    });
    t.equal(res.status, 200);
    t.match(await laptopClosed, { code: 4002, kicked: 'logged_out', willReconnect: false });
  });

  await t.test('close(): a normal close, the server logs the user out', async (t) => {
    const dave = open('dave');
    await dave.connect();
    const info = await dave.close();
    t.match(info, { code: 1000, byClient: true, willReconnect: false, wasConnected: true });
    t.notOk('kicked' in info, 'no kicked reason on a close the server did not decide');
    t.equal(dave.state, 'closed');
    await sleep(100);
    t.equal(h.app.gateway.connections.countOf('dave'), 0);
  });
});

t.test('SDK: offline replay with automatic acks, rooms', async (t) => {
  const h = (await buildTestApp(t, 'embedded', { MAX_ROOMS_PER_SESSION: '2' }))!;
  const url = `${h.wsUrl}/ws`;
  const open = (userId: string, extra = {}) => {
    const client = sdkClient({ url, token: h.token(userId), ...extra });
    t.teardown(() => client.close());
    return client;
  };
  const alice = open('alice');
  await alice.connect();

  await t.test('messages to an offline user are queued, replayed once, acked by the SDK', async (t) => {
    await h.app.players.recordLogins([{ userId: 'later', username: 'later', loginAt: Date.now() }]); // only known users are queued for
    t.same((await alice.sendTo('later', 'm1')).status, 'queued');
    t.same((await alice.sendTo('later', { n: 2 })).status, 'queued');
    const later = open('later');
    const got: unknown[] = [];
    later.on('message', (m) => got.push({ content: m.content, offline: m.offline, from: m.from }));
    await later.connect();
    await eventually(() => got.length === 2);
    t.same(
      got,
      [
        { content: 'm1', offline: true, from: 'alice' },
        { content: { n: 2 }, offline: true, from: 'alice' },
      ],
      'replayed in order, marked offline',
    );
    await sleep(300); // the coalesced ack went out
    await later.close();
    // A new session gets nothing again: the ack removed both from the queue.
    const again = open('later');
    const replayed: unknown[] = [];
    again.on('message', (m) => replayed.push(m.content));
    await again.connect();
    const live = nextEvent(again, 'message');
    await alice.sendTo('later', 'live one');
    t.equal((await live).content, 'live one');
    t.same(replayed, ['live one'], 'nothing replayed twice');
  });

  await t.test('rooms: join, publish with ack, room event, leave, refusals', async (t) => {
    const bob = open('bob');
    await bob.connect();
    t.same(await alice.join('lobby'), { type: 'joined', room: 'lobby' });
    t.same(await bob.join('lobby'), { type: 'joined', room: 'lobby' });
    const heard = nextEvent(bob, 'room');
    const ack = await alice.publish('lobby', { text: 'gg' });
    t.equal(ack.status, 'delivered');
    t.match(await heard, { type: 'room', room: 'lobby', from: 'alice', content: { text: 'gg' } });
    await t.rejects(alice.publish('arena', 'x'), { code: 'NOT_IN_ROOM' }, 'publish without membership');
    t.same(await alice.join('arena'), { type: 'joined', room: 'arena' });
    // MAX_ROOMS_PER_SESSION=2: the third join is refused (an error frame without ref).
    const started = Date.now();
    await t.rejects(alice.join('third'), { code: 'FORBIDDEN' });
    t.ok(Date.now() - started < 2000, 'rejected by the answer, not by the timeout');
    t.same(await alice.leave('arena'), { type: 'left', room: 'arena' });
    t.same(await alice.join('third'), { type: 'joined', room: 'third' });
  });
});
