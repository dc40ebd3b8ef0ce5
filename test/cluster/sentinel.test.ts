/**
 * Redis through Sentinel: the gateway finds the master by asking the sentinels (REDIS_SENTINELS +
 * REDIS_SENTINEL_NAME) and works as with a plain REDIS_URL. A private redis-server and a private
 * sentinel process (redis-server --sentinel) on free ports.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { buildTestApp, eventually } from '../helpers/build.ts';
import { RedisServer, redisServerInstalled } from '../helpers/redis-server.ts';
import { TestClient } from '../helpers/ws-client.ts';
import { freePort } from '../helpers/ports.ts';

t.test('online store and bus through Redis Sentinel', async (t) => {
  if (!redisServerInstalled(t)) return;
  const master = await RedisServer.start();
  t.teardown(() => master.stop());
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-sentinel-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const sentinelPort = await freePort();
  const conf = join(dir, 'sentinel.conf');
  writeFileSync(conf, `port ${sentinelPort}\nbind 127.0.0.1\nsentinel monitor gh-master 127.0.0.1 ${master.port} 1\n`);
  const sentinel = spawn('redis-server', [conf, '--sentinel'], { stdio: 'ignore' });
  sentinel.on('error', (error) => t.fail(`sentinel could not be started: ${error.message}`));
  t.teardown(() => sentinel.kill('SIGKILL'));
  const probe = new Redis({ port: sentinelPort, lazyConnect: true, retryStrategy: () => null });
  probe.on('error', () => {});
  await eventually(
    async () => {
      if (probe.status !== 'ready') await probe.connect();
      return (await probe.call('SENTINEL', 'get-master-addr-by-name', 'gh-master')) !== null;
    },
    10_000,
    100,
  );
  probe.disconnect();

  // REDIS_URL names a host that does not exist: only the sentinels can lead to the master.
  const h = await buildTestApp(t, 'embedded', {
    REDIS_URL: 'redis://127.0.0.1:1/0',
    REDIS_SENTINELS: `127.0.0.1:${sentinelPort}`,
    REDIS_SENTINEL_NAME: 'gh-master',
  });
  if (!h) return;
  const { client } = await TestClient.open(`${h.wsUrl}/ws?token=${h.token('via-sentinel')}`);
  const direct = new Redis(master.url);
  t.teardown(() => direct.disconnect());
  t.equal(await direct.hget('player:online:via-sentinel', 'status'), 'online', 'presence written to the master');
  await client.close();
  await eventually(async () => (await direct.hget('player:online:via-sentinel', 'status')) === 'offline');
  t.equal((await fetch(`${h.baseUrl}/health/ready`)).status, 200);
});
