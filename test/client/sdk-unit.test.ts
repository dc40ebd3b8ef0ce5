/**
 * The SDK against a scripted WebSocket and manual timers: backoff bounds (full jitter, reset
 * after a success), which close codes stop reconnecting, request/ack bookkeeping, the ping loop
 * and RTT, liveness, offline acks, listener isolation. Deterministic: no network, no real time.
 */
import t from 'tap';
import { backoffCeiling, backoffDelay, GatehouseClient, GatehouseError, type CloseInfo, type GatehouseClientOptions } from '../../src/client/index.ts';
import { fakeClientOptions, FakeSocket, FakeTimers, flush } from './fakes.ts';

const RECONNECT = { initialDelayMs: 500, maxDelayMs: 30_000, factor: 2 };

function setup(options: Partial<GatehouseClientOptions> = {}) {
  FakeSocket.reset();
  const timers = new FakeTimers();
  const randoms: number[] = [];
  const client = new GatehouseClient({
    ...fakeClientOptions(timers),
    random: () => {
      const r = Math.random();
      randoms.push(r);
      return r;
    },
    ...options,
  });
  const closes: CloseInfo[] = [];
  client.on('close', (c) => closes.push(c));
  return { client, timers, closes, randoms };
}

/** connect() + let the async URL building run + the server accepts. */
async function connected(client: GatehouseClient, userId = 'alice') {
  const ready = client.connect();
  await flush();
  FakeSocket.last().accept(userId);
  return ready;
}

t.test('backoffDelay: full jitter within [0, min(max, initial * factor^n)]', async (t) => {
  t.equal(backoffCeiling(0, RECONNECT), 500);
  t.equal(backoffCeiling(3, RECONNECT), 4000);
  t.equal(backoffCeiling(6, RECONNECT), 30_000, 'capped');
  t.equal(backoffCeiling(5000, RECONNECT), 30_000, 'no overflow');
  for (let n = 0; n < 12; n++) {
    const ceiling = Math.min(30_000, 500 * 2 ** n);
    for (const r of [0, 0.25, 0.5, 0.999999, 1, -1, Number.NaN]) {
      const d = backoffDelay(n, RECONNECT, () => r);
      t.ok(d >= 0 && d <= ceiling && Number.isInteger(d), `attempt ${n}, random ${r}: ${d} within [0, ${ceiling}]`);
    }
    t.equal(
      backoffDelay(n, RECONNECT, () => 0.5),
      Math.floor(ceiling / 2),
    );
  }
});

t.test('reconnect delays grow with jitter, are capped, and reset after a success', async (t) => {
  const { client, timers, closes, randoms } = setup();
  await connected(client);
  t.equal(client.state, 'connected');
  FakeSocket.last().serverClose(1001, 'server going away');
  // The server stays down: every attempt fails.
  for (let n = 0; n < 10; n++) {
    const close = closes.at(-1)!;
    const ceiling = Math.min(30_000, 500 * 2 ** n);
    t.equal(close.willReconnect, true);
    t.equal(close.delayMs, Math.floor(randoms.at(-1)! * ceiling), `attempt ${n}: full jitter of ${ceiling}`);
    t.ok(close.delayMs! >= 0 && close.delayMs! <= ceiling);
    t.equal(client.state, 'reconnecting');
    const before = FakeSocket.sockets.length;
    if (close.delayMs! > 0) {
      timers.advance(close.delayMs! - 1);
      await flush();
      t.equal(FakeSocket.sockets.length, before, 'no attempt before the delay');
    }
    timers.advance(1);
    await flush();
    t.equal(FakeSocket.sockets.length, before + 1, 'attempt after the delay');
    t.equal(client.state, 'connecting');
    if (n < 9) FakeSocket.last().fail();
  }
  t.equal(client.reconnectAttempts, 10);
  FakeSocket.last().accept();
  t.equal(client.reconnectAttempts, 0, 'a connected frame resets the attempts');
  FakeSocket.last().serverClose(4000, 'heartbeat timeout');
  t.ok(closes.at(-1)!.delayMs! <= 500, 'back to the first ceiling');
  t.equal(closes.at(-1)!.wasConnected, true);
  await client.close();
});

t.test('close codes that stop reconnecting: 1000, 1008, 1009, 4001, 4002', async (t) => {
  for (const code of [1000, 1008, 1009, 4001, 4002]) {
    const { client, timers, closes } = setup();
    await connected(client);
    FakeSocket.last().serverClose(code);
    t.match(closes, [{ code, willReconnect: false, delayMs: undefined, byClient: false, wasConnected: true }], `${code}: stop`);
    t.equal(client.state, 'closed');
    t.same(timers.pending(), [], 'no timer left');
    timers.advance(120_000);
    await flush();
    t.equal(FakeSocket.sockets.length, 1, `${code}: never reconnects`);
  }
});

t.test('close codes that reconnect: 1001, 1006, 1011, 1012, 4000, 4003', async (t) => {
  for (const code of [1001, 1006, 1011, 1012, 4000, 4003]) {
    const { client, timers, closes } = setup();
    await connected(client);
    FakeSocket.last().serverClose(code);
    t.match(closes, [{ code, willReconnect: true }], `${code}: reconnect`);
    timers.advance(closes[0]!.delayMs!);
    await flush();
    t.equal(FakeSocket.sockets.length, 2);
    FakeSocket.last().accept();
    t.equal(client.state, 'connected');
    await client.close();
  }
});

t.test('4008 waits at least rateLimitedDelayMs; a reconnect frame sets the delay floor', async (t) => {
  const { client, closes } = setup({ reconnect: { rateLimitedDelayMs: 10_000 } });
  await connected(client);
  FakeSocket.last().serverClose(4008, 'rate limited');
  const d = closes[0]!.delayMs!;
  t.ok(d >= 10_000 && d <= 10_500, `4008 delay ${d} in [10000, 10500]`);
  await client.close();

  const second = setup();
  await connected(second.client);
  const frames: unknown[] = [];
  second.client.on('reconnect', (f) => frames.push(f));
  FakeSocket.last().receive({ type: 'reconnect', reason: 'server restarting', afterMs: 3000 });
  FakeSocket.last().serverClose(1012, 'server restarting');
  t.same(frames, [{ type: 'reconnect', reason: 'server restarting', afterMs: 3000 }], 'reconnect event');
  const d2 = second.closes[0]!.delayMs!;
  t.ok(d2 >= 3000 && d2 <= 3500, `afterMs honoured: ${d2}`);
  await second.client.close();
});

t.test('a refused handshake: 401 stops, 503 retries', async (t) => {
  const { client, timers, closes } = setup();
  const ready = client.connect();
  await flush();
  FakeSocket.last().fail(503);
  t.match(closes.at(-1), { code: 1006, status: 503, willReconnect: true, wasConnected: false });
  timers.advance(closes.at(-1)!.delayMs!);
  await flush();
  FakeSocket.last().fail(401);
  t.match(closes.at(-1), { code: 1006, status: 401, willReconnect: false, reason: 'handshake refused with HTTP 401' });
  await t.rejects(ready, { name: 'GatehouseError', code: 'CLOSED' }, 'connect() rejects once stopped');
  t.equal(client.state, 'closed');
});

t.test('reconnect: false and maxAttempts', async (t) => {
  const { client, closes } = setup({ reconnect: false });
  const ready = client.connect();
  await flush();
  FakeSocket.last().fail();
  await t.rejects(ready, { code: 'CLOSED' });
  t.match(closes, [{ willReconnect: false }]);

  const limited = setup({ reconnect: { maxAttempts: 2 } });
  const attempt = limited.client.connect();
  for (let i = 0; i < 3; i++) {
    await flush();
    FakeSocket.last().fail();
    if (limited.closes.at(-1)!.willReconnect) limited.timers.advance(limited.closes.at(-1)!.delayMs!);
  }
  t.same(
    limited.closes.map((c) => c.willReconnect),
    [true, true, false],
    'two reconnects, then stop',
  );
  t.equal(FakeSocket.sockets.length, 3);
  await t.rejects(attempt, { code: 'CLOSED' });
});

t.test('close(): no reconnect, pending requests reject, also while waiting to reconnect', async (t) => {
  const { client, timers, closes } = setup();
  await connected(client);
  const pending = client.sendTo('bob', 'hi');
  const closed = client.close();
  t.equal(client.state, 'closing');
  t.same(FakeSocket.last().closedWith, { code: 1000, reason: 'client closed' });
  const info = await closed;
  t.match(info, { code: 1000, willReconnect: false, byClient: true });
  await t.rejects(pending, { code: 'CLOSED' });
  timers.advance(120_000);
  await flush();
  t.equal(FakeSocket.sockets.length, 1, 'no reconnect after close()');

  const second = setup();
  await connected(second.client);
  FakeSocket.last().serverClose(1001);
  t.equal(second.client.state, 'reconnecting');
  await second.client.close();
  t.equal(second.client.state, 'closed');
  t.same(second.timers.pending(), [], 'reconnect timer cancelled');
  t.match(second.closes.at(-1), { willReconnect: false, byClient: true });
  second.timers.advance(120_000);
  await flush();
  t.equal(FakeSocket.sockets.length, 1);
  t.equal(closes.length, 1);

  // connect() again after close() works.
  const again = second.client.connect();
  await flush();
  FakeSocket.last().accept();
  t.match(await again, { type: 'connected' });
  await second.client.close();
});

t.test('a server that never answers the close handshake: close() still finishes', async (t) => {
  const { client, timers } = setup({ ackTimeoutMs: 2000 });
  await connected(client);
  const socket = FakeSocket.last();
  socket.close = (code?: number, reason?: string) => void (socket.closedWith = { code, reason });
  const closed = client.close();
  timers.advance(2000);
  t.match(await closed, { code: 1006, byClient: true, willReconnect: false });
});

t.test('URL: token and userId query parameters; a token provider is asked on every attempt', async (t) => {
  let n = 0;
  const { client, timers, closes } = setup({ userId: undefined, url: 'ws://game.test/ws?v=1', token: async () => `tok-${++n}` });
  await connected(client);
  t.equal(FakeSocket.last().url, 'ws://game.test/ws?v=1&token=tok-1');
  FakeSocket.last().serverClose(1001);
  timers.advance(closes[0]!.delayMs!);
  await flush();
  t.equal(FakeSocket.last().url, 'ws://game.test/ws?v=1&token=tok-2', 'fresh token for the reconnect');
  await client.close();
  const dev = setup();
  await connected(dev.client);
  t.equal(FakeSocket.last().url, 'ws://game.test/ws?userId=alice');
  await dev.client.close();
});

t.test('requests: acks, error frames with ref, timeouts, not connected', async (t) => {
  const { client, timers } = setup({ ackTimeoutMs: 5000 });
  await t.rejects(client.sendTo('bob', 'x'), { code: 'NOT_CONNECTED' });
  await t.rejects(client.ping(), { code: 'NOT_CONNECTED' });
  await connected(client);
  const socket = FakeSocket.last();

  const delivered = client.sendTo('bob', { move: 1 });
  const queued = client.publish('lobby', 'hello', { id: 'my-id' });
  const failing = client.sendTo('nobody', 'x');
  const frames = socket.frames().filter((f) => f.type !== 'ping');
  t.match(frames, [
    { type: 'message', to: 'bob', content: { move: 1 }, id: /^[0-9a-f-]{36}$/ },
    { type: 'room', room: 'lobby', content: 'hello', id: 'my-id' },
    { type: 'message', to: 'nobody', content: 'x' },
  ]);
  const errors: unknown[] = [];
  client.on('error', (e) => errors.push(e));
  socket.receive({ type: 'error', code: 'USER_OFFLINE', error: 'user nobody is offline', ref: frames[2]!.id });
  socket.receive({ type: 'ack', id: 'my-id', status: 'queued' });
  socket.receive({ type: 'ack', id: frames[0]!.id, status: 'delivered' });
  t.same(await delivered, { id: frames[0]!.id, status: 'delivered' });
  t.same(await queued, { id: 'my-id', status: 'queued' });
  const error = await failing.catch((e: unknown) => e);
  t.ok(error instanceof GatehouseError);
  t.match(error, { code: 'USER_OFFLINE', message: 'user nobody is offline', ref: frames[2]!.id, frame: { type: 'error' } });
  t.equal(errors.length, 1, 'the error event fires too');

  await t.rejects(client.sendTo('bob', 'x', { id: 'x'.repeat(65) }), { code: 'BAD_MESSAGE' }, 'an id the server could not echo');
  await t.rejects(client.sendTo('bob', 'x', { id: '' }), { code: 'BAD_MESSAGE' });
  const first = client.publish('lobby', 'again', { id: 'dup' });
  await t.rejects(client.publish('lobby', 'dup', { id: 'dup' }), { code: 'BAD_MESSAGE' }, 'a duplicate pending id is refused');
  socket.receive({ type: 'ack', id: 'dup', status: 'delivered' });
  t.same(await first, { id: 'dup', status: 'delivered' }, 'the first one is unaffected');

  // Every ack status resolves (none is an error: the message was handled), counts passed on.
  const dropped = client.sendTo('stuck', 'x', { id: 'd1' });
  const unconfirmed = client.sendTo('far', 'x', { id: 'u1' });
  const published = client.publish('lobby', 'x', { id: 's1' });
  const future = client.sendTo('bob', 'x', { id: 'f1' });
  socket.receive({ type: 'ack', id: 'd1', status: 'dropped', sessions: 0, dropped: 2 });
  socket.receive({ type: 'ack', id: 'u1', status: 'unconfirmed' });
  socket.receive({ type: 'ack', id: 's1', status: 'sent' });
  socket.receive({ type: 'ack', id: 'f1', status: 'some-future-status' });
  t.same(await dropped, { id: 'd1', status: 'dropped', sessions: 0, dropped: 2 });
  t.same(await unconfirmed, { id: 'u1', status: 'unconfirmed' });
  t.same(await published, { id: 's1', status: 'sent' });
  t.same(await future, { id: 'f1', status: 'some-future-status' }, 'an unknown status is passed on, not an error');

  const slow = client.sendTo('bob', 'late', { timeoutMs: 1000 });
  timers.advance(999);
  await flush();
  let settled = false;
  void slow.catch(() => (settled = true));
  await flush();
  t.notOk(settled, 'not before the timeout');
  timers.advance(1);
  await t.rejects(slow, { code: 'TIMEOUT' });

  const join = client.join('lobby');
  const join2 = client.join('arena');
  const leave = client.leave('lobby');
  const joins = socket.frames().filter((f) => f.type === 'join' || f.type === 'leave');
  t.match(joins, [
    { type: 'join', room: 'lobby', id: String },
    { type: 'join', room: 'arena' },
    { type: 'leave', room: 'lobby' },
  ]);
  socket.receive({ type: 'error', code: 'BAD_MESSAGE', error: 'room must be ...', ref: joins[1]!.id });
  socket.receive({ type: 'joined', room: 'lobby' });
  socket.receive({ type: 'left', room: 'lobby' });
  t.same(await join, { type: 'joined', room: 'lobby' });
  t.same(await leave, { type: 'left', room: 'lobby' });
  await t.rejects(join2, { code: 'BAD_MESSAGE' });

  // Refusals of a join carry no ref (the join schema has no id): the oldest pending join/leave.
  const full = client.join('r65');
  const next = client.join('r66');
  const sent = client.sendTo('bob', 'in between');
  const summaries: unknown[] = [];
  const offSummaries = client.on('error', (frame) => void summaries.push(frame));
  socket.receive({ type: 'error', code: 'RATE_LIMITED', error: 'too many frames or bytes per second', count: 12 });
  offSummaries();
  t.same(
    summaries,
    [{ type: 'error', code: 'RATE_LIMITED', error: 'too many frames or bytes per second', count: 12 }],
    "the window's summary reaches the app with its count",
  );
  socket.receive({ type: 'error', code: 'FORBIDDEN', error: 'a session may be in at most 64 rooms' });
  await t.rejects(full, { code: 'FORBIDDEN', message: 'a session may be in at most 64 rooms' });
  socket.receive({ type: 'joined', room: 'r66' });
  t.same(await next, { type: 'joined', room: 'r66' }, 'RATE_LIMITED without ref answered nothing in particular');
  socket.receive({ type: 'error', code: 'NOT_AVAILABLE', error: 'no bus' });
  const lastSent = socket.frames().at(-1)!;
  socket.receive({ type: 'ack', id: lastSent.id, status: 'delivered' });
  t.match(await sent, { status: 'delivered' }, 'a ref-less error never rejects a sendTo');

  const lost = client.sendTo('bob', 'lost');
  const lostPing = client.ping();
  socket.serverClose(1006);
  await t.rejects(lost, { code: 'CLOSED' }, 'pending acks reject on close');
  await t.rejects(lostPing, { code: 'CLOSED' });
  await client.close();
});

t.test('ping loop: every heartbeat interval, RTT from the pong, liveness drop', async (t) => {
  // A fixed jitter: with Math.random a draw under 1/500 makes the reconnect delay 0, and the
  // attempt then runs inside the same advance() that dropped the socket (state 'connecting').
  const { client, timers, closes } = setup({ random: () => 0.5 });
  const rtts: number[] = [];
  client.on('rtt', (r) => rtts.push(r));
  const ready = client.connect();
  await flush();
  const socket = FakeSocket.last();
  socket.open();
  socket.receive({ type: 'connected', sessionId: 's', userId: 'alice', nodeId: 'n', heartbeat: { intervalMs: 2000, timeoutMs: 7000 }, serverTime: 1 });
  await ready;
  const pings = () => socket.frames().filter((f) => f.type === 'ping');
  t.equal(pings().length, 1, 'first ping right after connected');
  timers.advance(30);
  socket.receive({ type: 'pong', ts: pings()[0]!.ts, serverTime: 5 });
  t.same(rtts, [30], 'rtt from the injected clock');
  t.equal(client.rtt, 30);
  timers.advance(1970);
  t.equal(pings().length, 2, 'server heartbeat.intervalMs (2000) is the default interval');
  socket.receive({ type: 'pong', ts: pings()[1]!.ts, serverTime: 6 });
  t.same(rtts, [30, 0]);
  // The server goes silent (half-open TCP) from t=2000: the ticks at 4000, 6000 and 8000 find it
  // within timeoutMs (7000), 10000 finds it past the limit once, 12000 twice: dropped.
  timers.advance(8000);
  t.equal(closes.length, 0, 'not on the first tick past the limit');
  timers.advance(2000);
  t.match(closes, [{ code: 4000, willReconnect: true, wasConnected: true }], 'dropped after heartbeat.timeoutMs of silence, two ticks in a row');
  t.equal(client.state, 'reconnecting');
  socket.serverClose(1006);
  t.equal(closes.length, 1, 'late events of a dropped socket are ignored');
  await client.close();

  const custom = setup({ pingIntervalMs: 500, livenessTimeoutMs: 0 });
  await connected(custom.client);
  custom.timers.advance(1000);
  t.equal(
    FakeSocket.last()
      .frames()
      .filter((f) => f.type === 'ping').length,
    3,
    'pingIntervalMs overrides',
  );
  custom.timers.advance(60_000);
  t.equal(custom.closes.length, 0, 'livenessTimeoutMs 0: never dropped');
  t.same(custom.timers.pending(), [500], 'one timer for the loop, none per unanswered ping');
  await custom.client.close();

  const none = setup({ pingIntervalMs: 0 });
  await connected(none.client);
  none.timers.advance(10_000);
  t.equal(FakeSocket.last().sent.length, 0, 'pingIntervalMs 0: no ping loop');
  await none.client.close();
});

t.test('liveness: a frame between two silent ticks resets the count', async (t) => {
  const { client, timers, closes } = setup({ pingIntervalMs: 1000, livenessTimeoutMs: 3000 });
  await connected(client);
  timers.advance(4000); // tick at 4000: silent 4000 > 3000, suspect
  timers.advance(500);
  FakeSocket.last().receive({ type: 'pong', serverTime: 1 }); // at 4500
  timers.advance(500); // tick at 5000: silent 500, reset
  timers.advance(3000); // ticks at 6000, 7000: fine; 8000: silent 3500, suspect
  t.same(closes, [], 'not dropped');
  timers.advance(999);
  t.same(closes, []);
  timers.advance(1); // 9000: second silent tick
  t.match(closes, [{ code: 4000, willReconnect: true }]);
  await client.close();
});

t.test('offline replays are acked (one cumulative ack) after the message event; typed events', async (t) => {
  const { client, timers } = setup();
  await connected(client);
  const socket = FakeSocket.last();
  const seen: string[] = [];
  client.on('message', (m) => seen.push(`message ${m.id} acked=${socket.sent.some((s) => s.includes(m.id))}`));
  for (const type of ['room', 'broadcast', 'kicked', 'joined', 'left', 'ack', 'pong', 'error'] as const) {
    client.on(type, () => seen.push(type));
  }
  const raw: string[] = [];
  client.on('frame', (f) => raw.push(f.type));
  socket.sent.length = 0;
  socket.receive({ type: 'message', from: 'bob', content: 'while you were away', id: 'srv-1', ts: 1, offline: true });
  socket.receive({ type: 'message', from: 'bob', content: 'and this', id: 'srv-1b', ts: 1, offline: true });
  socket.receive({ type: 'message', from: 'bob', content: 'live', id: 'srv-2', ts: 2 });
  socket.receive({ type: 'room', room: 'lobby', from: 'bob', content: 1, id: 'srv-3', ts: 3 });
  socket.receive({ type: 'broadcast', content: 'maintenance', ts: 4 });
  socket.receive({ type: 'kicked', reason: 'bye' });
  socket.receive({ type: 'teleport', to: 'mars' });
  socket.receive('not json');
  socket.receive('[1,2]');
  t.same(seen, ['message srv-1 acked=false', 'message srv-1b acked=false', 'message srv-2 acked=false', 'room', 'broadcast', 'kicked']);
  t.same(socket.frames(), [], 'not yet: acks are coalesced');
  timers.advance(100);
  t.same(socket.frames(), [{ type: 'ack', id: 'srv-1b' }], 'one cumulative ack for the last replay processed');
  socket.receive({ type: 'message', from: 'bob', content: 'late', id: 'srv-4', ts: 5, offline: true });
  t.same(raw, ['message', 'message', 'message', 'room', 'broadcast', 'kicked', 'teleport', 'message'], 'frame event: every JSON frame');
  await client.close();
  t.same(
    socket.frames(),
    [
      { type: 'ack', id: 'srv-1b' },
      { type: 'ack', id: 'srv-4' },
    ],
    'close() sends the pending ack first',
  );

  const lost = setup();
  await connected(lost.client);
  FakeSocket.last().receive({ type: 'message', from: 'bob', content: 'x', id: 'srv-5', ts: 1, offline: true });
  FakeSocket.last().serverClose(1006);
  lost.timers.advance(100);
  t.same(
    FakeSocket.last()
      .frames()
      .filter((f) => f.type === 'ack'),
    [],
    'a lost connection drops the pending ack (replayed again later)',
  );
  await lost.client.close();

  const manual = setup({ autoAck: false });
  await connected(manual.client);
  FakeSocket.last().sent.length = 0;
  FakeSocket.last().receive({ type: 'message', from: 'bob', content: 'x', id: 'srv-9', ts: 1, offline: true });
  t.same(FakeSocket.last().frames(), [], 'autoAck: false');
  await manual.client.close();
});

t.test('a throwing listener breaks nothing', async (t) => {
  const reported: Array<[unknown, string]> = [];
  const { client, timers } = setup({ onListenerError: (error, event) => reported.push([error, event]) });
  const got: unknown[] = [];
  client.on('message', () => {
    throw new Error('game bug');
  });
  client.on('message', (m) => got.push(m.content));
  client.on('connected', () => {
    throw new Error('connected bug');
  });
  await connected(client);
  t.equal(client.state, 'connected');
  FakeSocket.last().receive({ type: 'message', from: 'bob', content: 1, id: 'a', ts: 1, offline: true });
  FakeSocket.last().receive({ type: 'message', from: 'bob', content: 2, id: 'b', ts: 1 });
  t.same(got, [1, 2], 'later listeners still run');
  timers.advance(100);
  t.ok(
    FakeSocket.last().sent.some((s) => s === '{"type":"ack","id":"a"}'),
    'the auto-ack still went out',
  );
  t.same(
    reported.map(([e, ev]) => `${ev}: ${(e as Error).message}`),
    ['connected: connected bug', 'message: game bug', 'message: game bug'],
  );

  const off = client.on('rtt', () => t.fail('removed'));
  off();
  t.equal(client.listenerCount('rtt'), 0);
  let once = 0;
  client.once('broadcast', () => once++);
  FakeSocket.last().receive({ type: 'broadcast', content: 1, ts: 1 });
  FakeSocket.last().receive({ type: 'broadcast', content: 2, ts: 2 });
  t.equal(once, 1);
  await client.close();
});

t.test('the constructor needs a WebSocket: the option, or a global one (browsers, Node 22+)', async (t) => {
  const global = globalThis as { WebSocket?: unknown };
  const own = Object.getOwnPropertyDescriptor(global, 'WebSocket');
  // As on Node 20: no global WebSocket.
  delete global.WebSocket;
  try {
    t.throws(() => new GatehouseClient({ url: 'ws://x/ws' }), /pass \{ WebSocket \}/);
  } finally {
    if (own) Object.defineProperty(global, 'WebSocket', own);
  }
  if (own) t.doesNotThrow(() => new GatehouseClient({ url: 'ws://x/ws' }), 'the global one is taken');
  const states: string[] = [];
  const { client } = setup();
  client.on('state', (s) => states.push(s.state));
  await connected(client);
  await client.close();
  t.same(states, ['connecting', 'open', 'connected', 'closing', 'closed']);
});
