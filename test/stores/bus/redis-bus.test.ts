import t, { type Test } from 'tap';
import net from 'node:net';
import { Redis } from 'ioredis';
import type { BusEnvelope, BusMessage } from '../../../src/cluster/bus.ts';
import { RedisBus } from '../../../src/stores/redis/redis-bus.ts';
import { redisOptions } from '../../../src/http/plugins/online-store.ts';
import { connectRedisCluster, testRedis, testRedisCluster } from '../../helpers/services.ts';
import { TcpProxy } from '../../helpers/tcp-proxy.ts';
import { gatewayRedis, waitFor } from './bus-helpers.ts';
import { attach, barrier, runBusContract, sampleMessages } from './bus.contract.ts';

/** `n` buses on one fresh channel prefix, each "node" with its own connections. */
async function redisBuses(t: Test, n: number, url?: string) {
  const service = await testRedis(t);
  if (!service) return null;
  const buses: RedisBus[] = [];
  for (let i = 0; i < n; i++) {
    const bus = new RedisBus({ publisher: await gatewayRedis(t, url ?? service.url), channelPrefix: service.prefix });
    t.teardown(() => bus.close());
    buses.push(bus);
  }
  return { buses, prefix: service.prefix, url: service.url };
}

runBusContract(t, 'redis', async (t, n) => (await redisBuses(t, n))?.buses ?? null);

/** `n` buses on the test Redis Cluster (sharded node and room channels), each with its own cluster client. */
runBusContract(
  t,
  'redis-cluster',
  async (t, n) => {
    const service = await testRedisCluster(t);
    if (!service) return null;
    const buses: RedisBus[] = [];
    for (let i = 0; i < n; i++) {
      const publisher = connectRedisCluster(t);
      await publisher.connect();
      const bus = new RedisBus({ publisher, channelPrefix: service.prefix });
      t.teardown(() => bus.close());
      buses.push(bus);
    }
    return buses;
  },
  { orderedAcrossChannels: false },
);

t.test('redis: wire format is one PUBLISH of {"o","m"} on <prefix>gateway:<nodeId>', async (t) => {
  const ctx = await redisBuses(t, 1);
  if (!ctx) return;
  const [bus] = ctx.buses;
  await bus!.subscribe('A', () => {});
  const raw = new Redis(ctx.url);
  t.teardown(() => raw.quit());
  const seen: [string, string][] = [];
  raw.on('message', (channel: string, text: string) => seen.push([channel, text]));
  await raw.subscribe(`${ctx.prefix}gateway:B`, `${ctx.prefix}gateway:broadcast`);

  const publisher = (bus as unknown as { publisher: Redis }).publisher;
  const sent: string[] = [];
  const original = publisher.sendCommand.bind(publisher);
  publisher.sendCommand = (command, stream) => {
    sent.push(command.name);
    return original(command, stream);
  };
  const message: BusMessage = { kind: 'deliver', userId: 'u1', frame: '{"type":"message","content":"hi"}' };
  await bus!.publish('B', message);
  await bus!.broadcast({ kind: 'broadcast', frame: '{}' });
  publisher.sendCommand = original;
  await waitFor(() => seen.length === 2, 'raw subscriber');
  t.strictSame(sent, ['publish', 'publish'], 'one command per message');
  t.strictSame(seen, [
    [`${ctx.prefix}gateway:B`, JSON.stringify({ o: 'A', m: message })],
    [`${ctx.prefix}gateway:broadcast`, '{"o":"A","m":{"kind":"broadcast","frame":"{}"}}'],
  ]);
  t.equal(bus!.published, 2);
  await t.rejects(bus!.publish('broadcast', message), /not a node id/, 'the broadcast channel is not addressable as a node');
});

t.test('redis: malformed envelopes are counted and ignored', async (t) => {
  const ctx = await redisBuses(t, 2);
  if (!ctx) return;
  const warnings: string[] = [];
  const log = { warn: (_o: object, msg: string) => void warnings.push(msg), info: () => {} };
  const listener = new RedisBus({ publisher: await gatewayRedis(t, ctx.url), channelPrefix: ctx.prefix, log });
  t.teardown(() => listener.close());
  const [node] = await attach([listener], ['L']);
  const raw = new Redis(ctx.url);
  t.teardown(() => raw.quit());
  const garbage = [
    'not json',
    '[]',
    'null',
    '"string"',
    '{"o":"A"}',
    '{"m":{"kind":"broadcast","frame":"x"}}',
    '{"o":"","m":{"kind":"broadcast","frame":"x"}}',
    '{"o":"A","m":{"kind":"nope"}}',
    '{"o":"A","m":{"kind":"deliver","userId":"u","frame":1}}',
    '{"o":"A","m":{"kind":"kick","userId":"u","beforeEpoch":"1","code":4001,"reason":"r"}}',
    '{"o":"A","m":{"kind":"logout","userId":"u","code":4002}}',
    '{"o":7,"m":{"kind":"broadcast","frame":"x"}}',
    '{"o":"A","m":{"kind":"deliver","userId":"u","frame":"x","ref":5}}',
    '{"o":"A","m":{"kind":"receipts"}}',
    '{"o":"A","m":{"kind":"receipts","receipts":[["r",1]]}}',
    '{"o":"A","m":{"kind":"receipts","receipts":[[1,1,0]]}}',
    '{"o":"A","m":{"kind":"receipts","receipts":[["r","1",0]]}}',
  ];
  for (const text of garbage) await raw.publish(`${ctx.prefix}gateway:L`, text);
  await raw.publish(`${ctx.prefix}gateway:broadcast`, '{{{');
  await raw.publish(`${ctx.prefix}gateway:L`, '{"o":"A","m":{"kind":"deliver","userId":"u","frame":"ok"}}');
  await waitFor(() => node!.got.length === 1, 'the valid envelope');
  t.strictSame(node!.got, [{ origin: 'A', message: { kind: 'deliver', userId: 'u', frame: 'ok' } }]);
  t.equal(listener.malformed, garbage.length + 1, 'every malformed envelope counted');
  t.equal(listener.received, 1);
  t.strictSame(warnings, ['malformed bus envelope ignored'], 'one warning line, not one per envelope');
});

t.test('redis: close() quits the owned subscriber and leaves the borrowed publisher open', async (t) => {
  const service = await testRedis(t);
  if (!service) return;
  const publisher = await gatewayRedis(t, service.url);
  const bus = new RedisBus({ publisher, channelPrefix: service.prefix });
  t.equal(bus.subscriber.status, 'wait', 'lazy: no connection before subscribe');
  await bus.subscribe('A', () => {});
  t.equal(bus.subscriber.status, 'ready');
  await bus.close();
  t.equal(bus.subscriber.status, 'end');
  t.equal(await publisher.ping(), 'PONG');
  const unused = new RedisBus({ publisher, channelPrefix: service.prefix });
  await unused.close();
  t.equal(unused.subscriber.status, 'end', 'closing a bus that never subscribed opens nothing');
});

t.test('redis: unreachable Redis makes subscribe and publish reject quickly', async (t) => {
  const service = await testRedis(t);
  if (!service) return;
  const redis = new Redis({ ...redisOptions(), host: '127.0.0.1', port: 1 });
  redis.on('error', () => {});
  t.teardown(() => redis.disconnect());
  const bus = new RedisBus({ publisher: redis, channelPrefix: 'unreachable:' });
  t.teardown(() => bus.close());
  bus.subscriber.on('error', () => {});
  let started = Date.now();
  await t.rejects(
    bus.subscribe('A', () => {}),
    'subscribe rejects',
  );
  t.ok(Date.now() - started < 1000, `subscribe rejected within 1 s (${Date.now() - started} ms)`);
  await t.rejects(bus.publish('B', { kind: 'deliver', userId: 'u', frame: 'x' }), /subscribe/, 'the failed subscribe left no origin behind');

  // A bus that was working when Redis went away.
  const proxy = await TcpProxy.start(service.url);
  t.teardown(() => proxy.close());
  const publisher = await gatewayRedis(t, proxy.rewrite(service.url));
  const cut = new RedisBus({ publisher, channelPrefix: service.prefix });
  t.teardown(() => cut.close());
  await cut.subscribe('A', () => {});
  await cut.publish('B', { kind: 'deliver', userId: 'u', frame: 'x' });
  proxy.cut();
  await waitFor(() => publisher.status !== 'ready', 'the publisher notices the outage');
  for (const send of [
    () => cut.publish('B', { kind: 'deliver', userId: 'u', frame: 'x' }).then(() => {}),
    () => cut.broadcast({ kind: 'broadcast', frame: 'x' }),
  ]) {
    started = Date.now();
    await t.rejects(send(), 'rejects while Redis is unreachable');
    t.ok(Date.now() - started < 100, `rejected in ${Date.now() - started} ms`);
  }
  t.equal(cut.published, 1, 'failed sends are not counted');

  // subscribe() during the outage rejects; once Redis is back the same bus subscribes fine.
  const late = new RedisBus({ publisher, channelPrefix: service.prefix });
  t.teardown(() => late.close());
  late.subscriber.on('error', () => {});
  started = Date.now();
  await t.rejects(
    late.subscribe('L', () => {}),
    'subscribe rejects during the outage',
  );
  t.ok(Date.now() - started < 1000, `within 1 s (${Date.now() - started} ms)`);
  proxy.restore();
  const [node] = await attach([late], ['L']);
  const direct = await gatewayRedis(t, service.url);
  await direct.publish(`${service.prefix}gateway:L`, '{"o":"X","m":{"kind":"broadcast","frame":"back"}}');
  await waitFor(() => node!.got.length === 1, 'the retried subscription receives');
  t.equal(late.resubscribes, 0, 'a first subscription is not reported as a re-subscription');
});

/** Two nodes: B reaches Redis through a proxy (publisher and subscriber), A directly. */
async function nodesWithProxiedB(t: Test) {
  const service = await testRedis(t);
  if (!service) return null;
  const proxy = await TcpProxy.start(service.url);
  t.teardown(() => proxy.close());
  const logs: string[] = [];
  const log = { warn: (_o: object, msg: string) => void logs.push(`warn ${msg}`), info: (_o: object, msg: string) => void logs.push(`info ${msg}`) };
  const busA = new RedisBus({ publisher: await gatewayRedis(t, service.url), channelPrefix: service.prefix });
  const busB = new RedisBus({ publisher: await gatewayRedis(t, proxy.rewrite(service.url)), channelPrefix: service.prefix, log });
  t.teardown(() => Promise.all([busA.close(), busB.close()]));
  let resubscribedAt = 0;
  let resubscribed = 0;
  busB.onResubscribed(() => {
    resubscribed++;
    resubscribedAt = Date.now();
  });
  const [a, b] = await attach([busA, busB], ['A', 'B']);
  return { proxy, a: a!, b: b!, busB, logs, resubscribed: () => resubscribed, resubscribedAt: () => resubscribedAt };
}

/** A publishes a probe to B every 10 ms until one arrives; returns the time B received it. */
async function probeUntilFlowing(a: { bus: { publish(to: string, m: BusMessage): Promise<unknown> } }, got: BusEnvelope[]): Promise<number> {
  let arrivedAt = 0;
  const isProbe = (e: BusEnvelope) => e.message.kind === 'deliver' && e.message.userId === 'probe';
  let n = 0;
  await waitFor(
    () => {
      if (got.some(isProbe)) return (arrivedAt ||= Date.now()) > 0;
      a.bus.publish('B', { kind: 'deliver', userId: 'probe', frame: String(n++) }).catch(() => {});
      return false;
    },
    'messages flow again',
    10_000,
    1,
  );
  return arrivedAt;
}

t.test('redis: after a lost connection the subscriber re-subscribes by itself and messages flow again', async (t) => {
  const ctx = await nodesWithProxiedB(t);
  if (!ctx) return;
  const { proxy, a, b, busB, logs } = ctx;
  await a.bus.publish('B', { kind: 'deliver', userId: 'u', frame: 'before' });
  await barrier(a, [b]);
  t.equal(ctx.resubscribed(), 0, 'the first subscription is not a re-subscription');

  proxy.cut();
  await waitFor(() => busB.subscriber.status !== 'ready', 'B notices the outage');
  await a.bus.publish('B', { kind: 'deliver', userId: 'u', frame: 'lost' });
  t.pass('publishing to a node whose subscriber is down resolves (pub/sub keeps nothing)');
  const outage = 500;
  await new Promise((resolve) => setTimeout(resolve, outage)); // the outage itself, not a wait for a result
  const restoredAt = Date.now();
  proxy.restore();
  const flowingAt = await probeUntilFlowing(a, b.got);
  await waitFor(() => ctx.resubscribed() === 1, 'onResubscribed', 10_000);
  t.comment(
    `outage ${outage} ms: onResubscribed ${ctx.resubscribedAt() - restoredAt} ms after restore, messages flowing ${flowingAt - restoredAt} ms after restore`,
  );
  t.ok(flowingAt - restoredAt < 3000, 'flowing within the 2 s reconnect backoff cap');
  t.notOk(
    b.got.some((e) => e.message.kind === 'deliver' && e.message.frame === 'lost'),
    'the message sent during the outage is lost',
  );
  t.equal(busB.resubscribes, 1);
  t.ok(logs.includes('info bus resubscribed after reconnect'));

  // Exactly one subscription: after the re-subscription every message arrives once.
  b.got.length = 0;
  await a.bus.publish('B', { kind: 'deliver', userId: 'u', frame: 'after' });
  await a.bus.broadcast({ kind: 'broadcast', frame: 'after' });
  await barrier(a, [b]);
  t.strictSame(
    b.got.filter((e) => e.message.kind !== 'deliver' || e.message.userId !== 'probe').map((e) => e.message),
    [
      { kind: 'deliver', userId: 'u', frame: 'after' },
      { kind: 'broadcast', frame: 'after' },
    ],
    'once each',
  );
  // B's publisher reconnected too.
  await waitFor(() => b.bus instanceof RedisBus && (b.bus as unknown as { publisher: Redis }).publisher.status === 'ready', 'B publisher back');
  await b.bus.publish('A', { kind: 'deliver', userId: 'u', frame: 'from B' });
  await barrier(b, [a]);
  t.strictSame(
    a.got.map((e) => e.message),
    [{ kind: 'deliver', userId: 'u', frame: 'from B' }],
  );
});

t.test('redis: a connection that drops again during re-subscription still recovers', async (t) => {
  const ctx = await nodesWithProxiedB(t);
  if (!ctx) return;
  const { proxy, a, b, busB } = ctx;
  const rejections: unknown[] = [];
  const onRejection = (reason: unknown) => void rejections.push(reason);
  process.on('unhandledRejection', onRejection);
  t.teardown(() => void process.off('unhandledRejection', onRejection));
  let readies = 0;
  busB.subscriber.on('ready', () => {
    // Runs right after the bus sent its SUBSCRIBE on the new connection: that one is lost.
    if (++readies === 1) {
      proxy.cut();
      setTimeout(() => proxy.restore(), 200);
    }
  });
  proxy.cut();
  await waitFor(() => busB.subscriber.status !== 'ready', 'B notices the outage');
  proxy.restore();
  await waitFor(() => readies >= 2 && ctx.resubscribed() >= 1, 'resubscribed on the second connection', 10_000);
  await probeUntilFlowing(a, b.got);
  t.ok(readies >= 2, `${readies} connections became ready`);
  t.equal(ctx.resubscribed(), 1, 'reported once, for the connection that confirmed');
  t.strictSame(rejections, [], 'no unhandled rejection');
});

t.test('redis: ioredis autoResubscribe itself works with redisOptions() (why RedisBus could rely on it)', async (t) => {
  const service = await testRedis(t);
  if (!service) return;
  const proxy = await TcpProxy.start(service.url);
  t.teardown(() => proxy.close());
  const subscriber = await gatewayRedis(t, proxy.rewrite(service.url));
  const publisher = await gatewayRedis(t, service.url);
  const channel = `${service.prefix}raw`;
  const got: string[] = [];
  subscriber.on('message', (_c: string, text: string) => got.push(text));
  await subscriber.subscribe(channel);
  proxy.cut();
  await waitFor(() => subscriber.status !== 'ready', 'outage noticed');
  proxy.restore();
  await waitFor(
    () => {
      void publisher.publish(channel, 'probe');
      return got.length > 0;
    },
    'raw subscriber hears again',
    10_000,
    10,
  );
  t.pass('ioredis re-subscribed on its own (RedisBus re-subscribes explicitly to confirm and report it)');
});

t.test('redis: sample messages survive the wire byte for byte', async (t) => {
  const ctx = await redisBuses(t, 1);
  if (!ctx) return;
  const [bus] = ctx.buses;
  await bus!.subscribe('A', () => {});
  const raw = new Redis(ctx.url);
  t.teardown(() => raw.quit());
  const seen: string[] = [];
  raw.on('message', (_c: string, text: string) => seen.push(text));
  await raw.subscribe(`${ctx.prefix}gateway:B`);
  const messages = sampleMessages();
  for (const message of messages) await bus!.publish('B', message);
  await waitFor(() => seen.length === messages.length, 'raw subscriber');
  t.strictSame(
    seen.map((text) => JSON.parse(text).m),
    messages,
  );
  t.ok(
    seen.every((text) => Buffer.byteLength(text) < 110 * 1024),
    'compact envelopes',
  );
});

t.test('redis: rooms travel on <prefix>gateway:room:<room>; "room:" node ids are reserved', async (t) => {
  const ctx = await redisBuses(t, 2);
  if (!ctx) return;
  const [bus, other] = ctx.buses;
  await t.rejects(
    other!.subscribe('room:lobby', () => {}),
    /reserved/,
    'a node id cannot shadow a room channel',
  );
  await bus!.subscribe('A', () => {});
  const raw = new Redis(ctx.url);
  t.teardown(() => raw.quit());
  const seen: [string, string][] = [];
  raw.on('message', (channel: string, text: string) => seen.push([channel, text]));
  await raw.subscribe(`${ctx.prefix}gateway:room:lobby:eu`);
  const message: BusMessage = { kind: 'room', room: 'lobby:eu', frame: '{"type":"room"}' };
  await bus!.publishRoom('lobby:eu', message);
  await waitFor(() => seen.length === 1, 'raw subscriber');
  t.strictSame(seen, [[`${ctx.prefix}gateway:room:lobby:eu`, JSON.stringify({ o: 'A', m: message })]]);
  await t.rejects(bus!.publish('room:lobby:eu', message), /not a node id/);

  await bus!.subscribeRooms(['lobby:eu']);
  t.equal(bus!.roomCount, 1);
  const check = new Redis(ctx.url);
  t.teardown(() => check.quit());
  const subscribed = (await check.pubsub('NUMSUB', `${ctx.prefix}gateway:room:lobby:eu`)) as [string, number];
  t.equal(Number(subscribed[1]), 2, 'SUBSCRIBEd on Redis (the bus and the raw subscriber)');
  await bus!.unsubscribeRooms(['lobby:eu']);
  t.equal(bus!.roomCount, 0);
  const [, numsub] = (await check.pubsub('NUMSUB', `${ctx.prefix}gateway:room:lobby:eu`)) as [string, number];
  t.equal(Number(numsub), 1, 'only the raw subscriber is left on the channel');
});

t.test('redis: malformed room envelopes are ignored', async (t) => {
  const ctx = await redisBuses(t, 1);
  if (!ctx) return;
  const [node] = await attach(ctx.buses, ['L']);
  await node!.bus.subscribeRooms(['r']);
  const raw = new Redis(ctx.url);
  t.teardown(() => raw.quit());
  for (const text of ['{"o":"A","m":{"kind":"room","frame":"x"}}', '{"o":"A","m":{"kind":"room","room":1,"frame":"x"}}', '{"o":"A","m":{"kind":"offline"}}']) {
    await raw.publish(`${ctx.prefix}gateway:room:r`, text);
  }
  await raw.publish(`${ctx.prefix}gateway:room:r`, '{"o":"A","m":{"kind":"room","room":"r","frame":"ok"}}');
  await waitFor(() => node!.got.length === 1, 'the valid envelope');
  t.equal((ctx.buses[0] as RedisBus).malformed, 3);
});

t.test('redis: room subscriptions come back after a lost connection', async (t) => {
  const ctx = await nodesWithProxiedB(t);
  if (!ctx) return;
  const { proxy, a, b, busB } = ctx;
  await b.bus.subscribeRooms(['stays']);
  await b.bus.subscribeRooms(['leaves']);
  await b.bus.unsubscribeRooms(['leaves']);
  proxy.cut();
  await waitFor(() => busB.subscriber.status !== 'ready', 'B notices the outage');
  await t.rejects(b.bus.subscribeRooms(['during-outage']), 'subscribing while disconnected rejects');
  proxy.restore();
  await waitFor(() => ctx.resubscribed() === 1, 'resubscribed', 10_000);
  b.got.length = 0;
  for (const room of ['stays', 'leaves', 'during-outage']) await a.bus.publishRoom(room, { kind: 'room', room, frame: room });
  await barrier(a, [b]);
  t.strictSame(
    b.got.filter((e) => e.message.kind === 'room').map((e) => (e.message as { room: string }).room),
    ['stays'],
    'only the wanted room was subscribed again',
  );
});

t.test('redis: publish reports 0 receivers while the node is re-subscribing, 1 once it is back', async (t) => {
  const ctx = await nodesWithProxiedB(t);
  if (!ctx) return;
  const { proxy, a, b, busB } = ctx;
  const probe: BusMessage = { kind: 'deliver', userId: 'u', frame: 'probe' };
  t.equal(await a.bus.publish('B', probe), 1);
  proxy.cut();
  await waitFor(() => busB.subscriber.status !== 'ready', 'B notices the outage');
  // Redis drops B's subscription as soon as it sees the connection close.
  let receivers = 1;
  const deadline = Date.now() + 5000;
  while ((receivers = await a.bus.publish('B', probe)) !== 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  t.equal(receivers, 0, 'nobody received it: the sender can tell, the message is lost');
  proxy.restore();
  await waitFor(() => ctx.resubscribed() === 1, 'resubscribed', 10_000);
  b.got.length = 0;
  t.equal(await a.bus.publish('B', { kind: 'deliver', userId: 'u', frame: 'after' }), 1, 'received again');
  await barrier(a, [b]);
  t.strictSame(
    b.got.map((e) => e.message),
    [{ kind: 'deliver', userId: 'u', frame: 'after' }],
  );
});

/**
 * A proxy that can hold back what the client sends (the connection stays up, Redis just does not
 * hear it yet), as a congested or half-partitioned link does; `cut()` drops every connection.
 */
class StallingProxy {
  private readonly server: net.Server;
  private readonly links = new Set<{ client: net.Socket; upstream: net.Socket; held: Buffer[] }>();
  private stalled = false;
  port = 0;

  private constructor(private readonly target: URL) {
    this.server = net.createServer((client) => {
      const upstream = net.connect(Number(target.port || 6379), target.hostname);
      const link = { client, upstream, held: [] as Buffer[] };
      this.links.add(link);
      client.on('data', (data: Buffer) => (this.stalled ? link.held.push(data) : upstream.write(data)));
      upstream.pipe(client);
      const drop = () => {
        client.destroy();
        upstream.destroy();
        this.links.delete(link);
      };
      client.on('error', drop).on('close', drop);
      upstream.on('error', drop).on('close', drop);
    });
  }

  static async start(url: string): Promise<StallingProxy> {
    const proxy = new StallingProxy(new URL(url));
    await new Promise<void>((resolve) => proxy.server.listen(0, '127.0.0.1', resolve));
    proxy.port = (proxy.server.address() as net.AddressInfo).port;
    return proxy;
  }

  get url(): string {
    const url = new URL(this.target.toString());
    url.hostname = '127.0.0.1';
    url.port = String(this.port);
    return url.toString();
  }

  stall(): void {
    this.stalled = true;
  }

  /** Sends what was held back, in order, and lets traffic through again. */
  flow(): void {
    this.stalled = false;
    for (const link of this.links) for (const data of link.held.splice(0)) link.upstream.write(data);
  }

  cut(): void {
    for (const link of [...this.links]) {
      link.client.destroy();
      link.upstream.destroy();
    }
    this.links.clear();
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

t.test('redis: an old failed room SUBSCRIBE does not drop a room a newer join wants again', async (t) => {
  const service = await testRedis(t);
  if (!service) return;
  const proxy = await StallingProxy.start(service.url);
  t.teardown(() => proxy.close());
  // A short command timeout makes a stalled SUBSCRIBE fail quickly (the gateway's is 3 s).
  const publisherB = new Redis(proxy.url, { ...redisOptions(), commandTimeout: 400 });
  publisherB.on('error', () => {});
  t.teardown(() => publisherB.quit().catch(() => publisherB.disconnect()));
  await publisherB.connect();
  const busA = new RedisBus({ publisher: await gatewayRedis(t, service.url), channelPrefix: service.prefix });
  const busB = new RedisBus({ publisher: publisherB, channelPrefix: service.prefix });
  t.teardown(() => Promise.all([busA.close(), busB.close()]));
  let resubscribed = 0;
  busB.onResubscribed(() => void resubscribed++);
  const [a, b] = await attach([busA, busB], ['A', 'B']);
  const roomsGot = () => b!.got.flatMap((e) => (e.message.kind === 'room' ? [e.message.frame] : []));

  // The first member joins while B's link is congested: its SUBSCRIBE times out...
  proxy.stall();
  const first = b!.bus.subscribeRooms(['lobby']);
  const firstFailed = first.then(
    () => false,
    () => true,
  );
  await new Promise((resolve) => setTimeout(resolve, 200));
  // ...but meanwhile the member left and another joined: a newer SUBSCRIBE is on its way.
  const left = b!.bus.unsubscribeRooms(['lobby']).catch(() => {});
  const second = b!.bus.subscribeRooms(['lobby']);
  t.equal(await firstFailed, true, 'the first SUBSCRIBE timed out');
  proxy.flow(); // the link recovers before the second one times out
  await second;
  await left;
  t.equal(busB.roomCount, 1, 'the room is still wanted');
  await a!.bus.publishRoom('lobby', { kind: 'room', room: 'lobby', frame: 'live' });
  await barrier(a!, [b!]);
  t.strictSame(roomsGot(), ['live'], 'subscribed on Redis');

  // It must also survive a reconnect: re-subscription covers every wanted room.
  proxy.cut();
  await waitFor(() => busB.subscriber.status !== 'ready', 'B notices the cut');
  await waitFor(() => resubscribed === 1, 'resubscribed', 10_000);
  await a!.bus.publishRoom('lobby', { kind: 'room', room: 'lobby', frame: 'after reconnect' });
  await barrier(a!, [b!]);
  t.strictSame(roomsGot(), ['live', 'after reconnect'], 'the room came back with the new connection');
});

t.test('redis: a failed room SUBSCRIBE that nobody superseded withdraws the room', async (t) => {
  const service = await testRedis(t);
  if (!service) return;
  const proxy = await StallingProxy.start(service.url);
  t.teardown(() => proxy.close());
  const publisherB = new Redis(proxy.url, { ...redisOptions(), commandTimeout: 300 });
  publisherB.on('error', () => {});
  t.teardown(() => publisherB.quit().catch(() => publisherB.disconnect()));
  await publisherB.connect();
  const busB = new RedisBus({ publisher: publisherB, channelPrefix: service.prefix });
  t.teardown(() => busB.close());
  await busB.subscribe('B', () => {});
  await busB.subscribeRooms(['kept']);
  proxy.stall();
  await t.rejects(busB.subscribeRooms(['lost']), /timed out/i);
  t.equal(busB.roomCount, 1, 'only the room whose subscription succeeded is wanted');
  proxy.flow();
});
