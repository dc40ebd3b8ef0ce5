import t, { type Test } from 'tap';
import { isDeepStrictEqual } from 'node:util';
import { Redis } from 'ioredis';
import { createMemoryStores } from '../../src/stores/memory/memory-stores.ts';
import type { LogoutRecord, WrittenLogout } from '../../src/presence/logout-outbox.ts';
import { createRedisStores } from '../../src/stores/redis/redis-stores.ts';
import { RedisKeys } from '../../src/stores/redis/keys.ts';
import { RedisNodeRegistry } from '../../src/stores/redis/redis-node-registry.ts';
import { defineScripts } from '../../src/stores/redis/scripts.ts';
import type { OnlineStores } from '../../src/stores/online-stores.ts';
import { testRedis } from '../helpers/services.ts';
import { allPages, random } from './contract-helpers.ts';
import { RedisServer, redisServerInstalled } from '../helpers/redis-server.ts';

/**
 * Redis-only checks of the online stores (the contracts run in presence-store.test.ts,
 * logout-outbox.test.ts, node-registry.test.ts, locks.test.ts): raw keys, round trips, isolation,
 * and random operation sequences compared with the memory stores.
 */

/** Stores on a fresh key prefix (deleted at teardown), with its own client. */
async function redisStore(t: Test) {
  const service = await testRedis(t);
  if (!service) return null;
  const redis = new Redis(service.url);
  t.teardown(() => redis.quit());
  return { redis, prefix: service.prefix, url: service.url, store: createRedisStores({ redis, keyPrefix: service.prefix }) };
}

t.test('redis: raw keys follow ARCHITECTURE.md and the PROTOCOL.md logout contract', async (t) => {
  const ctx = await redisStore(t);
  if (!ctx) return;
  const { redis, prefix: p, store } = ctx;
  await store.presence.login({ userId: 'u1', username: 'Ann', nodeId: 'A', candidateLogicalSessionId: 's1', now: 1000 });
  t.same(await redis.hgetall(`${p}player:online:u1`), {
    status: 'online',
    username: 'Ann',
    nodeId: 'A',
    epoch: '1',
    sessions: '1',
    sid: 's1',
    connectedAt: '1000',
    lastHeartbeat: '1000',
    'n:A': '1',
  });
  t.equal(await redis.sismember(`${p}server:online:players`, 'u1'), 1);
  t.equal(await redis.zscore(`${p}server:online:index`, 'u1'), '0');
  t.equal(await redis.sismember(`${p}server:node:A:players`, 'u1'), 1);

  await store.presence.flushHeartbeats('A', new Map([['u1', 1500]]));
  t.equal(await redis.hget(`${p}server:node:A:heartbeats`, 'u1'), '1500');
  await store.presence.endSession({ userId: 'u1', nodeId: 'A', logicalSessionId: 's1', reason: 'client-close', now: 2000 });
  t.match(await redis.hgetall(`${p}player:online:u1`), { status: 'offline', logoutTime: '2000', logoutReason: 'client-close', sessions: '0' });
  t.equal(await redis.hexists(`${p}player:online:u1`, 'n:A'), 0);
  t.equal(await redis.sismember(`${p}server:online:players`, 'u1'), 0, 'SREM server:online:players');
  t.equal(await redis.zscore(`${p}server:online:index`, 'u1'), null);
  t.equal(await redis.sismember(`${p}server:node:A:players`, 'u1'), 0);
  t.equal(await redis.hexists(`${p}server:node:A:heartbeats`, 'u1'), 0);
  t.equal(await redis.zscore(`${p}logout:pending`, 's1'), '2000');
  t.same(JSON.parse((await redis.hget(`${p}logout:pending:data`, 's1')) ?? 'null'), {
    record: { userId: 'u1', username: 'Ann', logicalSessionId: 's1', nodeId: 'A', epoch: 1, connectedAt: 1000, logoutAt: 2000, reason: 'client-close' },
    attempts: 0,
  });

  await store.presence.login({ userId: 'u2', username: 'Bob', nodeId: 'A', candidateLogicalSessionId: 's2', now: 1000 });
  await store.presence.login({ userId: 'u2', username: 'Bob', nodeId: 'B', candidateLogicalSessionId: 's3', now: 1000 });
  await store.presence.flushHeartbeats('B', new Map([['u2', 1200]]));
  await store.presence.forceLogout({ userId: 'u2', reason: 'kick', now: 3000 });
  t.match(await redis.hgetall(`${p}player:online:u2`), { status: 'offline', logoutTime: '3000' });
  t.equal(await redis.sismember(`${p}server:online:players`, 'u2'), 0);
  t.equal(await redis.sismember(`${p}server:node:A:players`, 'u2'), 0, 'node sets passed in KEYS');
  t.equal(await redis.sismember(`${p}server:node:B:players`, 'u2'), 0);
  t.equal(await redis.hexists(`${p}server:node:B:heartbeats`, 'u2'), 0);
  t.same(
    (await redis.keys(`${p}*`)).map((k) => k.slice(p.length)).sort(),
    ['logout:pending', 'logout:pending:data', 'player:online:u1', 'player:online:u2'],
    'only presence hashes and the queue remain: emptied sets and heartbeat fields are gone',
  );
});

t.test('redis: a login says whether the user has an offline queue, checked in the same step', async (t) => {
  const ctx = await redisStore(t);
  if (!ctx) return;
  const { redis, prefix: p, store } = ctx;
  const login = (userId: string, now: number) =>
    store.presence.login({ userId, username: 'x', nodeId: 'A', candidateLogicalSessionId: `s-${userId}-${now}`, now });
  t.equal((await login('empty', 1000)).offlineQueueEmpty, true, 'no queue: the replay may skip its read');
  await redis.rpush(`${p}websocket:queue:waiting`, 'm1 1000 ! {}');
  t.equal((await login('waiting', 1000)).offlineQueueEmpty, false, 'a queue: the replay reads it');
  t.equal((await login('waiting', 2000)).offlineQueueEmpty, false, 'also for a second connection');
});

t.test('redis: cluster keys follow ARCHITECTURE.md', async (t) => {
  const ctx = await redisStore(t);
  if (!ctx) return;
  const { redis, prefix: p, store } = ctx;
  await store.nodes.registerNode('A', 1000, 10_000);
  await store.nodes.renewLease('B', 1500, 'gB');
  t.same(await redis.zrange(`${p}server:nodes`, 0, -1, 'WITHSCORES'), ['A', '1000', 'B', '1500'], 'server:nodes: nodeId -> last renewal');

  await store.locks.tryLock('reaper', 'A', 30_000, 2000);
  t.same(await redis.hgetall(`${p}server:lock:reaper`), { owner: 'A', expiresAt: '32000' });
  const ttl = await redis.pttl(`${p}server:lock:reaper`);
  t.ok(ttl > 0 && ttl <= 30_000, `the lock key expires by itself (${ttl} ms)`);
  await store.locks.unlock('reaper', 'A');
  t.equal(await redis.exists(`${p}server:lock:reaper`), 0);
  await store.locks.tryLock('reaper', 'A', 30_000, 1_760_000_000_123);
  t.equal(await redis.hget(`${p}server:lock:reaper`, 'expiresAt'), '1760000030123', 'real timestamps exactly');
  await store.locks.unlock('reaper', 'A');

  await store.presence.login({ userId: 'u1', username: 'Ann', nodeId: 'A', candidateLogicalSessionId: 's1', now: 3000, connectionId: 'c/1' });
  await store.presence.login({ userId: 'u1', username: 'Ann', nodeId: 'A', candidateLogicalSessionId: 's1', now: 3000, connectionId: 'c"2' });
  t.same(JSON.parse((await redis.hget(`${p}player:online:u1`, 'c:A')) ?? 'null'), ['c/1', 'c"2'], 'connection ids: a JSON array per node');
  await store.presence.login({ userId: 'u2', username: 'Bob', nodeId: 'A', candidateLogicalSessionId: 's2', now: 3000 });
  t.equal(await redis.hexists(`${p}player:online:u2`, 'c:A'), 0, 'untracked logins add no field');
  await store.presence.flushHeartbeats(
    'A',
    new Map([
      ['u1', 3500],
      ['u2', 3500],
    ]),
  );

  t.match(await store.nodes.reapNode('A', 1000, 1), { remaining: 1 });
  t.equal(await redis.hlen(`${p}server:node:A:heartbeats`), 1, "the reaped user's heartbeat is gone");
  t.match(await store.nodes.reapNode('A', 1000, 1), { remaining: 0 });
  t.same(await redis.zrange(`${p}server:nodes`, 0, -1), ['B'], 'the lease is removed with the last user');
  t.same(
    (await redis.keys(`${p}*`)).map((k) => k.slice(p.length)).sort(),
    ['logout:pending', 'logout:pending:data', 'player:online:u1', 'player:online:u2', 'server:node:A:fence', 'server:node:B:fence', 'server:nodes'],
    "no node key of A is left but its fence (the leases' generations)",
  );
  const fenceA = await redis.hgetall(`${p}server:node:A:fence`);
  t.equal(fenceA.fenced, fenceA.gen, "A's generation is fenced");
  t.ok((await redis.pttl(`${p}server:node:A:fence`)) > 6 * 86_400_000, 'the fence mark expires after 7 days');
  t.same(await redis.hgetall(`${p}server:node:B:fence`), { gen: 'gB' }, "B's generation, unfenced");
  t.equal(await redis.pttl(`${p}server:node:B:fence`), -1, 'a live generation does not expire');
  t.same(
    Object.keys(await redis.hgetall(`${p}player:online:u1`)).filter((f) => f.includes(':')),
    [],
    'no n: or c: field left',
  );
});

t.test('redis: every cluster call is one round trip (one script per batch; two per reap batch)', async (t) => {
  const ctx = await redisStore(t);
  if (!ctx) return;
  const { redis, store } = ctx;
  await redis.ping(); // connected: the handshake commands are not counted
  const sent: string[] = [];
  const original = redis.sendCommand.bind(redis);
  redis.sendCommand = (command, stream) => {
    sent.push(command.name);
    return original(command, stream);
  };
  t.teardown(() => {
    redis.sendCommand = original;
  });
  const count = async (label: string, call: () => Promise<unknown>, expected: number) => {
    sent.length = 0;
    await call();
    t.equal(sent.length, expected, `${label}: ${sent.join(', ')}`);
    t.comment(`${label}: ${sent.length} Redis command(s)`);
  };
  const sessions = (n: number, from = 0) =>
    Array.from({ length: n }, (_, i) => ({
      userId: `u${from + i}`,
      username: 'x',
      logicalSessionId: `s${from + i}`,
      epoch: 1,
      connectedAt: 1,
      connections: 1,
    }));
  await count('registerNode (fresh id)', () => store.nodes.registerNode('A', 1000, 10_000), 1);
  await count('renewLease', () => store.nodes.renewLease('A', 2000, 'gA'), 1);
  await count('listNodes', () => store.nodes.listNodes(), 1);
  await count('tryLock', () => store.locks.tryLock('reaper', 'A', 30_000, 2000), 1);
  await count('unlock', () => store.locks.unlock('reaper', 'A'), 1);
  await count('reassert of 500 sessions', () => store.nodes.reassert('A', 3000, sessions(500)), 1);
  await count('reassert of 1,200 sessions', () => store.nodes.reassert('A', 3000, sessions(1200, 500)), 3);
  // A reap batch is two scripts: the users to reap are known only once they are claimed off the
  // node's players set (step 1, node keys only), and their keys must then go in KEYS (step 2).
  await count('reapNode batch of 500', () => store.nodes.reapNode('A', 3000, 500), 2);
  await count('registerNode reaping 1,200 users left behind', () => store.nodes.registerNode('A', 20_000, 10_000), 6);
  await count('removeNode', () => store.nodes.removeNode('A'), 1);
  t.equal(await store.presence.countOnline(), 0);
});

/** A node registry on `redis` whose reap batches stop after their first step, like a reaper crashing between the two. */
function crashingRegistry(redis: Redis, prefix: string) {
  const run = defineScripts(redis);
  return new RedisNodeRegistry({
    redis,
    keys: new RedisKeys(prefix),
    run: (script, keys, args) => (script === 'reapClaimed' ? Promise.reject(new Error('crashed')) : run(script, keys, args)),
  });
}

t.test('redis: users claimed by a reaper that stopped between the two steps are reaped by the next one', async (t) => {
  const service = await testRedis(t);
  if (!service) return;
  const redis = new Redis(service.url);
  t.teardown(() => redis.quit());
  const p = service.prefix;
  const patient = createRedisStores({ redis, keyPrefix: p, reapClaimTtlMs: 60_000 });
  const eager = createRedisStores({ redis, keyPrefix: p, reapClaimTtlMs: 0 });
  await patient.nodes.registerNode('dead', 1000, 10_000);
  for (const userId of ['u1', 'u2', 'u3']) {
    await patient.presence.login({ userId, username: 'x', nodeId: 'dead', candidateLogicalSessionId: `s-${userId}`, now: 1000 });
  }

  await t.rejects(crashingRegistry(redis, p).reapNode('dead', 1000, 2), /crashed/);
  t.equal(await redis.scard(`${p}server:node:dead:players`), 1, 'two users taken off the players set...');
  const claimed = Object.keys(await redis.hgetall(`${p}server:node:dead:reaping`)).sort();
  t.equal(claimed.length, 2, '...into the claim hash');
  t.equal(await patient.presence.countOnline(), 3, 'nobody reaped yet');

  t.match(await patient.nodes.reapNode('dead', 1000, 10), { remaining: 2, alive: false }, 'fresh claims are left to their reaper');
  t.equal(await patient.presence.countOnline(), 2, 'the unclaimed user is reaped');
  const next = await eager.nodes.reapNode('dead', 1000, 10);
  t.same(next.records.map((r) => r.userId).sort(), claimed, 'the stale claims are taken again and reaped');
  t.equal(next.remaining, 0);
  t.equal(await patient.presence.countOnline(), 0);
  t.equal(await redis.exists(`${p}server:node:dead:reaping`), 0, 'no claim left');
  t.same(await patient.nodes.listNodes(), [], 'the lease went with the last user');
  t.equal(await redis.zcard(`${p}logout:pending`), 3, 'one logout per user');

  // registerNode takes over every claim, fresh or not: it may set its lease only once none is left.
  await patient.nodes.registerNode('dead2', 1000, 10_000);
  await patient.presence.login({ userId: 'v1', username: 'x', nodeId: 'dead2', candidateLogicalSessionId: 's-v1', now: 1000 });
  await t.rejects(crashingRegistry(redis, p).reapNode('dead2', 1000, 5), /crashed/);
  const registered = await patient.nodes.registerNode('dead2', 20_000, 10_000);
  t.same(
    registered.reaped.map((r) => [r.userId, r.logoutAt]),
    [['v1', 1000]],
  );
  t.equal(await redis.exists(`${p}server:node:dead2:reaping`), 0);
  t.same(await patient.nodes.listNodes(), [{ nodeId: 'dead2', lastRenewal: 20_000 }]);
});

t.test('redis: a node renewing its lease between the two steps of a batch keeps its users', async (t) => {
  const service = await testRedis(t);
  if (!service) return;
  const redis = new Redis(service.url);
  t.teardown(() => redis.quit());
  const p = service.prefix;
  const stores = createRedisStores({ redis, keyPrefix: p });
  await stores.nodes.registerNode('slow', 1000, 10_000);
  await stores.presence.login({ userId: 'u1', username: 'x', nodeId: 'slow', candidateLogicalSessionId: 's1', now: 1000 });
  await stores.presence.login({ userId: 'u2', username: 'x', nodeId: 'slow', candidateLogicalSessionId: 's2', now: 1000 });
  const run = defineScripts(redis);
  const registry = new RedisNodeRegistry({
    redis,
    keys: new RedisKeys(p),
    run: async (script, keys, args) => {
      // The node's lease gets newer while the reaper is between its two steps (a renewal is
      // fenced by then: a re-assertion that started before the fence still sets the lease).
      // u2 disconnects meanwhile.
      if (script === 'reapClaimed') {
        await stores.presence.endSession({ userId: 'u2', nodeId: 'slow', logicalSessionId: 's2', reason: 'client-close', now: 4000 });
        await stores.nodes.reassert('slow', 5000, []);
      }
      return run(script, keys, args);
    },
  });
  t.same(await registry.reapNode('slow', 1000, 10), { records: [], remaining: 0, alive: true });
  t.same(await redis.smembers(`${p}server:node:slow:players`), ['u1'], 'the claimed user still connected is back on the players set');
  t.equal(await redis.exists(`${p}server:node:slow:reaping`), 0);
  t.match(await stores.presence.getPlayer('u1'), { status: 'online', nodes: { slow: 1 } });
  t.match(await stores.presence.getPlayer('u2'), { status: 'offline', logoutReason: 'client-close' }, 'ended by its node, not reaped');
  t.equal(await stores.nodes.reapNode('slow', 1000, 10).then((r) => r.alive), true, 'later reapers see it alive');
});

t.test('redis: flushHeartbeats of 1,000 users is exactly one command', async (t) => {
  // A private redis-server: MONITOR on the shared one also streams every other suite's commands,
  // and under that flood ioredis has mixed monitor lines into a command reply ("Command queue
  // state error"). Here the only traffic is this test's.
  if (!redisServerInstalled(t)) return;
  const server = await RedisServer.start();
  t.teardown(() => server.stop());
  const prefix = 'gh-monitor:';
  const redis = new Redis(server.url);
  t.teardown(() => redis.quit());
  const store = createRedisStores({ redis, keyPrefix: prefix });
  const ctx = { url: server.url };
  await store.presence.login({ userId: 'user-7', username: 'x', nodeId: 'N1', candidateLogicalSessionId: 's', now: 1000 });
  const beats = new Map(Array.from({ length: 1000 }, (_, i) => [`user-${i}`, 10_000 + i] as const));

  // Server side: MONITOR (another connection) sees every command any client sends.
  // monitor() opens a duplicate connection: both must be closed.
  const monitorBase = new Redis(ctx.url, { lazyConnect: true });
  const monitor = await monitorBase.monitor();
  t.teardown(() => {
    monitor.disconnect();
    monitorBase.disconnect();
  });
  const seen: string[][] = [];
  const sentinel = `${prefix}sentinel`;
  let sentinelSeen: () => void = () => {};
  const sentinelArrived = new Promise<void>((resolve) => (sentinelSeen = resolve));
  monitor.on('monitor', (_time: string, args: string[]) => {
    if (args.includes(sentinel)) sentinelSeen();
    else if (args.some((arg) => arg.startsWith(prefix))) seen.push(args);
  });
  // Client side: count what the store's client writes.
  const sent: string[] = [];
  const original = redis.sendCommand.bind(redis);
  redis.sendCommand = (command, stream) => {
    sent.push(command.name);
    return original(command, stream);
  };

  await store.presence.flushHeartbeats('N1', beats);
  redis.sendCommand = original;
  await redis.echo(sentinel);
  await sentinelArrived;

  t.same(sent, ['hset'], 'the client sent one command');
  t.equal(seen.length, 1, 'Redis received one command for the whole map');
  t.equal(seen[0]?.[0]?.toLowerCase(), 'hset');
  t.equal(seen[0]?.length, 2 + 2 * 1000, 'HSET key + 1,000 field/value pairs');
  t.comment(`flushHeartbeats(1000 users): ${seen.length} Redis command(s) observed by MONITOR, ${sent.length} sent by the client`);
  t.equal(await redis.hlen(`${prefix}server:node:N1:heartbeats`), 1000);
  t.equal((await store.presence.getPlayer('user-7'))?.lastHeartbeat, 10_007);
  t.equal((await store.presence.listOnline({ limit: 5 })).players[0]?.lastHeartbeat, 10_007);
});

t.test('redis: a flush of 5,000 users goes out as 3 HSETs, each encoded on its own turn of the event loop', async (t) => {
  const ctx = await redisStore(t);
  if (!ctx) return;
  const { redis, prefix, store } = ctx;
  await redis.ping(); // connected: a command sent before is queued and sent (counted) again
  const beats = new Map(Array.from({ length: 5000 }, (_, i) => [`user-${i}`, 20_000 + i] as const));
  const order: string[] = [];
  const original = redis.sendCommand.bind(redis);
  redis.sendCommand = (command, stream) => {
    if (command.name === 'hset') order.push(`hset ${(command.args.length - 1) / 2}`);
    return original(command, stream);
  };
  t.teardown(() => {
    redis.sendCommand = original;
  });
  // Work queued before the flush, as a ping that arrived meanwhile would be.
  setImmediate(() => order.push('other work'));
  await store.presence.flushHeartbeats('N1', beats);
  t.same(order, ['hset 2000', 'other work', 'hset 2000', 'hset 1000'], 'the waiting work ran between the chunks');
  t.equal(await redis.hlen(`${prefix}server:node:N1:heartbeats`), 5000, 'every heartbeat written');
  await t.rejects(
    store.presence.flushHeartbeats(
      'N2',
      new Map([
        ['a', 1],
        ['b', 1.5],
      ]),
    ),
    RangeError,
  );
  t.equal(await redis.exists(`${prefix}server:node:N2:heartbeats`), 0, 'a bad value writes nothing');
});

t.test('redis: stores on different prefixes are isolated; the client keyPrefix is refused', async (t) => {
  const one = await redisStore(t);
  if (!one) return; // skipped: a second check would plan the test twice
  const two = await redisStore(t);
  if (!two) return;
  await one.store.presence.login({ userId: 'u1', username: 'x', nodeId: 'A', candidateLogicalSessionId: 's', now: 1 });
  t.equal(await one.store.presence.countOnline(), 1);
  t.equal(await two.store.presence.countOnline(), 0);
  t.equal(await two.store.presence.getPlayer('u1'), null);
  const prefixed = new Redis(one.url, { keyPrefix: 'nope:', lazyConnect: true });
  t.teardown(() => prefixed.disconnect());
  t.throws(() => createRedisStores({ redis: prefixed }), /keyPrefix/);
  t.equal(await one.redis.ping(), 'PONG', 'the caller-owned client stays open');
});

t.test('redis: an unreachable Redis makes calls reject quickly', async (t) => {
  const redis = new Redis({ host: '127.0.0.1', port: 1, maxRetriesPerRequest: 0, enableOfflineQueue: false, connectTimeout: 500 });
  redis.on('error', () => {});
  t.teardown(() => redis.disconnect());
  const store = createRedisStores({ redis, keyPrefix: 'unreachable:' });
  const calls: [string, () => Promise<unknown>][] = [
    ['ping', () => store.presence.ping()],
    ['login', () => store.presence.login({ userId: 'u', username: 'u', nodeId: 'A', candidateLogicalSessionId: 's', now: 1 })],
    ['endSession', () => store.presence.endSession({ userId: 'u', nodeId: 'A', logicalSessionId: 's', reason: 'r', now: 1 })],
    ['getPlayer', () => store.presence.getPlayer('u')],
    ['listOnline', () => store.presence.listOnline({ limit: 10 })],
    ['flushHeartbeats', () => store.presence.flushHeartbeats('A', new Map([['u', 1]]))],
    ['claimPendingLogouts', () => store.outbox.claimPendingLogouts(10, 1, 1)],
    ['countOnline', () => store.presence.countOnline()],
  ];
  for (const [name, call] of calls) {
    const started = Date.now();
    await t.rejects(call(), `${name} rejects`);
    t.ok(Date.now() - started < 1000, `${name} rejected within 1 s (${Date.now() - started} ms)`);
  }
});

t.test('redis: random operation sequences give exactly the memory store results', async (t) => {
  const ctx = await redisStore(t);
  if (!ctx) return;
  const stores = [createMemoryStores(), ctx.store] as const;
  const rand = random(2024);
  const int = (n: number) => Math.floor(rand() * n);
  const users = Array.from({ length: 12 }, (_, i) => `u${i}`);
  const nodes = ['A', 'B', 'C'];
  const sids = new Map<string, string[]>();
  /** Logouts queued so far, as an ack names them. */
  const pendingIds: WrittenLogout[] = [];
  /** Connection ids handed out per user (some already ended: repeated ends are part of the run). */
  const connections = new Map<string, string[]>();
  const written = (record: LogoutRecord): WrittenLogout => ({ id: record.logicalSessionId, record: { userId: record.userId, nodeId: record.nodeId } });
  const byUserId = (records: readonly LogoutRecord[]) => [...records].sort((a, b) => (a.userId < b.userId ? -1 : 1));
  let now = 1000;
  /** Runs one operation on both stores; returns false (after one failure) when they disagree. */
  const both = async (label: string, op: (store: OnlineStores) => Promise<unknown>) => {
    const [memory, redis] = await Promise.all(stores.map((store) => op(store).catch((e: Error) => `threw ${e.name}`)));
    if (isDeepStrictEqual(memory, redis)) return memory;
    t.fail(`${label}: memory and redis disagree`, { found: redis, wanted: memory });
    return undefined;
  };
  let steps = 0;
  let claimed = 0;
  let reaped = 0;
  let refusedRegistrations = 0;
  const reasserted = { restored: 0, stale: 0 };
  for (; steps < 1500; steps++) {
    now += int(50);
    const userId = users[int(users.length)]!;
    const nodeId = nodes[int(nodes.length)]!;
    const known = sids.get(userId) ?? [];
    const kind = int(10);
    let result: unknown = null;
    const issued = connections.get(userId) ?? [];
    if (kind <= 2) {
      const connectionId = rand() < 0.5 ? `k${steps}` : undefined;
      if (connectionId) connections.set(userId, [...issued, connectionId]);
      // offlineQueueEmpty is a hint only Redis gives (presence-store.ts): not compared.
      result = await both(`login ${userId}`, (s) =>
        s.presence
          .login({ userId, username: userId, nodeId, candidateLogicalSessionId: `c${steps}`, now, connectionId })
          .then(({ offlineQueueEmpty: _hint, ...rest }) => rest),
      );
      if (result) sids.set(userId, [...known, (result as { logicalSessionId: string }).logicalSessionId]);
    } else if (kind <= 4) {
      const sid = known.length && rand() < 0.8 ? known.at(-1)! : (known[int(known.length)] ?? 'none');
      const connectionId = issued.length && rand() < 0.5 ? issued[int(issued.length)] : undefined;
      result = await both(`end ${userId}`, (s) => s.presence.endSession({ userId, nodeId, logicalSessionId: sid, reason: `r${steps}`, now, connectionId }));
      if (result && (result as { loggedOut: boolean }).loggedOut) pendingIds.push(written((result as { record: LogoutRecord }).record));
    } else if (kind === 5) {
      result = await both(`force ${userId}`, (s) => s.presence.forceLogout({ userId, reason: 'kick', now }));
      if (result && (result as { loggedOut: boolean }).loggedOut) pendingIds.push(written((result as { record: LogoutRecord }).record));
    } else if (kind === 6) {
      const beats = new Map(users.filter(() => rand() < 0.3).map((u) => [u, now - int(20)] as const));
      result = await both('flush', (s) => s.presence.flushHeartbeats(nodeId, beats).then(() => 'ok'));
    } else if (kind === 7) {
      // 'u1' covers u1, u10 and u11: a range with neighbours on both sides.
      const prefix = ['u1', 'u', 'u2', ''][int(8)];
      const options = { limit: 1 + int(4), ...(rand() < 0.5 ? { nodeId } : {}), ...(prefix === undefined ? {} : { prefix }) };
      result = await both('pages', (s) => allPages(s.presence, options));
      if (result) result = await both(`get ${userId}`, (s) => s.presence.getPlayer(userId));
      if (result !== undefined) {
        result = await both('counts', async (s) => [
          await s.presence.countOnline(),
          await s.outbox.countPendingLogouts(),
          await s.presence.countOnline(prefix),
        ]);
      }
    } else if (kind === 9) {
      // Cluster operations. Reaps take every user (a partial batch may pick other users on Redis,
      // whose SPOP is random); records are compared in userId order.
      const [choice, back] = [int(6), int(300)];
      if (choice === 0) result = await both(`renew ${nodeId}`, (s) => s.nodes.renewLease(nodeId, now, `g-${nodeId}`));
      else if (choice === 1) {
        result = await both(`register ${nodeId}`, (s) => s.nodes.registerNode(nodeId, now, 200).then((r) => byUserId(r.reaped)));
        if (Array.isArray(result)) {
          for (const record of result as LogoutRecord[]) pendingIds.push(written(record));
          reaped += result.length;
        } else if (result === 'threw NodeIdInUseError') refusedRegistrations += 1;
      } else if (choice === 2) {
        result = await both(`reap ${nodeId}`, (s) => s.nodes.reapNode(nodeId, now - back, 1000).then((r) => ({ ...r, records: byUserId(r.records) })));
      } else if (choice === 3) {
        const entries = users
          .filter(() => rand() < 0.3)
          .map((u) => {
            const mine = sids.get(u) ?? [];
            const connectionsOfUser = 1 + int(2);
            return {
              userId: u,
              username: u,
              logicalSessionId: mine.length && rand() < 0.8 ? mine.at(-1)! : 'none',
              epoch: int(20),
              connectedAt: now - int(100),
              connections: connectionsOfUser,
              ...(rand() < 0.3 ? { connectionIds: Array.from({ length: connectionsOfUser }, (_, i) => `q${steps}-${i}`) } : {}),
            };
          });
        result = await both(`reassert ${nodeId}`, (s) => s.nodes.reassert(nodeId, now, entries));
        if (result) {
          reasserted.restored += (result as { restored: number }).restored;
          reasserted.stale += (result as { stale: string[] }).stale.length;
        }
      } else if (choice === 4) {
        result = await both('nodes', (s) => s.nodes.listNodes());
      } else {
        const owner = nodes[int(nodes.length)]!;
        result = await both(`lock ${owner}`, async (s) => [await s.locks.tryLock('reaper', owner, 100, now), await s.locks.unlock('reaper', nodeId)]);
      }
      if (result && Array.isArray((result as { records?: unknown }).records)) {
        for (const record of (result as { records: LogoutRecord[] }).records) pendingIds.push(written(record));
        reaped += (result as { records: LogoutRecord[] }).records.length;
      }
    } else {
      const ids = pendingIds.filter(() => rand() < 0.3);
      // Random draws happen here, never inside `both` (which runs the operation twice).
      const [choice, limit, lease, delay] = [int(3), 1 + int(4), int(200), int(100)];
      if (choice === 0) {
        result = await both('claim', (s) => s.outbox.claimPendingLogouts(limit, now, lease));
        claimed += Array.isArray(result) ? result.length : 0;
      } else if (choice === 1) result = await both('ack', (s) => s.outbox.ackPendingLogouts(ids).then(() => 'ok'));
      else {
        const retried = ids.map((w) => w.id);
        result = await both('retry', (s) => s.outbox.retryPendingLogouts(retried, now + delay).then(() => 'ok'));
      }
    }
    if (result === undefined) break;
  }
  t.equal(steps, 1500, 'all operations agreed');
  t.ok(pendingIds.length > 20, `the run covered many logouts (${pendingIds.length})`);
  t.ok(claimed > 10, `the run claimed pending logouts (${claimed})`);
  t.ok(reaped > 5, `the run reaped users (${reaped})`);
  t.ok(refusedRegistrations > 0, `the run refused registrations (${refusedRegistrations})`);
  t.ok(reasserted.restored > 5 && reasserted.stale > 5, `the run re-asserted (${JSON.stringify(reasserted)})`);
});
