import t from 'tap';
import { Redis } from 'ioredis';
import { MemoryRoomDirectory } from '../../src/stores/memory/memory-room-directory.ts';
import { RedisRoomDirectory } from '../../src/stores/redis/redis-room-directory.ts';
import { redisOptions } from '../../src/http/plugins/online-store.ts';
import { connectRedisCluster, testRedis, testRedisCluster } from '../helpers/services.ts';
import { CLUSTER_TEST_BUCKETS } from './backends.ts';
import { join, leave, runRoomDirectoryContract } from './room-directory.contract.ts';

runRoomDirectoryContract(t, 'memory', async () => new MemoryRoomDirectory());

runRoomDirectoryContract(t, 'redis', async (t) => {
  const service = await testRedis(t);
  if (!service) return null;
  const redis = new Redis(service.url, redisOptions());
  t.teardown(() => redis.quit().catch(() => redis.disconnect()));
  await redis.connect();
  return new RedisRoomDirectory({ redis, keyPrefix: service.prefix });
});

runRoomDirectoryContract(t, 'redis-cluster', async (t) => {
  const service = await testRedisCluster(t);
  if (!service) return null;
  const redis = connectRedisCluster(t);
  await redis.connect();
  return new RedisRoomDirectory({ redis, keyPrefix: service.prefix, buckets: CLUSTER_TEST_BUCKETS });
});

t.test('redis: the keys of the model', async (t) => {
  const service = await testRedis(t);
  if (!service) return;
  const redis = new Redis(service.url, redisOptions());
  t.teardown(() => redis.quit().catch(() => redis.disconnect()));
  await redis.connect();
  const d = new RedisRoomDirectory({ redis, keyPrefix: service.prefix });
  await join(d, 'gw-1', 'lobby:eu', 'alice');
  const p = service.prefix;
  t.strictSame(await redis.zrange(`${p}rooms:index`, 0, -1), ['lobby:eu']);
  t.strictSame(await redis.hgetall(`${p}room:{lobby:eu}:nodes`), { 'gw-1': '1' });
  t.strictSame(await redis.zrange(`${p}room:{lobby:eu}:members`, 0, -1), ['alice|gw-1']);
  t.strictSame(await redis.hgetall(`${p}room:{lobby:eu}:node:gw-1`), { alice: '1' });
  t.strictSame(await redis.smembers(`${p}rooms:node:gw-1`), ['lobby:eu']);
  await leave(d, 'gw-1', 'alice', ['lobby:eu']);
  t.strictSame(await redis.keys(`${p}*room*`), [], 'nothing left behind');
});
