/**
 * Handshake: every refusal is a plain HTTP answer before the upgrade, with a coded body, and
 * leaves nothing behind (no session, no online-store entry, no database row).
 */
import t, { type Test } from 'tap';
import { loadConfig } from '../../src/config.ts';
import { buildTestApp, eventually, type TestApp } from '../helpers/build.ts';
import { HandshakeRefused, TestClient } from '../helpers/ws-client.ts';

async function refused(url: string, headers?: Record<string, string>): Promise<HandshakeRefused> {
  try {
    const client = await TestClient.connect(url, { headers });
    await client.close();
  } catch (error) {
    if (error instanceof HandshakeRefused) return error;
    throw error;
  }
  throw new Error('handshake was accepted');
}

async function assertNothingLeft(t: Test, h: TestApp, userId: string) {
  t.equal(h.app.gateway.connections.size, 0, 'no session');
  t.equal(await h.app.presence.getPlayer(userId), null, 'no online-store entry');
  t.equal(await h.app.players.getUser(userId), null, 'no database row');
}

/**
 * For refusals that name no usable user (no token at all): nothing was registered anywhere —
 * no session was ever created on the node, nobody is online, no session row is open.
 */
async function assertNobodyAdmitted(t: Test, h: TestApp, addedBefore: number) {
  t.equal(h.app.gateway.connections.size, 0, 'no session');
  t.equal(h.app.gateway.connections.totalAdded, addedBefore, 'no session was ever created for it');
  t.equal(await h.app.presence.countOnline(), 0, 'nobody online in the store');
  t.same(await h.app.players.listOpenSessions(h.config.NODE_ID, 10), [], 'no session row');
}

t.test('jwt mode', async (t) => {
  const h = (await buildTestApp(t))!;
  const base = `${h.wsUrl}/ws`;

  await t.test('no token -> 401 GW_UNAUTHORIZED', async (t) => {
    const addedBefore = h.app.gateway.connections.totalAdded;
    const r = await refused(base);
    t.equal(r.status, 401);
    const body = JSON.parse(r.body);
    t.match(body, { statusCode: 401, code: 'GW_UNAUTHORIZED', error: 'Unauthorized' });
    t.type(body.message, 'string');
    t.equal((await refused(`${base}?token=`)).status, 401, 'an empty token is no token');
    await assertNobodyAdmitted(t, h, addedBefore);
  });

  await t.test('bad signature -> 401', async (t) => {
    const good = h.token('mallory');
    const forged = good.slice(0, -4) + (good.endsWith('AAAA') ? 'BBBB' : 'AAAA');
    const r = await refused(`${base}?token=${forged}`);
    t.equal(r.status, 401);
    t.equal(JSON.parse(r.body).code, 'GW_UNAUTHORIZED');
    await assertNothingLeft(t, h, 'mallory');
  });

  await t.test('token signed with another secret -> 401', async (t) => {
    const { createSigner } = await import('fast-jwt');
    const other = createSigner({ key: 'another-secret-another-secret-0123456789' })({ sub: 'eve' });
    t.equal((await refused(`${base}?token=${other}`)).status, 401);
    await assertNothingLeft(t, h, 'eve');
  });

  await t.test('expired -> 401 with "token expired"', async (t) => {
    const { createSigner } = await import('fast-jwt');
    const expired = createSigner({ key: h.config.AUTH_JWT_SECRET! })({ sub: 'late', exp: Math.floor(Date.now() / 1000) - 60 });
    const r = await refused(`${base}?token=${expired}`);
    t.equal(r.status, 401);
    t.match(JSON.parse(r.body).message, /expired/);
    await assertNothingLeft(t, h, 'late');
  });

  await t.test('a token without exp -> 401 "token has no exp"', async (t) => {
    const { createSigner } = await import('fast-jwt');
    const forever = createSigner({ key: h.config.AUTH_JWT_SECRET! })({ sub: 'forever' });
    const r = await refused(`${base}?token=${forever}`);
    t.equal(r.status, 401);
    t.match(JSON.parse(r.body), { code: 'GW_UNAUTHORIZED', message: 'token has no exp' });
    await assertNothingLeft(t, h, 'forever');
  });

  await t.test('alg none is refused', async (t) => {
    const header = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url');
    const payload = Buffer.from(JSON.stringify({ sub: 'admin' })).toString('base64url');
    t.equal((await refused(`${base}?token=${header}.${payload}.`)).status, 401);
  });

  await t.test('userId (sub) of the wrong format -> 400', async (t) => {
    const addedBefore = h.app.gateway.connections.totalAdded;
    const r = await refused(`${base}?token=${h.token('bad user!')}`);
    t.equal(r.status, 400);
    t.equal(JSON.parse(r.body).code, 'GW_BAD_USER_ID');
    await assertNothingLeft(t, h, 'bad user!');
    const long = await refused(`${base}?token=${h.token('x'.repeat(65))}`);
    t.equal(long.status, 400);
    await assertNothingLeft(t, h, 'x'.repeat(65));
    await assertNobodyAdmitted(t, h, addedBefore);
  });

  await t.test('?userId= is not accepted in jwt mode', async (t) => {
    t.equal((await refused(`${base}?userId=alice`)).status, 401);
    await assertNothingLeft(t, h, 'alice');
  });

  await t.test('Authorization: Bearer works as well as ?token=', async (t) => {
    const { client, connected } = await TestClient.open(`${base}`, { headers: { authorization: `Bearer ${h.token('bearer-user', { name: 'Bea' })}` } });
    t.equal(connected.userId, 'bearer-user');
    t.equal(connected.nodeId, h.config.NODE_ID);
    t.match(connected, { heartbeat: { intervalMs: 1000, timeoutMs: h.config.HEARTBEAT_TIMEOUT_MS } });
    t.match(connected.sessionId, /^[0-9a-f-]{36}$/);
    // The user row is written right after the login; the JWT `name` claim is its username.
    const row = await eventually(() => h.app.players.getUser('bearer-user'));
    t.equal(row.username, 'Bea', 'username from the JWT name claim');
    await client.close();
  });

  await t.test('a refused handshake never logs the token', async (t) => {
    const secretLooking = h.token('logcheck');
    await refused(`${base}?token=${secretLooking}x`);
    const { client } = await TestClient.open(`${base}?token=${secretLooking}`);
    await client.close();
    t.notOk(
      h.logs.some((l) => l.includes(secretLooking)),
      'token absent from every log line',
    );
    t.notOk(
      h.logs.some((l) => l.includes(h.config.AUTH_JWT_SECRET!)),
      'secret absent',
    );
  });
});

t.test('AUTH_MODE=none (development)', async (t) => {
  const h = (await buildTestApp(t, 'embedded', { AUTH_MODE: 'none', AUTH_JWT_SECRET: '' }))!;
  const { client, connected } = await TestClient.open(`${h.wsUrl}/ws?userId=dev.user-1`);
  t.equal(connected.userId, 'dev.user-1');
  await client.close();
  await h.app.gateway.settled();
  await eventually(() => h.app.gateway.connections.size === 0);
  const r = await refused(`${h.wsUrl}/ws?userId=${encodeURIComponent('not ok')}`);
  t.equal(r.status, 400);
  await assertNothingLeft(t, h, 'not ok');
  t.equal((await refused(`${h.wsUrl}/ws`)).status, 401);
  t.equal(h.app.gateway.connections.size, 0, 'no userId: no session');
  t.ok(
    h.logs.some((l) => l.includes('AUTH_MODE=none')),
    'startup warning logged',
  );
});

t.test('capacity and draining -> 503 with Retry-After', async (t) => {
  const h = (await buildTestApp(t, 'embedded', { MAX_CONNECTIONS: '1' }))!;
  const { client } = await TestClient.open(`${h.wsUrl}/ws?token=${h.token('first')}`);
  const full = await refused(`${h.wsUrl}/ws?token=${h.token('second')}`);
  t.equal(full.status, 503);
  t.equal(JSON.parse(full.body).code, 'GW_FULL');
  t.ok(full.headers['retry-after'], 'Retry-After set');
  t.equal(await h.app.presence.getPlayer('second'), null);
  await client.close();
  await h.app.gateway.settled();
  h.app.gateway.draining = true;
  const draining = await refused(`${h.wsUrl}/ws?token=${h.token('third')}`);
  t.equal(draining.status, 503);
  t.equal(JSON.parse(draining.body).code, 'GW_DRAINING');
  h.app.gateway.draining = false;
});

t.test('configuration refuses unsafe production settings', async (t) => {
  const secret = 'x'.repeat(32);
  t.throws(
    () => loadConfig({ NODE_ENV: 'production', ADMIN_TOKEN: 'a'.repeat(16) }),
    /AUTH_JWT_SECRET, AUTH_JWT_PUBLIC_KEY or AUTH_JWT_JWKS_URL/,
    'no player key -> refused',
  );
  t.throws(() => loadConfig({ NODE_ENV: 'production', AUTH_MODE: 'none', AUTH_JWT_SECRET: secret, ADMIN_TOKEN: 'a'.repeat(16) }), /AUTH_MODE/);
  t.throws(() => loadConfig({ NODE_ENV: 'production', AUTH_JWT_SECRET: secret }), /ADMIN_TOKEN/);
  t.throws(() => loadConfig({ AUTH_MODE: 'jwt' }), /AUTH_JWT_SECRET, AUTH_JWT_PUBLIC_KEY or AUTH_JWT_JWKS_URL must be set/);
  const urls = { DATABASE_URL: 'postgresql://db.example.com/gatehouse', REDIS_URL: 'redis://redis.example.com:6379' };
  const safe = { NODE_ENV: 'production', AUTH_JWT_SECRET: secret, ADMIN_TOKEN: 'a'.repeat(16) };
  t.ok(loadConfig({ ...safe, ...urls }));
  t.throws(() => loadConfig(safe), /^DATABASE_URL and REDIS_URL must be set when NODE_ENV=production/, 'no URLs: no silent embedded database');
  t.throws(() => loadConfig({ ...safe, DATABASE_URL: urls.DATABASE_URL }), /^REDIS_URL must be set/, 'no REDIS_URL: no in-process store');
  t.throws(() => loadConfig({ ...safe, REDIS_URL: urls.REDIS_URL }), /^DATABASE_URL must be set/, 'no DATABASE_URL: no embedded database');
  t.ok(loadConfig({ ...safe, GATEHOUSE_EMBEDDED: '1' }), 'GATEHOUSE_EMBEDDED=1: embedded on purpose');
});

t.test('ALLOWED_ORIGINS: a listed browser origin or no Origin at all; another origin -> 403 before the upgrade', async (t) => {
  const h = (await buildTestApp(t, 'embedded', { ALLOWED_ORIGINS: 'https://game.example.com, https://WWW.game.example.com' }))!;
  const url = (u: string) => `${h.wsUrl}/ws?token=${h.token(u)}`;
  const addedBefore = h.app.gateway.connections.totalAdded;
  for (const origin of ['https://evil.example.com', 'http://game.example.com', 'https://game.example.com:8443', 'null']) {
    const r = await refused(url('intruder'), { origin });
    t.equal(r.status, 403, `Origin ${origin}: 403`);
    t.match(JSON.parse(r.body), { statusCode: 403, code: 'GW_ORIGIN_REFUSED', error: 'Forbidden' });
  }
  await assertNothingLeft(t, h, 'intruder');
  await assertNobodyAdmitted(t, h, addedBefore);
  for (const origin of ['https://game.example.com', 'https://www.game.example.com']) {
    const { client, connected } = await TestClient.open(url('browser'), { headers: { origin } });
    t.equal(connected.userId, 'browser', `Origin ${origin}: accepted`);
    await client.close();
  }
  const native = await TestClient.open(url('native'));
  t.equal(native.connected.userId, 'native', 'no Origin (native client): accepted');
  await native.client.close();
  const wildcard = (await buildTestApp(t, 'embedded', { ALLOWED_ORIGINS: '*' }))!;
  const any = await TestClient.open(`${wildcard.wsUrl}/ws?token=${wildcard.token('anyone')}`, { headers: { origin: 'https://anywhere.example' } });
  t.equal(any.connected.userId, 'anyone', '* allows every origin');
  await any.client.close();
  t.throws(() => loadConfig({ ALLOWED_ORIGINS: 'https://game.example.com/play' }), /ALLOWED_ORIGINS/, 'an origin has no path');
  t.throws(() => loadConfig({ ALLOWED_ORIGINS: 'game.example.com' }), /ALLOWED_ORIGINS/, 'an origin has a scheme');
});

t.test('production without ALLOWED_ORIGINS: browsers refused (with a startup warning), native clients allowed', async (t) => {
  const h = (await buildTestApp(t, 'embedded', { NODE_ENV: 'production', GATEHOUSE_EMBEDDED: '1' }))!;
  const warnings = h.logs.filter((l) => l.includes('ALLOWED_ORIGINS is unset'));
  t.equal(warnings.length, 1, 'one startup warning');
  t.equal(JSON.parse(warnings[0]!).level, 40);
  const r = await refused(`${h.wsUrl}/ws?token=${h.token('page')}`, { origin: 'https://game.example.com' });
  t.equal(r.status, 403);
  t.equal(JSON.parse(r.body).code, 'GW_ORIGIN_REFUSED');
  await assertNothingLeft(t, h, 'page');
  const { client, connected } = await TestClient.open(`${h.wsUrl}/ws?token=${h.token('native')}`);
  t.equal(connected.userId, 'native');
  await client.close();
  t.equal(h.logs.filter((l) => l.includes('ALLOWED_ORIGINS is unset')).length, 1, 'the warning is not repeated per handshake');

  const dev = (await buildTestApp(t, 'embedded'))!;
  t.notOk(
    dev.logs.some((l) => l.includes('ALLOWED_ORIGINS')),
    'no warning outside production',
  );
  const page = await TestClient.open(`${dev.wsUrl}/ws?token=${dev.token('page')}`, { headers: { origin: 'https://game.example.com' } });
  t.equal(page.connected.userId, 'page', 'outside production an unset list allows browsers');
  await page.client.close();
});
