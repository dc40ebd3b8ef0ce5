/**
 * While a node drains (SIGTERM, sessions closed in slow batches) it answers readiness with 503
 * and refuses new WebSocket upgrades with the coded 503 (GW_DRAINING, Retry-After), so a load
 * balancer stops sending it players while the ones it still has are being moved away; a refused
 * upgrade does not hold the shutdown up. The real process (src/server.ts), embedded backend.
 */
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { createSigner } from 'fast-jwt';
import { CloseCode } from '../../src/protocol/close-codes.ts';
import { startServer } from '../helpers/server-process.ts';
import { HandshakeRefused, TestClient } from '../helpers/ws-client.ts';

const SECRET = 'drain-health-secret-0123456789abcdef';

t.test('draining: /health/ready 503, new upgrades 503, existing sessions still being drained', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-drain-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // 4 sessions, one per 800 ms wave: the drain lasts about 3 s.
  const server = await startServer({ PGLITE_DIR: dir, AUTH_JWT_SECRET: SECRET, DRAIN_BATCH: '1', DRAIN_INTERVAL_MS: '800', SHUTDOWN_TIMEOUT_MS: '15000' });
  t.teardown(() => server.stop('SIGKILL'));
  const base = `http://127.0.0.1:${server.port}`;
  const sign = createSigner({ key: SECRET, expiresIn: 60_000 });
  const url = (u: string) => `ws://127.0.0.1:${server.port}/ws?token=${sign({ sub: u })}`;
  const clients = await Promise.all(['d1', 'd2', 'd3', 'd4'].map(async (u) => (await TestClient.open(url(u))).client));
  clients.forEach((c) => c.startPing(200));

  const before = await fetch(`${base}/health/ready`);
  t.equal(before.status, 200, 'ready before the drain');
  await before.arrayBuffer();

  const sigtermAt = Date.now();
  const exit = server.stop('SIGTERM');
  await Promise.race(clients.map((c) => c.closed)); // the first wave: the drain is under way
  const stillOpen = clients.filter((c) => c.socket.readyState === WebSocket.OPEN).length;
  t.ok(stillOpen >= 2, `${stillOpen} sessions not drained yet`);

  const ready = await fetch(`${base}/health/ready`);
  t.equal(ready.status, 503, '/health/ready answers 503 while draining');
  t.comment(`readiness body while draining: ${await ready.text()}`);
  t.ok(ready.headers.get('retry-after'), 'with Retry-After');

  const upgrade = await TestClient.connect(url('latecomer')).then(
    (client) => {
      void client.terminate();
      return undefined;
    },
    (error: unknown) => error,
  );
  t.ok(upgrade instanceof HandshakeRefused, 'a new upgrade is refused with a plain HTTP answer');
  const refusal = upgrade as HandshakeRefused;
  t.equal(refusal.status, 503, 'HTTP 503');
  t.match(JSON.parse(refusal.body), { statusCode: 503, code: 'GW_DRAINING', error: 'Service Unavailable', message: String }, 'the coded body');
  t.equal(refusal.headers['retry-after'], '2', 'with Retry-After');
  t.ok(
    clients.some((c) => c.socket.readyState === WebSocket.OPEN),
    'checked while sessions were still being drained',
  );

  const closes = await Promise.all(clients.map((c) => c.closed));
  t.ok(
    closes.every((c) => c.code === CloseCode.RESTART),
    'every session drained with 1012',
  );
  const exited = await exit;
  if (exited.code !== 0) t.comment(JSON.stringify(server.logs.slice(-8)));
  t.equal(exited.code, 0, 'exit 0: the refused upgrade did not hold the shutdown up');
  t.ok(Date.now() - sigtermAt < 10_000, 'within SHUTDOWN_TIMEOUT_MS');
  t.notOk(
    server.logs.some((l) => l.msg === 'session opened' && l.userId === 'latecomer'),
    'the latecomer never got a session',
  );
});
