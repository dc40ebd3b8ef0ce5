/**
 * GET /metrics on the embedded defaults and on real Redis + PostgreSQL: who may read it, that
 * the exposition passes the strict format checker (./exposition.ts), and that the numbers move
 * with real traffic: a WebSocket session, pings, a bad frame, server WebSocket pings (round
 * trip), a broadcast over the bus, an admin logout (close 4002, logout by reason, database write
 * and its latency, store and database call timings).
 */
import { readFileSync } from 'node:fs';
import t from 'tap';
import { CloseCode } from '../../src/protocol/close-codes.ts';
import { buildTestApp, eventually, TEST_ADMIN_TOKEN, type Backend, type TestApp } from '../helpers/build.ts';
import { TestClient } from '../helpers/ws-client.ts';
import { call, errorShape } from '../api/http.ts';
import { parseExposition, sampleValue, type Family } from './exposition.ts';

const METRICS_TOKEN = 'metrics-token-for-the-scraper-0123';
const ENV = {
  METRICS_TOKEN,
  HEARTBEAT_TIMEOUT_MS: '60000',
  // Server WebSocket pings every 100 ms, so round trips get measured during the test.
  WS_PING_INTERVAL_MS: '100',
  WATCHDOG_INTERVAL_MS: '50',
};
const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

async function scrape(h: TestApp, token = METRICS_TOKEN): Promise<Map<string, Family>> {
  const res = await h.app.inject({ url: '/metrics', headers: { authorization: `Bearer ${token}` } });
  if (res.statusCode !== 200) throw new Error(`/metrics answered ${res.statusCode}`);
  return parseExposition(res.body);
}

/** The value of a series, 0 when it has no sample yet (a labelled counter before its first event). */
const v = (families: Map<string, Family>, name: string, labels: Record<string, string> = {}) => sampleValue(families, name, labels) ?? 0;

const EXPECTED: Array<[string, Family['type']]> = [
  ['gatehouse_node_info', 'gauge'],
  ['gatehouse_node_start_time_seconds', 'gauge'],
  ['gatehouse_connections', 'gauge'],
  ['gatehouse_connected_users', 'gauge'],
  ['gatehouse_online_users', 'gauge'],
  ['gatehouse_online_store_up', 'gauge'],
  ['gatehouse_draining', 'gauge'],
  ['gatehouse_sessions_opened_total', 'counter'],
  ['gatehouse_sessions_closed_total', 'counter'],
  ['gatehouse_frames_in_total', 'counter'],
  ['gatehouse_frames_out_total', 'counter'],
  ['gatehouse_messages_dropped_total', 'counter'],
  ['gatehouse_heartbeat_timeouts_total', 'counter'],
  ['gatehouse_write_timeouts_total', 'counter'],
  ['gatehouse_send_queue_depth', 'histogram'],
  ['gatehouse_ws_ping_rtt_seconds', 'histogram'],
  ['gatehouse_logouts_total', 'counter'],
  ['gatehouse_logouts_written_total', 'counter'],
  ['gatehouse_logouts_pending', 'gauge'],
  ['gatehouse_logout_latency_seconds', 'histogram'],
  ['gatehouse_online_store_command_duration_seconds', 'histogram'],
  ['gatehouse_online_store_command_errors_total', 'counter'],
  ['gatehouse_db_command_duration_seconds', 'histogram'],
  ['gatehouse_db_command_errors_total', 'counter'],
  ['gatehouse_bus_messages_total', 'counter'],
  ['gatehouse_bus_malformed_messages_total', 'counter'],
  ['gatehouse_node_lease_age_seconds', 'gauge'],
  ['gatehouse_reaped_players_total', 'counter'],
  ['gatehouse_node_lease_lapses_total', 'counter'],
  ['gatehouse_online_store_rewinds_total', 'counter'],
  ['gatehouse_messages_unheard_total', 'counter'],
  ['gatehouse_delivery_receipts_missing_total', 'counter'],
  ['nodejs_eventloop_lag_seconds', 'gauge'],
  ['nodejs_eventloop_lag_p99_seconds', 'gauge'],
  ['nodejs_heap_size_used_bytes', 'gauge'],
  ['process_cpu_seconds_total', 'counter'],
];

t.test('GET /metrics: 401 without a valid token, 403 for a player, 200 for the admin and the metrics token', async (t) => {
  const h = await buildTestApp(t, 'embedded', ENV);
  if (!h) return;
  for (const authorization of [undefined, 'Bearer', 'Bearer wrong-token-wrong-token', `Bearer ${METRICS_TOKEN}x`, `Basic ${METRICS_TOKEN}`]) {
    const r = await call(h, 'GET', '/metrics', authorization === undefined ? {} : { authorization });
    t.equal(r.status, 401, `${authorization ?? 'no header'}: 401`);
    t.match(r.body, errorShape(401, 'GW_UNAUTHORIZED'));
  }
  const player = await call(h, 'GET', '/metrics', { token: h.token('alice') });
  t.equal(player.status, 403, 'a player JWT: 403');
  t.match(player.body, errorShape(403, 'GW_FORBIDDEN'));
  for (const [who, token] of [
    ['admin token', TEST_ADMIN_TOKEN],
    ['metrics token', METRICS_TOKEN],
  ] as const) {
    const res = await h.app.inject({ url: '/metrics', headers: { authorization: `Bearer ${token}` } });
    t.equal(res.statusCode, 200, `${who}: 200`);
    t.equal(res.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8', `${who}: Prometheus content type`);
    t.equal(res.headers['cache-control'], 'no-store');
  }
  // The scraper's token opens /metrics and nothing else.
  for (const url of ['/ws/stats', '/api/online/players', '/api/nodes', '/api/stats/history']) {
    t.equal((await call(h, 'GET', url, { token: METRICS_TOKEN })).status, 401, `metrics token on ${url}: 401`);
  }
  t.equal((await call(h, 'POST', '/api/online/logout', { token: METRICS_TOKEN, body: { userId: 'alice' } })).status, 401, 'nor logout');

  const noToken = await buildTestApp(t, 'embedded', { ...ENV, METRICS_TOKEN: '' });
  if (!noToken) return;
  t.equal((await call(noToken, 'GET', '/metrics', { token: METRICS_TOKEN })).status, 401, 'METRICS_TOKEN unset: that token is nothing');
  const admin = await noToken.app.inject({ url: '/metrics', headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` } });
  t.equal(admin.statusCode, 200, 'the admin token still reads metrics');
});

for (const backend of ['embedded', 'real'] as Backend[]) {
  t.test(`metrics move with traffic (${backend})`, async (t) => {
    const h = await buildTestApp(t, backend, ENV);
    if (!h) return;
    const clients: TestClient[] = [];
    t.teardown(() => Promise.all(clients.map((c) => c.terminate())));

    const before = await scrape(h);
    await t.test('every family is there, with its type, and the node info', async (t) => {
      for (const [name, type] of EXPECTED) t.equal(before.get(name)?.type, type, `${name} is a ${type}`);
      t.equal(v(before, 'gatehouse_node_info', { node_id: h.config.NODE_ID, version: VERSION }), 1, 'node_info{node_id, version} 1');
      t.equal(v(before, 'gatehouse_connections'), 0);
      t.equal(v(before, 'gatehouse_online_store_up'), 1);
      t.ok(v(before, 'gatehouse_node_lease_age_seconds') < 5, 'a fresh lease');
      t.ok(v(before, 'nodejs_eventloop_lag_seconds') >= 0, 'event-loop lag');
      for (const f of before.values()) t.ok(f.help, `${f.name} has a HELP line`);
    });

    const token = h.token('alice');
    const { client } = await TestClient.open(`${h.wsUrl}/ws?token=${token}`);
    clients.push(client);
    for (let i = 0; i < 3; i++) await client.ping();
    client.send('{not json');
    await client.next('error');
    // The watchdog pings every 100 ms; the client's automatic pong gives a round trip. The login's
    // database write lingers for company (login-writer.ts): also waited for.
    const during = await eventually(async () => {
      const m = await scrape(h);
      return v(m, 'gatehouse_ws_ping_rtt_seconds_count') >= 2 && v(m, 'gatehouse_logins_written_total') >= 1 ? m : undefined;
    });

    await t.test('a session, pings, a bad frame and WebSocket pings', async (t) => {
      t.equal(v(during, 'gatehouse_connections'), 1);
      t.equal(v(during, 'gatehouse_connected_users'), 1);
      t.equal(v(during, 'gatehouse_online_users'), 1, 'online in the cluster (online store)');
      t.equal(v(during, 'gatehouse_sessions_opened_total') - v(before, 'gatehouse_sessions_opened_total'), 1);
      t.equal(v(during, 'gatehouse_frames_in_total', { type: 'ping' }), 3);
      t.equal(v(during, 'gatehouse_frames_out_total', { type: 'pong' }), 3);
      t.equal(v(during, 'gatehouse_frames_in_total', { type: 'invalid' }), 1);
      t.equal(v(during, 'gatehouse_send_queue_depth_count'), 1, 'one live session in the depth snapshot');
      t.equal(v(during, 'gatehouse_send_queue_depth_bucket', { le: '0' }), 1, 'with an empty queue');
      const rttCount = v(during, 'gatehouse_ws_ping_rtt_seconds_count');
      const rttSum = v(during, 'gatehouse_ws_ping_rtt_seconds_sum');
      t.ok(rttSum > 0 && rttSum / rttCount < 0.5, `ping round trips measured: ${rttCount}, mean ${((rttSum / rttCount) * 1000).toFixed(2)} ms`);
      t.ok(v(during, 'gatehouse_online_store_command_duration_seconds_count', { method: 'login' }) >= 1, 'online-store login timed');
      t.ok(v(during, 'gatehouse_online_store_command_duration_seconds_count', { method: 'countOnline' }) >= 1, 'countOnline timed');
      t.ok(v(during, 'gatehouse_db_command_duration_seconds_count', { method: 'recordLogins' }) >= 1, 'the login write to the database timed');
      t.equal(v(during, 'gatehouse_logins_written_total'), 1, 'and counted');
      t.equal(v(during, 'gatehouse_login_write_failures_total'), 0);
    });

    await t.test('a broadcast goes over the bus', async (t) => {
      const r = await call(h, 'POST', '/api/broadcast', { token: TEST_ADMIN_TOKEN, body: { content: 'maintenance' } });
      t.equal(r.status, 200);
      await client.next('broadcast');
      const after = await scrape(h);
      t.equal(v(after, 'gatehouse_bus_messages_total', { direction: 'out' }) - v(during, 'gatehouse_bus_messages_total', { direction: 'out' }), 1);
    });

    await t.test('an admin logout: close 4002, logout by reason, database write and its latency', async (t) => {
      const r = await call(h, 'POST', '/api/online/logout', { token: TEST_ADMIN_TOKEN, body: { userId: 'alice' } });
      t.same(r.body, { loggedOut: true });
      t.equal((await client.closed).code, CloseCode.LOGGED_OUT);
      const after = await eventually(async () => {
        const m = await scrape(h);
        return v(m, 'gatehouse_logouts_written_total') >= 1 && v(m, 'gatehouse_connections') === 0 ? m : undefined;
      });
      t.equal(v(after, 'gatehouse_sessions_closed_total', { code: '4002' }), 1, 'closed with 4002');
      t.equal(v(after, 'gatehouse_logouts_total', { reason: 'logout' }), 1, 'logout by reason');
      t.equal(v(after, 'gatehouse_online_users'), 0);
      t.equal(v(after, 'gatehouse_logouts_pending'), 0, 'nothing left to write');
      t.equal(v(after, 'gatehouse_logout_latency_seconds_count'), 1, 'one logout latency observed');
      const latency = v(after, 'gatehouse_logout_latency_seconds_sum');
      t.ok(latency >= 0 && latency < 10, `session end to database row: ${(latency * 1000).toFixed(0)} ms`);
      t.ok(v(after, 'gatehouse_db_command_duration_seconds_count', { method: 'recordLogouts' }) >= 1, 'recordLogouts timed');
      t.ok(v(after, 'gatehouse_online_store_command_duration_seconds_count', { method: 'forceLogout' }) >= 1, 'forceLogout timed');
      t.equal(v(after, 'gatehouse_db_command_errors_total', { method: 'recordLogouts' }), 0);
    });

    await t.test('a message for a node that is not listening: NOT_AVAILABLE, counted as unheard', async (t) => {
      // The store places zed on a node nobody runs (crashed, not reaped yet).
      await h.app.presence.login({ userId: 'zed', username: 'zed', nodeId: 'nobody-listens', candidateLogicalSessionId: 'ls-zed', now: Date.now() });
      t.equal(v(during, 'gatehouse_messages_unheard_total'), 0);
      const { client: bob } = await TestClient.open(`${h.wsUrl}/ws?token=${h.token('bob')}`);
      clients.push(bob);
      bob.send(JSON.stringify({ type: 'message', to: 'zed', content: 'hi', id: 'u1' }));
      t.match(await bob.next('error'), { code: 'NOT_AVAILABLE', ref: 'u1' });
      const after = await scrape(h);
      t.equal(v(after, 'gatehouse_messages_unheard_total'), 1);
      t.equal(
        v(after, 'gatehouse_online_store_command_duration_seconds_count', { method: 'ownerPublisher.publishToOwners' }),
        1,
        'the route to the owning node is timed',
      );
      t.equal(v(await scrape(h), 'gatehouse_node_lease_lapses_total'), 0, 'the lease never lapsed');
    });
  });
}

t.test('apps in one process keep their own metrics', async (t) => {
  const a = await buildTestApp(t, 'embedded', ENV);
  const b = await buildTestApp(t, 'embedded', ENV);
  if (!a || !b) return;
  const { client } = await TestClient.open(`${a.wsUrl}/ws?token=${a.token('solo')}`);
  t.teardown(() => client.terminate());
  t.equal(v(await scrape(a), 'gatehouse_connections'), 1);
  t.equal(v(await scrape(b), 'gatehouse_connections'), 0, 'the other app counts nothing');
  t.equal(v(await scrape(b), 'gatehouse_node_info', { node_id: b.config.NODE_ID, version: VERSION }), 1);
});
