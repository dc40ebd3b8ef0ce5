/**
 * Admission control of logins (src/connection/login-admission.ts, MAX_PENDING_LOGINS): beyond
 * the limit of logins in flight, a handshake is answered 503 GW_BUSY with a spread Retry-After
 * before any token work, counted in gatehouse_logins_deferred_total; places come back when
 * logins end, abandoned handshakes included; the SDK waits the Retry-After before retrying.
 *
 * Logins are held in flight by a real slow component: the studio's JWKS endpoint answering only
 * when the test says so (the first RS256 token makes the gateway fetch the key set).
 */
import t from 'tap';
import { createServer, type ServerResponse } from 'node:http';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import WebSocket from 'ws';
import { buildTestApp, eventually } from '../helpers/build.ts';
import { HandshakeRefused, TestClient } from '../helpers/ws-client.ts';
import { GatehouseClient } from '../../src/client/index.ts';

async function refusal(url: string): Promise<HandshakeRefused> {
  try {
    const client = await TestClient.connect(url);
    await client.close();
  } catch (error) {
    if (error instanceof HandshakeRefused) return error;
    throw error;
  }
  throw new Error('handshake was accepted');
}

/** A JWKS endpoint that answers when released. */
async function slowJwks() {
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
  const waiting: ServerResponse[] = [];
  let released = false;
  const answer = (res: ServerResponse) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] }));
  const server = createServer((_req, res) => (released ? answer(res) : waiting.push(res)));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return {
    url: `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/jwks.json`,
    token: (sub: string) => new SignJWT({ sub }).setProtectedHeader({ alg: 'RS256', kid: 'k1' }).setIssuedAt().setExpirationTime('1h').sign(privateKey),
    release() {
      released = true;
      for (const res of waiting.splice(0)) answer(res);
    },
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

t.test('over MAX_PENDING_LOGINS: 503 GW_BUSY with Retry-After before any token work; places come back', async (t) => {
  const jwks = await slowJwks();
  t.teardown(() => jwks.stop());
  const h = (await buildTestApp(t, 'embedded', { MAX_PENDING_LOGINS: '2', AUTH_JWT_JWKS_URL: jwks.url }))!;
  const admission = h.app.gateway.admission;

  // Two logins held in token verification (the key set is on its way).
  const held = await Promise.all(['held-1', 'held-2'].map((u) => jwks.token(u)));
  const first = TestClient.connect(`${h.wsUrl}/ws?token=${held[0]}`);
  const secondSocket = new WebSocket(`${h.wsUrl}/ws?token=${held[1]}`);
  secondSocket.on('error', () => {});
  await eventually(() => admission.pending === 2);

  const busy = await refusal(`${h.wsUrl}/ws?token=${h.token('third')}`);
  t.equal(busy.status, 503);
  t.equal(JSON.parse(busy.body).code, 'GW_BUSY');
  const retryAfter = Number(busy.headers['retry-after']);
  t.ok(retryAfter >= 1 && retryAfter <= 4, `Retry-After ${retryAfter} s, within 1-4`);
  const garbage = await refusal(`${h.wsUrl}/ws?token=not-a-token`);
  t.equal(garbage.status, 503, 'a bad token is refused for being busy, not 401: its token was never looked at');
  t.equal(admission.deferred, 2);
  const metrics = await (await fetch(`${h.baseUrl}/metrics`, { headers: { authorization: `Bearer ${h.config.ADMIN_TOKEN}` } })).text();
  t.match(metrics, /gatehouse_logins_deferred_total 2/);
  t.match(metrics, /gatehouse_logins_pending 2/);
  const spread = new Set<number>();
  for (let i = 0; i < 20; i++) spread.add(admission.retryAfterS());
  t.ok(spread.size > 1, `Retry-After values are spread (${[...spread].sort().join(', ')})`);

  // A handshake abandoned while in flight: its socket is not read during the checks, so its
  // place comes back when its verification ends (here with the key set), not at once.
  secondSocket.terminate();
  jwks.release();
  const client = await first;
  await eventually(() => admission.pending === 0);
  t.equal(h.app.gateway.connections.size, 1, 'the abandoned handshake left no session, and no place taken');
  const after = await TestClient.connect(`${h.wsUrl}/ws?token=${h.token('after')}`);
  t.pass('a handshake after the storm is accepted');
  t.equal(admission.pending, 0, 'and its place is given back once logged in');
  await client.close();
  await after.close();
});

t.test('over MAX_EVENT_LOOP_LAG_MS: 503 GW_BUSY while the event loop runs late, accepted again once it keeps up', async (t) => {
  // A threshold well above what a busy test machine's scheduling delays a timer by, and a hold of
  // the loop well above the threshold: the test is about the mechanism, not the machine.
  const h = (await buildTestApp(t, 'embedded', { MAX_EVENT_LOOP_LAG_MS: '150' }))!;
  const admission = h.app.gateway.admission;
  // The start's own work, and the first handshakes' (code compiled on first use, in this very
  // process), may make turns late: handshakes are tried until one is accepted, as the SDK would.
  let before: TestClient | undefined;
  await eventually(async () => {
    before = await TestClient.connect(`${h.wsUrl}/ws?token=${h.token('before')}`).catch(() => undefined);
    return before;
  }, 5000);
  const deferredBefore = admission.deferred;

  // The loop is held for 400 ms (what a storm's turns do): the next sample is late.
  const heldUntil = performance.now() + 400;
  while (performance.now() < heldUntil) {
    // busy: nothing else runs on this thread
  }
  await new Promise((resolve) => setTimeout(resolve, 25));
  t.ok(h.app.gateway.loopLag.overloaded(), 'the probe saw the late turn');
  const busy = await refusal(`${h.wsUrl}/ws?token=${h.token('during')}`);
  t.equal(busy.status, 503);
  t.equal(JSON.parse(busy.body).code, 'GW_BUSY');
  t.ok(Number(busy.headers['retry-after']) >= 1, 'with a Retry-After');
  t.equal(admission.deferred, deferredBefore + 1, 'counted as deferred (gatehouse_logins_deferred_total)');
  t.equal(admission.pending, 0, 'though no login was in flight');

  // The hold is 250 ms after the late sample; then handshakes are taken again (tried until one
  // is, as the SDK would: a loaded machine may delay a timer past the threshold on its own).
  let after: TestClient | undefined;
  await eventually(async () => {
    after = await TestClient.connect(`${h.wsUrl}/ws?token=${h.token('after')}`).catch(() => undefined);
    return after;
  }, 10_000);
  t.pass('accepted once the loop keeps up');
  await before!.close();
  await after!.close();
});

t.test('MAX_EVENT_LOOP_LAG_MS=0: no probe, a late loop refuses nothing', async (t) => {
  const h = (await buildTestApp(t, 'embedded', { MAX_EVENT_LOOP_LAG_MS: '0' }))!;
  const heldUntil = performance.now() + 150;
  while (performance.now() < heldUntil) {
    // busy
  }
  await new Promise((resolve) => setTimeout(resolve, 25));
  t.notOk(h.app.gateway.loopLag.overloaded());
  const client = await TestClient.connect(`${h.wsUrl}/ws?token=${h.token('late-loop')}`);
  t.equal(h.app.gateway.admission.deferred, 0);
  await client.close();
});

t.test('the SDK waits at least the Retry-After of a refused handshake before trying again', async (t) => {
  // A node that refuses every handshake with 503 and Retry-After: 1.
  const attempts: number[] = [];
  const server = createServer((_req, res) => res.writeHead(404).end());
  server.on('upgrade', (_req, socket) => {
    attempts.push(performance.now());
    // The client resets the connection once it has read the refusal.
    socket.on('error', () => {});
    const body = '{"code":"GW_BUSY"}';
    socket.end(`HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nConnection: close\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const closes: Array<{ status?: number; delayMs?: number }> = [];
  // Default backoff: the first retry would come within 500 ms.
  const client = new GatehouseClient({ url: `ws://127.0.0.1:${port}/ws?userId=u`, WebSocket });
  client.on('close', (info) => closes.push(info));
  void client.connect().catch(() => {});
  await eventually(() => attempts.length >= 3, 10_000);
  await client.close();
  t.equal(closes[0]?.status, 503, 'the refusal status is known');
  for (let i = 1; i < 3; i++) {
    const gap = attempts[i]! - attempts[i - 1]!;
    t.ok(gap >= 950, `attempt ${i + 1} came ${Math.round(gap)} ms after the refusal (Retry-After: 1)`);
  }
  t.ok(
    closes.every((c) => c.delayMs === undefined || c.delayMs >= 1000),
    'every announced delay honours Retry-After',
  );
});
