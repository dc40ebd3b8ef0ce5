/**
 * Frames: pong echo, direct messages with acks, and every bad-input row of PROTOCOL.md. Bad
 * input gets a coded error frame, the connection stays, and nothing else changes.
 */
import t from 'tap';
import { CloseCode } from '../../src/protocol/close-codes.ts';
import { buildTestApp } from '../helpers/build.ts';
import { TestClient } from '../helpers/ws-client.ts';

t.test('frames', async (t) => {
  const h = (await buildTestApp(t, 'embedded', { MAX_CONTENT_BYTES: '1024', MAX_PAYLOAD_BYTES: '4096' }))!;
  const open = async (userId: string) => (await TestClient.open(`${h.wsUrl}/ws?token=${h.token(userId)}`)).client;
  const alice = await open('alice');
  const bob = await open('bob');

  await t.test('ping -> pong echoing ts', async (t) => {
    alice.send({ type: 'ping', ts: 1234.5 });
    const pong = await alice.next('pong');
    t.equal(pong.ts, 1234.5);
    t.ok(Math.abs((pong.serverTime as number) - Date.now()) < 5000);
  });

  await t.test('direct message delivered with ack', async (t) => {
    alice.send({ type: 'message', to: 'bob', content: { move: [1, 2] }, id: 'c-1' });
    const msg = await bob.next('message');
    t.match(msg, { type: 'message', from: 'alice', content: { move: [1, 2] } });
    t.match(msg.id, /^[0-9a-f-]{36}$/, 'server id');
    t.type(msg.ts, 'number');
    const ack = await alice.next('ack');
    t.same(ack, { type: 'ack', id: 'c-1', status: 'delivered' });
  });

  await t.test(
    'message to an offline user -> queued if they ever logged in, UNKNOWN_USER if not (USER_OFFLINE only without an offline queue: test/ws/offline.test.ts)',
    async (t) => {
      await h.app.players.recordLogins([{ userId: 'away', username: 'away', loginAt: Date.now() }]);
      alice.send({ type: 'message', to: 'away', content: 'hi', id: 'c-2' });
      t.same(await alice.next('ack'), { type: 'ack', id: 'c-2', status: 'queued' });
      alice.send({ type: 'message', to: 'nobody', content: 'hi', id: 'c-2b' });
      t.match(await alice.next('error'), { type: 'error', code: 'UNKNOWN_USER', ref: 'c-2b' });
    },
  );

  const errorCases: Array<[string, string | object, string]> = [
    ['not JSON', '{"type":', 'BAD_JSON'],
    ['JSON array', '[1,2]', 'BAD_JSON'],
    ['JSON null', 'null', 'BAD_JSON'],
    ['no type', { to: 'bob' }, 'BAD_MESSAGE'],
    ['unknown type', { type: 'teleport' }, 'BAD_MESSAGE'],
    ['message without to', { type: 'message', content: 'x' }, 'BAD_MESSAGE'],
    ['message with numeric to', { type: 'message', to: 42, content: 'x' }, 'BAD_MESSAGE'],
    ['message without content', { type: 'message', to: 'bob' }, 'BAD_MESSAGE'],
    ['message to a malformed userId', { type: 'message', to: 'b o b', content: 'x' }, 'BAD_MESSAGE'],
    ['ping with string ts', { type: 'ping', ts: 'now' }, 'BAD_MESSAGE'],
    ['content over MAX_CONTENT_BYTES', { type: 'message', to: 'bob', content: 'x'.repeat(1100) }, 'TOO_LARGE'],
  ];
  for (const [name, frame, code] of errorCases) {
    await t.test(`${name} -> ${code}`, async (t) => {
      alice.send(frame);
      const err = await alice.next('error');
      t.equal(err.code, code);
      t.type(err.error, 'string');
      t.equal(h.app.gateway.connections.countOf('alice'), 1, 'connection stays');
    });
  }

  await t.test('error frames carry the client id as ref', async (t) => {
    alice.send({ type: 'message', to: 'bob', content: 'y'.repeat(2000), id: 'big-1' });
    t.match(await alice.next('error'), { code: 'TOO_LARGE', ref: 'big-1' });
  });

  await t.test('binary frame -> BINARY_NOT_SUPPORTED', async (t) => {
    alice.sendBinary(Buffer.from([1, 2, 3]));
    t.equal((await alice.next('error')).code, 'BINARY_NOT_SUPPORTED');
    await alice.ping();
  });

  await t.test('nothing reached bob from the bad frames', async (t) => {
    await bob.ping();
    t.equal(bob.frames.filter((f) => f.type === 'message').length, 0);
  });

  await t.test('frame over MAX_PAYLOAD_BYTES closes with 1009', async (t) => {
    const victim = await open('oversize');
    victim.send(JSON.stringify({ type: 'ping', pad: 'z'.repeat(5000) }));
    t.equal((await victim.closed).code, CloseCode.TOO_BIG);
    await alice.ping();
  });

  await alice.close();
  await bob.close();
});

t.test('rate limit: RATE_LIMITED, then close 4008 after the strikes', async (t) => {
  const h = (await buildTestApp(t, 'embedded', { MAX_MESSAGES_PER_SEC: '5', RATE_LIMIT_STRIKES: '2' }))!;
  const { client } = await TestClient.open(`${h.wsUrl}/ws?token=${h.token('spammer')}`);
  const { client: bystander } = await TestClient.open(`${h.wsUrl}/ws?token=${h.token('bystander')}`);
  const order: string[] = [];
  client.sdk.on('frame', (f) => void order.push(f.type));
  for (let i = 0; i < 20; i++) client.send({ type: 'ping', ts: i });
  const limited = await client.next('error');
  t.equal(limited.code, 'RATE_LIMITED');
  t.ok(typeof limited.count === 'number' && limited.count >= 1, 'with the count of the refused frames');
  // The error frame ends the window; pongs after it belong to the next one.
  t.ok(order.slice(0, order.indexOf('error')).filter((type) => type === 'pong').length <= 5, 'at most 5 pongs in the window');
  // Keep flooding across windows until the strikes close the session.
  const flood = setInterval(() => {
    for (let i = 0; i < 10; i++) client.send({ type: 'ping', ts: i });
  }, 100);
  const closed = await client.closed;
  clearInterval(flood);
  t.equal(closed.code, CloseCode.RATE_LIMITED);
  t.same(client.frames.at(-1), { type: 'kicked', reason: 'rate_limited' }, 'the last frame before the close says why');
  await bystander.ping();
  await bystander.close();
});

t.test('fuzz: thousands of random frames never crash the process or other sessions', async (t) => {
  const h = (await buildTestApp(t, 'embedded', { MAX_MESSAGES_PER_SEC: '100000', MAX_PAYLOAD_BYTES: '65536' }))!;
  const { client: fuzzer } = await TestClient.open(`${h.wsUrl}/ws?token=${h.token('fuzzer')}`);
  const { client: victim } = await TestClient.open(`${h.wsUrl}/ws?token=${h.token('victim')}`);
  let seed = 42;
  const rand = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
  const valid = ['{"type":"ping","ts":1}', '{"type":"message","to":"victim","content":"hi"}', '{"type":"message","to":"fuzzer","content":{"a":[1]}}'];
  const generators: Array<() => string | Buffer> = [
    () => Buffer.from(Array.from({ length: Math.floor(rand() * 200) }, () => Math.floor(rand() * 256))),
    () => valid[Math.floor(rand() * valid.length)]!.slice(0, Math.floor(rand() * 40)),
    () => `{"type":"ping","ts":${'9'.repeat(Math.floor(rand() * 400))}}`,
    () => `{"type":"ping","ts":1e${Math.floor(rand() * 1000)}}`,
    () => '['.repeat(5000 + Math.floor(rand() * 5000)),
    () => `${'{"a":'.repeat(3000)}1${'}'.repeat(3000)}`,
    () =>
      JSON.stringify({
        type: ['ping', 'message', 'join', 'room', 'ack', '__proto__'][Math.floor(rand() * 6)],
        to: rand() > 0.5 ? 'victim' : { x: 1 },
        content: rand(),
        id: rand() > 0.5 ? 'x'.repeat(Math.floor(rand() * 100)) : 7,
      }),
    () => '{"__proto__":{"polluted":true},"type":"ping"}',
    () => String.fromCharCode(...Array.from({ length: 50 }, () => Math.floor(rand() * 0xd7ff))),
  ];
  for (let i = 0; i < 3000; i++) {
    const frame = generators[Math.floor(rand() * generators.length)]!();
    if (typeof frame === 'string') fuzzer.send(frame);
    else fuzzer.sendBinary(frame);
    if (i % 200 === 0) await victim.ping(); // the bystander keeps getting pongs throughout
  }
  await fuzzer.ping(10_000);
  await victim.ping();
  t.equal(({} as Record<string, unknown>).polluted, undefined, 'no prototype pollution');
  t.equal(h.app.gateway.connections.size, 2, 'both sessions alive');
  const health = await fetch(`${h.baseUrl}/health/live`);
  t.equal(health.status, 200, 'process serves HTTP');
  await fuzzer.close();
  await victim.close();
});
