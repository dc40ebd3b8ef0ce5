/**
 * The Redis ConversationSequencer on a single Redis and on the Redis Cluster: the first number
 * continues the database's last seq, numbers are consecutive and never handed out twice (two
 * nodes numbering the same conversations at once), a lost counter starts again from what the
 * database holds, and a conversation idle past the counter's lifetime too.
 */
import t, { type Test } from 'tap';
import { Redis } from 'ioredis';
import type { RedisClient } from '../../src/stores/redis/scripts.ts';
import { RedisConversationSequencer } from '../../src/stores/redis/redis-conversation-sequencer.ts';
import { RedisKeys } from '../../src/stores/redis/keys.ts';
import { connectRedisCluster, testRedis, testRedisCluster } from '../helpers/services.ts';

t.test('single Redis', async (t) => {
  const svc = await testRedis(t);
  if (!svc) return;
  const connect = () => {
    const redis = new Redis(svc.url);
    t.teardown(() => redis.quit());
    return redis;
  };
  sequencerContract(t, svc.prefix, connect);
});

t.test('Redis Cluster', async (t) => {
  const svc = await testRedisCluster(t);
  if (!svc) return;
  sequencerContract(t, svc.prefix, () => connectRedisCluster(t));
});

function sequencerContract(t: Test, prefix: string, connect: () => RedisClient): void {
  /** What the database holds per conversation, and how often it was asked. */
  const stored = new Map<string, number>();
  let seedReads = 0;
  const storedLastSeq = async (id: string) => {
    seedReads++;
    return stored.get(id) ?? 0;
  };
  const sequencer = (redis: RedisClient, ttlMs?: number) => new RedisConversationSequencer({ redis, keyPrefix: prefix, storedLastSeq, ttlMs });

  t.test('the first number continues the database; then one call per number, consecutive', async (t) => {
    const s = sequencer(connect());
    stored.set('dm:a:b', 41);
    seedReads = 0;
    t.equal(await s.next('dm:a:b'), 42);
    t.equal(seedReads, 1, 'the missing counter was seeded from the database');
    t.same([await s.next('dm:a:b'), await s.next('dm:a:b')], [43, 44]);
    t.equal(seedReads, 1, 'read once');
    t.equal(await s.next('dm:a:new'), 1, 'a conversation with no message starts at 1');
  });

  t.test('two nodes numbering the same conversations at once: no repeat, no gap', async (t) => {
    const one = sequencer(connect());
    const two = sequencer(connect());
    const conversations = ['dm:x:y', 'dm:x:z', 'group:g{1}'];
    const seqs = await Promise.all(Array.from({ length: 300 }, (_, i) => (i % 2 ? one : two).next(conversations[i % 3]!).then((seq) => [i % 3, seq] as const)));
    for (let c = 0; c < 3; c++) {
      const mine = seqs
        .filter(([k]) => k === c)
        .map(([, seq]) => seq)
        .sort((a, b) => a - b);
      t.same(
        mine,
        Array.from({ length: 100 }, (_, i) => i + 1),
        `${conversations[c]}: 1..100`,
      );
    }
  });

  t.test('a lost counter starts again from what the database holds; the counter expires after its lifetime', async (t) => {
    const redis = connect();
    const s = sequencer(redis, 200);
    const keys = new RedisKeys(prefix);
    t.equal(await s.next('dm:lost:one'), 1);
    t.equal(await s.next('dm:lost:one'), 2);
    stored.set('dm:lost:one', 2);
    await redis.del(keys.conversationSeq('dm:lost:one'));
    t.equal(await s.next('dm:lost:one'), 3, 'seeded again from last_seq');
    const ttl = await redis.pttl(keys.conversationSeq('dm:lost:one'));
    t.ok(ttl > 0 && ttl <= 200, `the counter expires (pttl ${ttl})`);
    stored.set('dm:lost:one', 3);
    await new Promise((resolve) => setTimeout(resolve, 300));
    t.equal(await redis.exists(keys.conversationSeq('dm:lost:one')), 0, 'expired while idle');
    t.equal(await s.next('dm:lost:one'), 4);
  });
}
