/**
 * The OwnerPublisher contract on every implementation: the store lookup then bus publish on
 * memory and on Redis, and RedisOwnerPublisher's single script. Plus the point of the latter:
 * one command per delivery, whatever the number of owning nodes.
 */
import t, { type Test } from 'tap';
import type { Redis } from 'ioredis';
import type { Bus, BusMessage } from '../../../src/cluster/bus.ts';
import { connect } from '../contract-helpers.ts';
import { MemoryBus, MemoryBusHub } from '../../../src/stores/memory/memory-bus.ts';
import { LookupOwnerPublisher } from '../../../src/cluster/owner-publisher.ts';
import { RedisBus } from '../../../src/stores/redis/redis-bus.ts';
import { RedisOwnerPublisher } from '../../../src/stores/redis/redis-owner-publisher.ts';
import { createMemoryStores } from '../../../src/stores/memory/memory-stores.ts';
import { createRedisStores } from '../../../src/stores/redis/redis-stores.ts';
import { connectRedisCluster, testRedis, testRedisCluster } from '../../helpers/services.ts';
import { CLUSTER_TEST_BUCKETS } from '../backends.ts';
import { gatewayRedis } from './bus-helpers.ts';
import { runOwnerPublisherContract, type OwnerSetup } from './owner-publisher.contract.ts';

runOwnerPublisherContract(
  t,
  'lookup on memory',
  async (_t, n) => {
    const store = createMemoryStores().presence;
    const hub = new MemoryBusHub();
    const buses = Array.from({ length: n }, () => new MemoryBus(hub));
    return { store, buses, publisherFor: (bus) => new LookupOwnerPublisher(store, bus) };
  },
  { outage: false },
);

/** One Redis "node" per bus, each with its own command connection, as the gateway runs them. */
async function redisSetup(t: Test, n: number, publisher: 'lookup' | 'script'): Promise<OwnerSetup | null> {
  const service = await testRedis(t);
  if (!service) return null;
  const storeRedis = await gatewayRedis(t, service.url);
  const store = createRedisStores({ redis: storeRedis, keyPrefix: service.prefix }).presence;
  const commands = new Map<Bus, Redis>();
  const buses: RedisBus[] = [];
  for (let i = 0; i < n; i++) {
    const redis = await gatewayRedis(t, service.url);
    const bus = new RedisBus({ publisher: redis, channelPrefix: service.prefix });
    commands.set(bus, redis);
    buses.push(bus);
  }
  return {
    store,
    buses,
    publisherFor: (bus) => {
      const redis = commands.get(bus)!;
      return publisher === 'lookup'
        ? new LookupOwnerPublisher(createRedisStores({ redis, keyPrefix: service.prefix }).presence, bus)
        : new RedisOwnerPublisher({ redis, keyPrefix: service.prefix, bus: bus as RedisBus });
    },
    // The sending node's command connection drops (its lookup store uses the same one).
    cutStore: () => commands.get(buses[0]!)!.disconnect(),
  };
}

runOwnerPublisherContract(t, 'lookup on redis', (t, n) => redisSetup(t, n, 'lookup'), { outage: true });

/** Nodes on the test Redis Cluster: the lookup in the user's bucket, one SPUBLISH per owning node. */
runOwnerPublisherContract(
  t,
  'lookup on redis-cluster',
  async (t, n) => {
    const service = await testRedisCluster(t);
    if (!service) return null;
    const clusterClient = async () => {
      const client = connectRedisCluster(t);
      await client.connect();
      return client;
    };
    const store = createRedisStores({ redis: await clusterClient(), keyPrefix: service.prefix, buckets: CLUSTER_TEST_BUCKETS }).presence;
    const buses: RedisBus[] = [];
    for (let i = 0; i < n; i++) {
      const bus = new RedisBus({ publisher: await clusterClient(), channelPrefix: service.prefix });
      t.teardown(() => bus.close());
      buses.push(bus);
    }
    const lookupRedis = await clusterClient();
    const lookup = createRedisStores({ redis: lookupRedis, keyPrefix: service.prefix, buckets: CLUSTER_TEST_BUCKETS }).presence;
    return { store, buses, publisherFor: (bus) => new LookupOwnerPublisher(lookup, bus), cutStore: () => lookupRedis.disconnect() };
  },
  { outage: true },
);
runOwnerPublisherContract(t, 'redis script', (t, n) => redisSetup(t, n, 'script'), { outage: true });

t.test('redis script: one command per delivery, whatever the number of owning nodes', async (t) => {
  const service = await testRedis(t);
  if (!service) return;
  const redis = await gatewayRedis(t, service.url);
  const store = createRedisStores({ redis, keyPrefix: service.prefix }).presence;
  const bus = new RedisBus({ publisher: redis, channelPrefix: service.prefix });
  t.teardown(() => bus.close());
  await bus.subscribe('A', () => {});
  const publisher = new RedisOwnerPublisher({ redis, keyPrefix: service.prefix, bus });
  for (const node of ['B', 'C', 'D']) await connect(store, 'kim', node, 1000);
  const message: BusMessage = { kind: 'deliver', userId: 'kim', frame: 'x' };
  await publisher.publishToOwners('kim', 'A', message); // loads the script (EVALSHA, then EVAL once)

  const sent: string[] = [];
  const original = redis.sendCommand.bind(redis);
  redis.sendCommand = (command, stream) => {
    sent.push(command.name);
    return original(command, stream);
  };
  const result = await publisher.publishToOwners('kim', 'A', message);
  redis.sendCommand = original;
  t.strictSame(sent, ['evalsha'], 'one round trip');
  t.strictSame(result, { online: true, owners: 3, reached: 0, unheard: 3 }, 'three publishes inside it (nobody listens on B, C, D)');
  t.equal(bus.published, 6, 'the bus counts the publishes made on its behalf');
});
