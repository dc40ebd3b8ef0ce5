/**
 * No secret ever reaches the log: player JWTs (in `?token=` and in `Authorization`), the admin
 * token, the metrics token and AUTH_JWT_SECRET, after failed and successful WebSocket
 * handshakes and REST calls, at the most verbose level. `Authorization` headers are not logged
 * at all (not even redacted). And the lines that should be there are: every line carries the
 * nodeId, lifecycle lines carry userId / sessionId / reason.
 */
import t from 'tap';
import { createSigner } from 'fast-jwt';
import { buildTestApp, eventually, TEST_ADMIN_TOKEN, TEST_JWT_SECRET } from '../helpers/build.ts';
import { TestClient, type HandshakeRefused } from '../helpers/ws-client.ts';

const METRICS_TOKEN = 'metrics-token-never-logged-0123456789';

/** Every key of a parsed log line, at any depth. */
function keysOf(value: unknown, out: string[] = []): string[] {
  if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      out.push(k);
      keysOf(v, out);
    }
  }
  return out;
}

t.test('tokens and secrets never appear in any log line', async (t) => {
  const h = await buildTestApp(t, 'embedded', { LOG_LEVEL: 'trace', METRICS_TOKEN, HEARTBEAT_TIMEOUT_MS: '60000' });
  if (!h) return;
  const clients: TestClient[] = [];
  t.teardown(() => Promise.all(clients.map((c) => c.terminate())));

  const good = { query: h.token('alice'), header: h.token('bob'), restSelf: h.token('carol') };
  const forged = createSigner({ key: 'another-secret-another-secret-0123456789' })({ sub: 'mallory' });
  const expired = createSigner({ key: TEST_JWT_SECRET })({ sub: 'eve', exp: Math.floor(Date.now() / 1000) - 60 });
  const garbage = 'not.a-jwt-but-secret-looking-0123456789';

  // Failed handshakes: bad tokens in the query and in the header.
  const handshake = (url: string, headers?: Record<string, string>) =>
    TestClient.connect(url, { headers }).then(
      (client) => {
        clients.push(client);
        return 101;
      },
      (error: HandshakeRefused) => error.status,
    );
  for (const token of [forged, expired, garbage]) {
    t.equal(await handshake(`${h.wsUrl}/ws?token=${token}`), 401, 'refused (query): 401');
    t.equal(await handshake(`${h.wsUrl}/ws`, { authorization: `Bearer ${token}` }), 401, 'refused (header): 401');
  }
  // Successful handshakes, both ways, and some traffic.
  const a = await TestClient.open(`${h.wsUrl}/ws?token=${good.query}&x=1`);
  const b = await TestClient.open(`${h.wsUrl}/ws`, { headers: { authorization: `Bearer ${good.header}` } });
  const c = await TestClient.open(`${h.wsUrl}/ws?token=${good.restSelf}`);
  clients.push(a.client, b.client, c.client);
  await a.client.ping();
  a.client.send({ type: 'message', to: 'bob', content: 'hi' });
  await b.client.next('message');

  // REST: admin, metrics token, player self-logout, and refused calls with every kind of token.
  const rest = async (method: 'GET' | 'POST', url: string, token: string, body?: unknown) => {
    const res = await fetch(`${h.baseUrl}${url}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    await res.arrayBuffer();
    return res.status;
  };
  t.equal(await rest('GET', '/ws/stats', TEST_ADMIN_TOKEN), 200);
  t.equal(await rest('GET', `/ws/stats?token=${good.query}`, TEST_ADMIN_TOKEN), 200);
  t.equal(await rest('GET', '/api/online/players?limit=10', TEST_ADMIN_TOKEN), 200);
  t.equal(await rest('GET', '/metrics', METRICS_TOKEN), 200);
  t.equal(await rest('GET', '/metrics', TEST_ADMIN_TOKEN), 200);
  t.equal(await rest('GET', '/api/online/players', METRICS_TOKEN), 401);
  t.equal(await rest('GET', '/api/online/players', good.query), 403);
  t.equal(await rest('GET', '/ws/stats', forged), 401);
  t.equal(await rest('GET', '/ws/stats', expired), 401);
  t.equal(await rest('POST', '/api/online/logout', good.header, { userId: 'alice' }), 403);
  t.equal(await rest('POST', '/api/online/logout', good.restSelf, { userId: 'carol' }), 200);
  t.equal(await rest('POST', '/api/online/logout', TEST_ADMIN_TOKEN, { userId: 'alice' }), 200);
  // The secret itself as a bearer token, and in a query string of a REST call.
  t.equal(await rest('GET', '/ws/stats', TEST_JWT_SECRET), 401);
  const q = await fetch(`${h.baseUrl}/api/online/players?token=${TEST_ADMIN_TOKEN}&access_token=${METRICS_TOKEN}`);
  await q.arrayBuffer();
  t.equal(q.status, 401);
  b.client.close();
  await eventually(() => h.logs.some((l) => l.includes('"user logged out"') && l.includes('"bob"')));

  const secrets: Record<string, string> = {
    AUTH_JWT_SECRET: TEST_JWT_SECRET,
    ADMIN_TOKEN: TEST_ADMIN_TOKEN,
    METRICS_TOKEN,
    'player JWT (query)': good.query,
    'player JWT (header)': good.header,
    'player JWT (REST)': good.restSelf,
    'forged JWT': forged,
    'expired JWT': expired,
    'garbage token': garbage,
  };
  // A JWT's signature alone is enough to matter: look for each part separately too.
  for (const [name, jwt] of Object.entries({ ...good, forged, expired })) {
    secrets[`${name} signature`] = jwt.split('.')[2]!;
  }
  t.ok(h.logs.length > 20, `${h.logs.length} log lines captured at trace level`);
  for (const [name, secret] of Object.entries(secrets)) {
    const leaks = h.logs.filter((line) => line.includes(secret));
    t.same(leaks, [], `${name} is in no log line`);
  }
  const parsed = h.logs.map((l) => JSON.parse(l) as Record<string, unknown>);
  const withAuthorization = parsed.filter((l) => keysOf(l).some((k) => k.toLowerCase() === 'authorization'));
  t.same(withAuthorization, [], 'no line has an authorization field, not even redacted');
  t.ok(
    parsed.some((l) => l.msg === 'request completed' && typeof l.url === 'string' && l.url.includes('token=[REDACTED]')),
    'query tokens of an answered request show as [REDACTED]',
  );
  t.ok(
    parsed.filter((l) => l.msg === 'request refused').every((l) => typeof l.path === 'string' && !l.path.includes('?')),
    'refused requests: path only, never the query string',
  );
  t.same(
    h.logs.filter((l) => l.split('"nodeId"').length !== 2),
    [],
    'every line carries the nodeId key exactly once',
  );

  t.same(
    parsed.filter((l) => l.nodeId !== h.config.NODE_ID),
    [],
    'every line carries the nodeId',
  );
  const opened = parsed.filter((l) => l.msg === 'session opened');
  t.ok(opened.length >= 3 && opened.every((l) => typeof l.userId === 'string' && typeof l.sessionId === 'string'), 'session opened: userId, sessionId');
  const loggedOut = parsed.filter((l) => l.msg === 'user logged out');
  t.same(
    loggedOut.map((l) => [l.userId, l.reason]).sort(),
    [
      ['alice', 'logout'],
      ['bob', 'closed'],
      ['carol', 'logout'],
    ],
    'user logged out: userId and reason',
  );
});
