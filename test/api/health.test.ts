/**
 * Health probes, and what the API does while Redis is down: /health/ready turns 503 naming the
 * online store and back to 200 when Redis returns, the online API answers 503 GW_UNAVAILABLE
 * without internals, and /ws/stats keeps answering. Redis is "stopped" by cutting a TCP proxy
 * in front of it: the shared Redis server keeps serving the other suites.
 */
import t from 'tap';
import { PACKAGE_VERSION } from '../../src/version.ts';
import { buildTestApp, eventually, TEST_ADMIN_TOKEN, type Backend } from '../helpers/build.ts';
import { TEST_REDIS_URL } from '../helpers/services.ts';
import { TcpProxy } from '../helpers/tcp-proxy.ts';
import { TestClient } from '../helpers/ws-client.ts';
import { call, errorShape } from './http.ts';

const ENV = { HEARTBEAT_TIMEOUT_MS: '60000', WS_PING_INTERVAL_MS: '600000' };

for (const backend of ['embedded', 'real'] as Backend[]) {
  t.test(`health probes (${backend})`, async (t) => {
    const h = await buildTestApp(t, backend, ENV);
    if (!h) return;
    t.same((await call(h, 'GET', '/health/live')).body, { status: 'ok' });
    for (const url of ['/health/ready', '/health']) {
      // Each check has one second: on a starved CPU the embedded database's first answers can
      // miss it, which is the probe working, not failing.
      const r = await eventually(async () => {
        const answer = await call(h, 'GET', url);
        return answer.status === 200 ? answer : undefined;
      }, 10_000);
      t.equal(r.status, 200, url);
      t.same(r.body, { status: 'ok', nodeId: h.config.NODE_ID, version: PACKAGE_VERSION, checks: { database: 'ok', onlineStore: 'ok', gateway: 'ok' } });
    }
  });
}

t.test('Redis outage (real)', async (t) => {
  const proxy = await TcpProxy.start(TEST_REDIS_URL);
  t.teardown(() => proxy.close());

  // A subtest owns the app, so the app closes (teardown) before the proxy does.
  await t.test('ready turns 503 and back; the API answers coded 503s', async (t) => {
    const h = await buildTestApp(t, 'real', { ...ENV, REDIS_URL: proxy.rewrite(TEST_REDIS_URL) });
    if (!h) return;
    const admin = { token: TEST_ADMIN_TOKEN };
    const { client } = await TestClient.open(`${h.wsUrl}/ws?token=${h.token('alice')}`);
    t.teardown(() => client.terminate());
    const ready = async () => {
      const r = await call(h, 'GET', '/health/ready');
      return r.status === 200 ? r : undefined;
    };
    t.ok(await eventually(ready, 10_000), 'ready before the outage');

    proxy.cut();
    const down = await eventually(async () => {
      const r = await call<{ checks: Record<string, string> }>(h, 'GET', '/health/ready');
      return r.status === 503 && r.body.checks.onlineStore === 'unreachable' && r.body.checks.database === 'ok' ? r : undefined;
    }, 10_000);
    t.match(down.body, { status: 'unavailable', nodeId: h.config.NODE_ID, checks: { onlineStore: 'unreachable', database: 'ok', gateway: 'ok' } });
    t.equal(down.headers['retry-after'], '2');
    t.equal((await call(h, 'GET', '/health')).status, 503, '/health too');
    t.equal((await call(h, 'GET', '/health/live')).status, 200, 'still alive');

    for (const [method, url, body] of [
      ['GET', '/api/online/players', undefined],
      ['GET', '/api/online/players/alice', undefined],
      ['POST', '/api/online/logout', { userId: 'alice' }],
    ] as const) {
      const r = await call(h, method, url, { ...admin, body });
      t.equal(r.status, 503, `${method} ${url}`);
      t.match(r.body, errorShape(503, 'GW_UNAVAILABLE'));
      t.equal(r.headers['retry-after'], '2');
      t.notMatch(r.body.message, /ECONN|Stream|writeable|ioredis|127\.0\.0\.1|\d{4,5}/, 'no internals');
    }
    const stats = await call(h, 'GET', '/ws/stats', admin);
    t.equal(stats.status, 200, '/ws/stats still answers');
    t.equal(stats.body.pendingLogouts, null, 'pending logouts unknown while the store is down');
    t.equal(stats.body.connections, 1);

    proxy.restore();
    const up = await eventually(ready, 15_000);
    t.match(up.body, { status: 'ok', checks: { onlineStore: 'ok' } });
    t.equal((await call(h, 'GET', '/api/online/players/alice', admin)).status, 200, 'the API is back');
    t.type((await call(h, 'GET', '/ws/stats', admin)).body.pendingLogouts, 'number');
    const logout = await call(h, 'POST', '/api/online/logout', { ...admin, body: { userId: 'alice' } });
    t.same(logout.body, { loggedOut: true }, 'logout works again');
    t.equal((await client.closed).code, 4002);
  });
});
