/**
 * Rooms while Redis is unreachable, and after it comes back empty: joins and publishes that need
 * the bus fail loudly (NOT_AVAILABLE, nothing half-done), members on this node keep their
 * membership, and the node re-syncs its share of the room directory by itself.
 */
import t from 'tap';
import { Redis } from 'ioredis';
import { buildTestApp, eventually, TEST_ADMIN_TOKEN } from '../helpers/build.ts';
import { deleteRedisPrefix, TEST_REDIS_URL } from '../helpers/services.ts';
import { TcpProxy } from '../helpers/tcp-proxy.ts';
import { TestClient } from '../helpers/ws-client.ts';
import { call } from '../api/http.ts';

t.test('rooms through a Redis outage (real)', async (t) => {
  const proxy = await TcpProxy.start(TEST_REDIS_URL);
  t.teardown(() => proxy.close());
  const h = await buildTestApp(t, 'real', { REDIS_URL: proxy.rewrite(TEST_REDIS_URL), WATCHDOG_INTERVAL_MS: '200', HEARTBEAT_TIMEOUT_MS: '60000' });
  if (!h) return;
  const open = async (userId: string) => (await TestClient.open(`${h.wsUrl}/ws?token=${h.token(userId)}`)).client;
  const alice = await open('alice');
  const bob = await open('bob');
  for (const c of [alice, bob]) {
    c.send({ type: 'join', room: 'kept' });
    await c.next('joined');
  }
  const kept = async () =>
    (await call<{ rooms: Array<{ room: string; clusterMembers: number }> }>(h, 'GET', '/api/rooms', { token: TEST_ADMIN_TOKEN })).body.rooms?.find(
      (r) => r.room === 'kept',
    );
  await eventually(async () => (await kept())?.clusterMembers === 2);

  proxy.cut();
  await eventually(() => h.app.redis?.status !== 'ready');
  alice.send({ type: 'join', room: 'new-room' });
  t.match(await alice.next('error'), { code: 'NOT_AVAILABLE', error: /new-room/ }, 'a room the node is not subscribed to cannot be joined');
  alice.send({ type: 'room', room: 'kept', content: 'during outage', id: 'o1' });
  t.match(await alice.next('error'), { code: 'NOT_AVAILABLE', ref: 'o1' }, 'a publish that cannot reach the other nodes fails');
  await bob.ping();
  t.notOk(
    bob.frames.some((f) => f.type === 'room'),
    'and nobody got it',
  );
  t.equal(h.app.gateway.rooms.registry.localCount('new-room'), 0, 'the failed join left no membership');

  // Redis comes back without the directory (as after a restart without persistence).
  await deleteRedisPrefix(`${h.config.REDIS_KEY_PREFIX}room`);
  proxy.restore();
  await eventually(async () => (await kept())?.clusterMembers === 2, 10_000);
  t.pass('the node re-synced its share of the directory');
  alice.send({ type: 'room', room: 'kept', content: 'after', id: 'o2' });
  t.match(await alice.next('ack'), { id: 'o2', status: 'delivered' });
  t.match(await bob.next('room'), { content: 'after' });
  alice.send({ type: 'join', room: 'new-room' });
  t.same(await alice.next('joined'), { type: 'joined', room: 'new-room' });

  const redis = new Redis(TEST_REDIS_URL);
  t.teardown(() => redis.quit());
  t.equal(Number(((await redis.pubsub('NUMSUB', `${h.config.REDIS_KEY_PREFIX}gateway:room:kept`)) as [string, number])[1]), 1, 'room channel subscribed again');
  await Promise.all([alice.close(), bob.close()]);
});
