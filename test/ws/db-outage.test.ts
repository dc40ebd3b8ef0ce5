/**
 * A database outage during logouts: the logouts are kept (durable queue in the online store)
 * and retried; when the database returns every one lands with its original timestamp.
 * The outage is real: PostgreSQL is reached through a TCP proxy that the test cuts.
 */
import t from 'tap';
import { buildTestApp, eventually } from '../helpers/build.ts';
import { TEST_DATABASE_URL } from '../helpers/services.ts';
import { TcpProxy } from '../helpers/tcp-proxy.ts';
import { TestClient } from '../helpers/ws-client.ts';

for (const store of ['memory', 'redis'] as const) {
  t.test(`logouts survive a database outage (${store} online store)`, async (t) => {
    const proxy = await TcpProxy.start(TEST_DATABASE_URL);
    t.teardown(() => proxy.close());
    const h = await buildTestApp(t, 'real', {
      DATABASE_URL: proxy.rewrite(TEST_DATABASE_URL),
      ...(store === 'memory' ? { REDIS_URL: '' } : {}),
      LOGOUT_RETRY_BASE_MS: '50',
      LOGOUT_RETRY_MAX_MS: '200',
      HEARTBEAT_TIMEOUT_MS: '60000',
    });
    if (!h) return;
    const users = Array.from({ length: 25 }, (_, i) => `outage-${i}`);
    const clients = await Promise.all(users.map(async (u) => (await TestClient.open(`${h.wsUrl}/ws?token=${h.token(u)}`)).client));
    await eventually(async () => (await h.app.players.getUser(users[24]!)) !== null);

    proxy.cut();
    await Promise.all(clients.map((c) => c.close()));
    await eventually(() => h.app.gateway.connections.size === 0);
    await h.app.gateway.settled();
    const logoutTimes = new Map<string, number>();
    for (const u of users) {
      const p = await h.app.presence.getPlayer(u);
      t.equal(p?.status, 'offline', `${u} offline in the store during the outage`);
      logoutTimes.set(u, p!.logoutTime!);
    }
    await new Promise((resolve) => setTimeout(resolve, 700)); // several failed retries
    t.equal(await h.app.logoutPipeline.pendingCount(), users.length, 'every logout still pending');
    t.ok(
      h.logs.some((l) => l.includes('database write of logouts failed')),
      'failure logged',
    );
    const ready = await fetch(`${h.baseUrl}/health/ready`);
    t.equal(ready.status, 503, 'not ready while the database is down');
    t.equal(((await ready.json()) as { checks: { database: string } }).checks.database, 'unreachable');

    proxy.restore();
    await eventually(async () => (await h.app.logoutPipeline.pendingCount()) === 0, 10_000);
    for (const u of users) {
      const row = await h.app.players.getUser(u);
      t.equal(row?.lastSpiritGainTime?.getTime(), logoutTimes.get(u), `${u} stamped with its original logout time`);
      const [session] = await h.app.players.listSessions(u, 1);
      t.equal(session?.disconnectedAt?.getTime(), logoutTimes.get(u));
      t.equal(session?.reason, 'closed');
    }
    t.equal((await fetch(`${h.baseUrl}/health/ready`)).status, 200, 'ready again');
  });
}
