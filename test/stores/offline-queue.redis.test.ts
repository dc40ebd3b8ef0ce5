import t from 'tap';
import { Redis } from 'ioredis';
import { RedisOfflineQueue } from '../../src/stores/redis/redis-offline-queue.ts';
import { offlineEntryBytes } from '../../src/delivery/offline-queue.ts';
import { redisOptions } from '../../src/http/plugins/online-store.ts';
import { connectRedisCluster, testRedis, testRedisCluster } from '../helpers/services.ts';
import { RedisKeys } from '../../src/stores/redis/keys.ts';
import { CLUSTER_TEST_BUCKETS } from './backends.ts';
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

runOfflineQueueContract(t, 'redis-cluster', async (t, limits) => {
  const service = await testRedisCluster(t);
  if (!service) return null;
  const redis = connectRedisCluster(t);
  await redis.connect();
  // Every bucket gets the whole cap (the contract's cap test fills one recipient's bucket).
  const totalMaxBytes = limits.totalMaxBytes === undefined ? undefined : limits.totalMaxBytes * CLUSTER_TEST_BUCKETS;
  return new RedisOfflineQueue({ redis, keyPrefix: service.prefix, buckets: CLUSTER_TEST_BUCKETS, ...limits, totalMaxBytes });
});

t.test('redis-cluster: a sender in another bucket: the window is counted apart, and given back when the push is refused', async (t) => {
  const service = await testRedisCluster(t);
  if (!service) return;
  const redis = connectRedisCluster(t);
  await redis.connect();
  const queue = new RedisOfflineQueue({ redis, keyPrefix: service.prefix, buckets: CLUSTER_TEST_BUCKETS, max: 1, ttlMs: 60_000, senderMax: 2 });
  const keys = new RedisKeys(service.prefix, CLUSTER_TEST_BUCKETS);
  const recipients = ['r0', 'r1', 'r2', 'r3', 'r4', 'r5', 'r6', 'r7', 'r8', 'r9'];
  const apart = recipients.filter((r) => keys.bucketOf(r) !== keys.bucketOf('spammer'));
  t.ok(apart.length >= 3, 'recipients in other buckets than the sender');
  const [a, b, c] = apart as [string, string, string];
  const message = (n: number) => ({ id: `m${n}`, frame: '{"type":"message"}', queuedAt: Date.now(), from: 'spammer' });
  t.match(await queue.push(a, message(1)), { queued: true });
  t.strictSame(await queue.push(a, message(2)), { queued: false, quota: 'recipient' }, "the recipient's queue is full");
  t.strictSame(await redis.hget(keys.offlineQueueSender('spammer'), 'c'), '1', 'the refused push gave its count back');
  t.match(await queue.push(b, message(3)), { queued: true });
  t.strictSame(await queue.push(c, message(4)), { queued: false, quota: 'sender' }, 'two messages in the window');
  t.equal(await queue.length(c), 0, 'nothing queued for a refused sender');
});

t.test('redis: websocket:queue:<userId> is a list of "<id> <queuedAt> <origin> <frame>" with a PEXPIRE, and its bookkeeping keys', async (t) => {
  const service = await testRedis(t);
  if (!service) return;
  const redis = await client(t, service.url);
  const queue = new RedisOfflineQueue({ redis, keyPrefix: service.prefix, max: 100, ttlMs: 1_800_000 });
  const key = `${service.prefix}websocket:queue:alice`;
  const meta = `${service.prefix}websocket:queue-meta:alice`;
  const sender = `${service.prefix}websocket:queue-sender:bob`;
  t.equal(queue.key('alice'), key);
  const push = { id: 'm1', frame: '{"type":"message"}', queuedAt: 1763800000000 };
  const message = { id: 'm2', frame: '{"type":"message","from":"bob"}', queuedAt: 1763800000001, from: 'bob' };
  await queue.push('alice', push);
  await queue.push('alice', message);
  t.equal(await redis.type(key), 'list');
  t.strictSame(await redis.lrange(key, 0, -1), ['m1 1763800000000 ! {"type":"message"}', 'm2 1763800000001 @bob {"type":"message","from":"bob"}']);
  const pttl = await redis.pttl(key);
  t.ok(pttl > 1_790_000 && pttl <= 1_800_000, `PTTL ${pttl} ≈ 30 min`);
  const [b1, b2] = [offlineEntryBytes(push), offlineEntryBytes(message)];
  t.strictSame(await redis.hgetall(meta), { pc: '1', pb: String(b2), sc: '1', sb: String(b1) }, 'lane counters');
  t.ok((await redis.pttl(meta)) > 1_790_000, 'the meta expires with the queue');
  t.strictSame(await redis.hgetall(sender), { c: '1', b: String(b2) }, "the sender's window");
  t.ok((await redis.pttl(sender)) > 1_790_000, 'the window expires');
  t.equal(await redis.get(`${service.prefix}websocket:queue-total`), String(b1 + b2), 'the total');
  t.strictSame(await redis.hgetall(`${service.prefix}websocket:queue-bytes`), { alice: String(b1 + b2) }, "the queue's share");
  await queue.ack('alice', 'm2');
  t.equal(await redis.exists(key, meta), 0, 'acking everything deletes the queue and its meta');
  t.equal(await redis.get(`${service.prefix}websocket:queue-total`), '0');
  t.equal(await redis.hlen(`${service.prefix}websocket:queue-bytes`), 0);
});

t.test('redis: elements written before the lanes are replayed and acked (as server entries)', async (t) => {
  const service = await testRedis(t);
  if (!service) return;
  const redis = await client(t, service.url);
  const queue = new RedisOfflineQueue({ redis, keyPrefix: service.prefix, max: 100, ttlMs: 1_800_000 });
  const now = Date.now();
  await redis.rpush(queue.key('old'), `m1 ${now} {"type":"message","content":"a b"}`);
  t.strictSame(await queue.read('old', now), [{ id: 'm1', queuedAt: now, frame: '{"type":"message","content":"a b"}' }]);
  t.equal(await queue.ack('old', 'm1'), 1);
  t.equal(await redis.exists(queue.key('old'), `${service.prefix}websocket:queue-meta:old`), 0, 'no key without expiry left behind');
});

t.test('redis: a keyPrefix on the client is refused', async (t) => {
  const service = await testRedis(t);
  if (!service) return;
  const redis = new Redis(service.url, { lazyConnect: true, keyPrefix: 'x:' });
  t.teardown(() => redis.disconnect());
  t.throws(() => new RedisOfflineQueue({ redis, max: 1, ttlMs: 1 }), /keyPrefix/);
});

t.test('redis: a queue that expired as a whole and comes back before a sweep leaves nothing stale in the total', async (t) => {
  const service = await testRedis(t);
  if (!service) return;
  const redis = await client(t, service.url);
  const queue = new RedisOfflineQueue({ redis, keyPrefix: service.prefix, max: 100, ttlMs: 1_800_000 });
  const now = Date.now();
  const first = { id: 'm1', frame: '{"n":1}', queuedAt: now, from: 'bob' };
  const second = { id: 'm2', frame: '{"n":2}', queuedAt: now, from: 'bob' };
  await queue.push('alice', first);
  // What key expiry does: the list and its meta vanish, no script runs.
  await redis.del(queue.key('alice'), `${service.prefix}websocket:queue-meta:alice`);
  t.equal(await queue.totalBytes(), offlineEntryBytes(first), 'the total still counts the vanished queue');
  await queue.push('alice', second);
  t.equal(await queue.totalBytes(), offlineEntryBytes(second), 'the push settled the stale share first');
  await queue.ack('alice', 'm2');
  t.equal(await queue.totalBytes(), 0);
  t.equal(await redis.hlen(`${service.prefix}websocket:queue-bytes`), 0);
});
