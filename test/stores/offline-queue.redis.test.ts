import t from 'tap';
import { Redis } from 'ioredis';
import { RedisOfflineQueue } from '../../src/stores/redis/redis-offline-queue.ts';
import { redisOptions } from '../../src/http/plugins/online-store.ts';
import { testRedis } from '../helpers/services.ts';
import { runOfflineQueueContract } from './offline-queue.contract.ts';

async function client(t: Parameters<typeof testRedis>[0], url: string): Promise<Redis> {
  const redis = new Redis(url, redisOptions());
  redis.on('error', () => {});
  t.teardown(() => redis.quit().catch(() => redis.disconnect()));
  await redis.connect();
  return redis;
}

runOfflineQueueContract(t, 'redis', async (t, limits) => {
  const service = await testRedis(t);
  if (!service) return null;
  return new RedisOfflineQueue({ redis: await client(t, service.url), keyPrefix: service.prefix, ...limits });
});

t.test('redis: websocket:queue:<userId> is a list of "<id> <queuedAt> <frame>" with a PEXPIRE', async (t) => {
  const service = await testRedis(t);
  if (!service) return;
  const redis = await client(t, service.url);
  const queue = new RedisOfflineQueue({ redis, keyPrefix: service.prefix, max: 100, ttlMs: 1_800_000 });
  const key = `${service.prefix}websocket:queue:alice`;
  t.equal(queue.key('alice'), key);
  await queue.push('alice', { id: 'm1', frame: '{"type":"message"}', queuedAt: 1763800000000 });
  t.equal(await redis.type(key), 'list');
  t.strictSame(await redis.lrange(key, 0, -1), ['m1 1763800000000 {"type":"message"}']);
  const pttl = await redis.pttl(key);
  t.ok(pttl > 1_790_000 && pttl <= 1_800_000, `PTTL ${pttl} ≈ 30 min`);
  await queue.ack('alice', 'm1');
  t.equal(await redis.exists(key), 0, 'acking everything deletes the key');
});

t.test('redis: a keyPrefix on the client is refused', async (t) => {
  const service = await testRedis(t);
  if (!service) return;
  const redis = new Redis(service.url, { lazyConnect: true, keyPrefix: 'x:' });
  t.teardown(() => redis.disconnect());
  t.throws(() => new RedisOfflineQueue({ redis, max: 1, ttlMs: 1 }), /keyPrefix/);
});
