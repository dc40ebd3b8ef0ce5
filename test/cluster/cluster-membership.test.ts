/**
 * ClusterMembership on a fake clock: leases, the reaper, and the rule that a node judges the
 * others only once it has renewed its own lease without a lapse for deadAfterMs. Outages are
 * simulated per node by a store wrapper that rejects every call while "cut", over one shared
 * store that keeps its data (Redis restarted with persistence, or a partition).
 */
import t, { type Test } from 'tap';
import { Redis } from 'ioredis';
import { ClusterMembership, lapseAfterMs } from '../../src/cluster/cluster-membership.ts';
import { createMemoryStores } from '../../src/stores/memory/memory-stores.ts';
import { createRedisStores } from '../../src/stores/redis/redis-stores.ts';
import type { OnlineStores } from '../../src/stores/online-stores.ts';
import type { LogoutRecord } from '../../src/presence/logout-outbox.ts';
import type { PresenceStore } from '../../src/presence/presence-store.ts';
import type { NodeRegistry, ReassertSession } from '../../src/cluster/node-registry.ts';
import type { LeaseKeeper, LeaseRenewalOutcome } from '../../src/cluster/lease-keeper.ts';
import { collectingLogger, ManualClock } from '../helpers/core.ts';
import { testRedis } from '../helpers/services.ts';

const LEASE = 1000;
const DEAD_AFTER = 5000;

interface Link {
  stores: OnlineStores;
  cut: boolean;
}

/** The node's view of the shared stores: every call rejects while `cut`. */
function linkTo(shared: OnlineStores): Link {
  const link = { cut: false, stores: undefined as unknown as OnlineStores };
  const cuttable = <T extends object>(store: T): T =>
    new Proxy(store, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver);
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => (link.cut ? Promise.reject(new Error('connect ECONNREFUSED (cut)')) : value.apply(target, args));
      },
    });
  link.stores = {
    presence: cuttable(shared.presence),
    outbox: cuttable(shared.outbox),
    nodes: cuttable(shared.nodes),
    locks: cuttable(shared.locks),
  };
  return link;
}

interface Node {
  id: string;
  link: Link;
  membership: ClusterMembership;
  log: ReturnType<typeof collectingLogger>;
  logouts: LogoutRecord[];
  stale: string[];
  sessions: ReassertSession[];
  /** What the fenced-node hooks were asked to do, in order. */
  fencing: string[];
  /** Logouts of users the store recorded on the node but the node no longer held. */
  released: LogoutRecord[];
}

function makeNode(shared: OnlineStores, id: string, clock: ManualClock, batchSize?: number, keeper?: LeaseKeeper): Node {
  const link = linkTo(shared);
  const log = collectingLogger();
  const node: Node = { id, link, log, logouts: [], stale: [], sessions: [], fencing: [], released: [], membership: undefined as unknown as ClusterMembership };
  node.membership = new ClusterMembership({
    nodes: link.stores.nodes,
    locks: link.stores.locks,
    nodeId: id,
    log,
    now: clock.now,
    leaseIntervalMs: LEASE,
    deadAfterMs: DEAD_AFTER,
    batchSize,
    liveSessions: () => node.sessions,
    onLogouts: (records) => void node.logouts.push(...records),
    onStale: (userIds) => void node.stale.push(...userIds),
    fenced: {
      refuse: () => void node.fencing.push('refuse'),
      reconnectAll: async () => {
        node.fencing.push('reconnectAll');
        node.sessions = [];
      },
      accept: () => void node.fencing.push('accept'),
    },
    absent: {
      holds: (userId) => node.sessions.some((s) => s.userId === userId),
      report: (records) => void node.released.push(...records),
    },
    ...(keeper ? { keeper } : {}),
  });
  return node;
}

/**
 * The lease keeper's thread, stepped by the test: `renew` is one of its renewals (on the node's
 * link, at the shared clock), whose outcome the next round reads, as with the real thread.
 */
class SteppedKeeper implements LeaseKeeper {
  private generation = '';
  private outcomes: LeaseRenewalOutcome[] = [];
  active = false;

  constructor(
    private readonly nodes: () => NodeRegistry,
    private readonly nodeId: string,
    private readonly clock: ManualClock,
  ) {}

  async whenReady(): Promise<boolean> {
    return true;
  }

  start(generation: string): void {
    this.generation = generation;
    this.active = true;
  }

  take(): LeaseRenewalOutcome[] {
    return this.outcomes.splice(0);
  }

  async stop(): Promise<void> {
    this.active = false;
  }

  /** One renewal; `delivered` false: its outcome is still on its way to the main thread (`deliver`). */
  async renew(delivered = true): Promise<void> {
    if (!this.active) return;
    const at = this.clock.now();
    const result = await this.nodes().renewLease(this.nodeId, at, this.generation, lapseAfterMs(LEASE, DEAD_AFTER));
    if (result.fenced) this.active = false;
    (delivered ? this.outcomes : this.inFlight).push({ ok: true, at, ...result });
  }

  private inFlight: LeaseRenewalOutcome[] = [];

  deliver(): void {
    this.outcomes.push(...this.inFlight.splice(0));
  }
}

/** Logs `userId` in on the node, as the gateway does, and remembers the session for re-assertion. */
async function connect(node: Node, userId: string, clock: ManualClock): Promise<void> {
  const connectionId = `c-${userId}`;
  const result = await node.link.stores.presence.login({
    userId,
    username: userId,
    nodeId: node.id,
    candidateLogicalSessionId: `ls-${userId}`,
    connectionId,
    now: clock.now(),
  });
  node.sessions.push({
    userId,
    username: userId,
    logicalSessionId: result.logicalSessionId,
    epoch: result.epoch,
    connectedAt: clock.now(),
    connections: 1,
    connectionIds: [connectionId],
  });
}

/** Lets `ms` pass in lease intervals; each running node ticks once per interval (all at once). */
async function run(clock: ManualClock, ms: number, nodes: Node[]): Promise<void> {
  for (let elapsed = 0; elapsed < ms; elapsed += LEASE) {
    clock.advance(LEASE);
    await Promise.all(nodes.map((n) => n.membership.tick()));
  }
}

const reapLogs = (nodes: Node[]) => nodes.flatMap((n) => n.log.messages('reaped dead node'));

async function statusOf(store: PresenceStore, userIds: string[]): Promise<string[]> {
  return Promise.all(userIds.map(async (u) => (await store.getPlayer(u))?.status ?? 'unknown'));
}

/** Nodes A and B on one shared store, both joined. */
async function twoNodes() {
  const clock = new ManualClock();
  const shared = createMemoryStores();
  const a = makeNode(shared, 'A', clock);
  const b = makeNode(shared, 'B', clock);
  await a.membership.join();
  await b.membership.join();
  return { clock, shared, a, b };
}

t.test('lapseAfterMs: above routine lateness, below what would make the others look dead', async (t) => {
  t.equal(lapseAfterMs(1000, 5000), 2500, 'defaults: a renewal 2.5 intervals apart is a lapse');
  t.equal(lapseAfterMs(1000, 3000), 2000, 'the others must stay under deadAfter: gap + interval < deadAfter');
  t.equal(lapseAfterMs(1000, 2000), 1500, 'never below 1.5 intervals (timer jitter is not a lapse)');
});

t.test('cluster-wide outage with the data kept: the first node back does not reap the others', async (t) => {
  const { clock, shared, a, b } = await twoNodes();
  for (const u of ['a1', 'a2']) await connect(a, u, clock);
  for (const u of ['b1', 'b2']) await connect(b, u, clock);
  await run(clock, 8000, [a, b]);
  t.equal(reapLogs([a, b]).length, 0, 'steady cluster: nobody reaped');

  // Redis unreachable for everyone, longer than deadAfter; it keeps its data.
  a.link.cut = b.link.cut = true;
  await run(clock, 3 * DEAD_AFTER, [a, b]);
  t.ok(a.log.messages('cluster round failed (online store unreachable?)').length > 0, 'rounds failed during the outage');

  // A reconnects first; B is still cut off for a while (its client is in backoff).
  a.link.cut = false;
  await run(clock, DEAD_AFTER - LEASE, [a, b]);
  t.equal(a.membership.lapses, 1, 'A saw its own lease lapse');
  t.equal(a.log.messages('own lease lapsed: other nodes are judged again once it has been renewed for deadAfterMs').length, 1, 'logged once');
  t.same(reapLogs([a]), [], 'A did not judge B while its own renewals were just back');
  t.same(a.logouts, [], 'no node_lost logout');
  t.same(await statusOf(shared.presence, ['a1', 'a2', 'b1', 'b2']), ['online', 'online', 'online', 'online']);

  // B is back within deadAfter of A's recovery: it renews, nothing is lost, nobody is stale.
  b.link.cut = false;
  await run(clock, 4 * DEAD_AFTER, [a, b]);
  t.same([...a.logouts, ...b.logouts], [], 'no logout at all');
  t.same([...a.stale, ...b.stale], [], 'no session closed as stale');
  t.equal(reapLogs([a, b]).length, 0);
  t.same(await statusOf(shared.presence, ['a1', 'a2', 'b1', 'b2']), ['online', 'online', 'online', 'online']);
  t.same((await shared.nodes.listNodes()).map((n) => n.nodeId).sort(), ['A', 'B']);

  // Reaping still works: B really dies now, and A reaps it once B's lease is deadAfter old.
  await run(clock, DEAD_AFTER, [a]);
  t.same(a.logouts, [], 'not before B has been silent for deadAfter');
  await run(clock, LEASE, [a]);
  t.same(a.logouts.map((r) => `${r.userId}:${r.reason}`).sort(), ['b1:node_lost', 'b2:node_lost']);
  t.same(await statusOf(shared.presence, ['a1', 'a2', 'b1', 'b2']), ['online', 'online', 'offline', 'offline']);
});

/**
 * Renewals that neither succeed nor fail for a while (a Redis Cluster shard failing over: the
 * keepers' commands wait out the failover, then complete): the round reads no outcome at all.
 * Found by redis-cluster-failover.test.ts, where every node reaped the others the moment the
 * promoted replica answered. A node whose own lease is overdue judges nobody.
 */
t.test('renewals stuck in flight past the lapse: when the store answers again, nobody is reaped', async (t) => {
  const clock = new ManualClock();
  const shared = createMemoryStores();
  const keepers: SteppedKeeper[] = [];
  const nodes: Node[] = [];
  for (const id of ['A', 'B']) {
    const keeper = new SteppedKeeper(() => nodes.find((n) => n.id === id)!.link.stores.nodes, id, clock);
    keepers.push(keeper);
    nodes.push(makeNode(shared, id, clock, undefined, keeper));
  }
  const [a, b] = nodes as [Node, Node];
  await a.membership.join();
  await b.membership.join();
  await connect(b, 'b1', clock);
  const step = async (ms: number, renewing: boolean) => {
    for (let elapsed = 0; elapsed < ms; elapsed += LEASE) {
      clock.advance(LEASE);
      if (renewing) for (const keeper of keepers) await keeper.renew();
      await Promise.all(nodes.map((n) => n.membership.tick()));
    }
  };
  await step(2 * DEAD_AFTER, true);
  t.same(reapLogs([a, b]), [], 'steady');
  // Every renewal hangs: no outcome, no error, for longer than deadAfter.
  await step(DEAD_AFTER + 2 * LEASE, false);
  // The store answers again: the rounds run before the keepers' next renewals come back.
  clock.advance(LEASE);
  await Promise.all(nodes.map((n) => n.membership.tick()));
  t.same(reapLogs([a, b]), [], 'nobody judged on leases as old as its own');
  t.ok(a.log.messages('own lease renewal overdue: no node is judged until it has been renewed for deadAfterMs').length > 0, 'A said why');
  await step(3 * DEAD_AFTER, true);
  t.same([...a.logouts, ...b.logouts], [], 'no logout');
  t.same([...a.fencing, ...b.fencing], [], 'nobody fenced');
  t.same(await statusOf(shared.presence, ['b1']), ['online']);
});

t.test('a node cut off alone is still reaped by the others after deadAfter, and learns it was fenced', async (t) => {
  const { clock, a, b } = await twoNodes();
  await connect(b, 'b1', clock);
  await run(clock, DEAD_AFTER + LEASE, [a, b]);

  b.link.cut = true;
  await run(clock, DEAD_AFTER, [a, b]);
  t.same(a.logouts, [], 'B silent for exactly deadAfter: still alive');
  await run(clock, LEASE, [a, b]);
  t.same(
    a.logouts.map((r) => `${r.userId}:${r.reason}`),
    ['b1:node_lost'],
    'A, steady all along, reaps B at once',
  );

  b.link.cut = false;
  await run(clock, LEASE, [a, b]);
  t.same(b.fencing, ['refuse', 'reconnectAll', 'accept'], 'B refused new sessions, told its clients to reconnect, then registered anew');
  t.equal(b.membership.fences, 1);
  t.same(b.stale, [], 'nothing re-asserted: the sessions were dropped, not re-asserted');
  t.same(b.logouts, [], 'B logged nobody out a second time');
  t.equal(
    b.log.messages('this node was reaped while it could not renew its lease (frozen, stalled or cut off): its clients reconnect, it registers anew').length,
    1,
  );
  await run(clock, 3 * LEASE, [a, b]);
  t.same(b.fencing, ['refuse', 'reconnectAll', 'accept'], 'once');
  t.same((await a.link.stores.nodes.listNodes()).map((n) => n.nodeId).sort(), ['A', 'B'], 'B holds a lease again and renews it');
  await connect(b, 'b2', clock);
  await run(clock, 2 * DEAD_AFTER, [a, b]);
  t.same(
    a.logouts.map((r) => r.userId),
    ['b1'],
    'the new generation is alive: its players stay online',
  );
});

t.test('a stall no error revealed (paused host) is a lapse too; one late tick is not', async (t) => {
  const { clock, a, b } = await twoNodes();
  await connect(b, 'b1', clock);
  await run(clock, DEAD_AFTER + LEASE, [a, b]);

  // Both processes frozen for 8 s (e.g. the VM was suspended); A wakes up first.
  clock.advance(8000);
  await a.membership.tick();
  t.same(a.logouts, [], 'A does not reap B on waking up');
  t.equal(a.membership.lapses, 1);
  await run(clock, 3 * LEASE, [a, b]);
  t.same(a.logouts, []);
  t.same(b.logouts, []);

  // A tick skipped now and then (a long round, timer jitter) does not hold the reaper back.
  await run(clock, DEAD_AFTER, [a, b]);
  const lapses = a.membership.lapses;
  for (let i = 0; i < 4; i++) {
    clock.advance(2 * LEASE);
    await a.membership.tick();
  }
  t.equal(a.membership.lapses, lapses, 'a renewal 2 intervals after the previous one is no lapse');
  t.same(
    a.logouts.map((r) => r.userId),
    ['b1'],
    'B (silent since) was reaped without an extra delay',
  );
});

t.test('a node that just joined waits deadAfter before judging the others', async (t) => {
  const clock = new ManualClock();
  const shared = createMemoryStores();
  const dead = makeNode(shared, 'D', clock);
  await dead.membership.join();
  await connect(dead, 'd1', clock);
  clock.advance(3 * DEAD_AFTER); // D died long ago and nobody reaped it (the cluster was down)

  const fresh = makeNode(shared, 'N', clock);
  await fresh.membership.join();
  await run(clock, DEAD_AFTER - LEASE, [fresh]);
  t.same(fresh.logouts, [], 'not while it has renewed for less than deadAfter');
  await run(clock, LEASE, [fresh]);
  t.same(
    fresh.logouts.map((r) => `${r.userId}:${r.reason}`),
    ['d1:node_lost'],
    'then at once',
  );
});

/** Two live nodes race to reap a dead one with 1,200 users (three batches): exactly one reaps. */
async function raceToReap(t: Test, shared: OnlineStores): Promise<void> {
  const clock = new ManualClock();
  const dead = makeNode(shared, 'dead', clock, 500);
  const a = makeNode(shared, 'A', clock, 500);
  const b = makeNode(shared, 'B', clock, 500);
  await Promise.all([dead, a, b].map((n) => n.membership.join()));
  const users = Array.from({ length: 1200 }, (_, i) => `u${i}`);
  for (let i = 0; i < users.length; i += 200) await Promise.all(users.slice(i, i + 200).map((u) => connect(dead, u, clock)));

  await run(clock, 3 * DEAD_AFTER, [a, b]);
  const reapers = [a, b].filter((n) => n.logouts.length > 0);
  t.equal(reapers.length, 1, 'one node reaped (the lock)');
  // A node that gets the lock after the winner finished finds nothing left (loggedOut 0).
  t.equal(reapLogs([a, b]).filter((l) => Number(l.fields.loggedOut) > 0).length, 1, 'one node logged the reap');
  const all = [...a.logouts, ...b.logouts];
  t.equal(all.length, users.length, 'one logout per user');
  t.equal(new Set(all.map((r) => r.userId)).size, users.length, 'nobody twice');
  t.ok(all.every((r) => r.reason === 'node_lost' && r.nodeId === 'dead'));
  t.equal(a.membership.reaped + b.membership.reaped, users.length);
  t.equal(await shared.presence.countOnline(), 0);
  t.same((await shared.nodes.listNodes()).map((n) => n.nodeId).sort(), ['A', 'B'], 'the dead lease is gone');
}

t.test('two reapers racing over one memory store: exactly one reaps', async (t) => {
  await raceToReap(t, createMemoryStores());
});

t.test('two reapers racing over one Redis store: exactly one reaps', async (t) => {
  const service = await testRedis(t);
  if (!service) return;
  const redis = new Redis(service.url);
  t.teardown(() => redis.quit());
  await raceToReap(t, createRedisStores({ redis, keyPrefix: service.prefix }));
});

/** Stores on the test Redis, and a snapshot of every key of the test to restore later (the store going back in time). */
async function rewindableRedis(t: Test) {
  const service = await testRedis(t);
  if (!service) return undefined;
  const redis = new Redis(service.url);
  t.teardown(() => redis.quit());
  const keysNow = () => redis.keys(`${service.prefix}*`);
  return {
    shared: createRedisStores({ redis, keyPrefix: service.prefix }),
    /** Takes a snapshot (DUMP of every key); the returned function restores it, dropping everything newer. */
    async snapshot(): Promise<() => Promise<void>> {
      const dumps = await Promise.all((await keysNow()).map(async (key) => ({ key, dump: await redis.dumpBuffer(key) })));
      return async () => {
        const current = await keysNow();
        if (current.length > 0) await redis.del(...current);
        for (const { key, dump } of dumps) if (dump) await redis.restore(key, 0, dump);
      };
    },
  };
}

/**
 * Redis restarted from an older snapshot (RDB persistence), or a replica that missed writes was
 * promoted: every lease in the store is old although both nodes are alive. The round that reads
 * the listing first (its keeper's thread has not renewed since) must not take B for dead: B
 * would be fenced and all its players dropped and reconnected.
 */
t.test('the store goes back in time: nobody is reaped or fenced, live players re-asserted, departed ones released', async (t) => {
  const store = await rewindableRedis(t);
  if (!store) return;
  const { shared } = store;
  const clock = new ManualClock();
  const keepers: SteppedKeeper[] = [];
  const node = (id: string) => {
    let made: Node | undefined;
    const keeper = new SteppedKeeper(() => made!.link.stores.nodes, id, clock);
    keepers.push(keeper);
    made = makeNode(shared, id, clock, undefined, keeper);
    return made;
  };
  const a = node('A');
  const b = node('B');
  await a.membership.join();
  await b.membership.join();
  /** One lease interval: the keepers renew, then the rounds read their outcomes. */
  const step = async (ms: number) => {
    for (let elapsed = 0; elapsed < ms; elapsed += LEASE) {
      clock.advance(LEASE);
      for (const keeper of keepers) await keeper.renew();
      await Promise.all([a, b].map((n) => n.membership.tick()));
    }
  };
  await connect(a, 'a1', clock);
  await connect(a, 'a2', clock);
  await connect(b, 'b1', clock);
  await step(2 * DEAD_AFTER);

  const restore = await store.snapshot();
  await connect(b, 'b2', clock); // after the snapshot: the store will not know it
  // a2 leaves after the snapshot: the store will bring it back.
  const a2 = a.sessions.find((s) => s.userId === 'a2')!;
  a.sessions = a.sessions.filter((s) => s !== a2);
  await shared.presence.endSession({ userId: 'a2', nodeId: 'A', logicalSessionId: a2.logicalSessionId, reason: 'closed', now: clock.now() });
  await step(4 * DEAD_AFTER);

  // The store comes back from the snapshot (older by 4 × deadAfter).
  await restore();
  clock.advance(LEASE);
  // A's round comes before its keeper renewed: the listing holds every lease as the snapshot had it.
  await a.membership.tick();
  t.equal(a.membership.rewinds, 1, 'A found the store without its newest lease');
  t.equal(
    a.log.messages(
      "the online store lost this node's newest lease (restored from an older state?): no node is judged until the leases were renewed for deadAfterMs",
    ).length,
    1,
  );
  await step(3 * DEAD_AFTER);
  t.same(reapLogs([a, b]), [], 'nobody reaped');
  t.same([...a.logouts, ...b.logouts], [], 'no logout');
  t.same([...a.fencing, ...b.fencing], [], 'nobody fenced');
  t.same(await statusOf(shared.presence, ['a1', 'b1', 'b2']), ['online', 'online', 'online'], 'b2, unknown to the snapshot, re-asserted by B');
  t.same(await statusOf(shared.presence, ['a2']), ['offline'], 'a2, back online in the snapshot, released by A');
  t.same(
    a.released.map((r) => `${r.userId}:${r.logicalSessionId === a2.logicalSessionId}`),
    ['a2:true'],
    'once, for its logical session',
  );
  t.same(b.released, [], 'B released nobody');

  // Reaping still works afterwards: B dies, A reaps it deadAfter later.
  keepers.pop();
  for (let i = 0; i < 7; i++) {
    clock.advance(LEASE);
    await keepers[0]!.renew();
    await a.membership.tick();
  }
  t.same(a.logouts.map((r) => r.userId).sort(), ['b1', 'b2'], 'B reaped once it really stopped renewing');
});

/**
 * A node cut off from Redis long enough to be reaped reconnects: the bus re-subscribes and asks
 * for a resync before the keeper's thread renewed. The re-assertion must find the fence (and
 * start over: 1012 for its clients) rather than revive the reaped lease and kick its players as
 * stale, which also kept the node from registering again while its revived lease looked alive.
 */
t.test('a resync after being reaped starts over instead of re-asserting', async (t) => {
  const clock = new ManualClock();
  const shared = createMemoryStores();
  let b: Node | undefined;
  const keeper = new SteppedKeeper(() => b!.link.stores.nodes, 'B', clock);
  const a = makeNode(shared, 'A', clock);
  b = makeNode(shared, 'B', clock, undefined, keeper);
  await a.membership.join();
  await b.membership.join();
  await connect(b, 'b1', clock);
  const step = async (ms: number, nodes: Node[]) => {
    for (let elapsed = 0; elapsed < ms; elapsed += LEASE) {
      clock.advance(LEASE);
      if (!b!.link.cut) await keeper.renew();
      await Promise.all(nodes.map((n) => n.membership.tick()));
    }
  };
  await step(DEAD_AFTER + LEASE, [a, b]);
  b.link.cut = true;
  await step(DEAD_AFTER + LEASE, [a, b]);
  t.same(
    a.logouts.map((r) => r.userId),
    ['b1'],
    'A reaped B',
  );

  b.link.cut = false;
  await b.membership.resync(); // the bus is back; the keeper has not renewed yet
  t.same(b.fencing, ['refuse', 'reconnectAll', 'accept'], 'B started over and registered at once');
  t.same(b.stale, [], 'nobody kicked as stale');
  t.same(b.logouts, [], 'nobody logged out twice');
  t.same(b.log.messages('fenced node could not register again yet'), [], 'no revived lease in the way');
});

/**
 * The store goes back to a snapshot taken before this node re-registered (it had been reaped
 * while cut off): the fence hash holds the node's own earlier generation. That is no takeover:
 * the node keeps serving and re-asserts, instead of taking itself for fenced once more.
 */
t.test('a store rewound to an earlier generation of the same process does not fence it', async (t) => {
  const store = await rewindableRedis(t);
  if (!store) return;
  const { shared } = store;
  const clock = new ManualClock();
  const a = makeNode(shared, 'A', clock);
  const b = makeNode(shared, 'B', clock);
  await a.membership.join();
  await b.membership.join();
  await connect(b, 'b1', clock);
  await run(clock, DEAD_AFTER + LEASE, [a, b]);
  const restore = await store.snapshot();

  // B is cut off, reaped, and registers a second generation.
  b.link.cut = true;
  await run(clock, DEAD_AFTER + LEASE, [a, b]);
  b.link.cut = false;
  await run(clock, LEASE, [a, b]);
  t.same(b.fencing, ['refuse', 'reconnectAll', 'accept'], 'B started over once');
  await connect(b, 'b2', clock);

  // The store comes back from the snapshot: B's fence holds its first generation again.
  await restore();
  await run(clock, 3 * DEAD_AFTER, [a, b]);
  t.same(b.fencing, ['refuse', 'reconnectAll', 'accept'], 'not fenced again by its own earlier generation');
  t.equal(await statusOf(shared.presence, ['b2']).then((s) => s[0]), 'online', 'b2 re-asserted');
  t.same(reapLogs([b]), [], 'B reaped nobody');
});

/**
 * Nodes A and B, each with a stepped keeper, on a rewindable Redis; b1 on B. They run steady,
 * a snapshot is taken, they run on, then the store is restored from it and one lease interval
 * passes: what comes next (A's resync, A's keeper) is the test's.
 */
async function rewoundPair(store: NonNullable<Awaited<ReturnType<typeof rewindableRedis>>>) {
  const clock = new ManualClock();
  const keepers: SteppedKeeper[] = [];
  const nodes: Node[] = [];
  for (const id of ['A', 'B']) {
    const keeper = new SteppedKeeper(() => nodes.find((n) => n.id === id)!.link.stores.nodes, id, clock);
    keepers.push(keeper);
    nodes.push(makeNode(store.shared, id, clock, undefined, keeper));
  }
  const [a, b] = nodes as [Node, Node];
  await a.membership.join();
  await b.membership.join();
  await connect(b, 'b1', clock);
  /** Lease intervals in which the keepers renew, then both rounds run. */
  const step = async (ms: number) => {
    for (let elapsed = 0; elapsed < ms; elapsed += LEASE) {
      clock.advance(LEASE);
      for (const keeper of keepers) await keeper.renew();
      await Promise.all(nodes.map((n) => n.membership.tick()));
    }
  };
  await step(2 * DEAD_AFTER);
  const restore = await store.snapshot();
  await step(2 * DEAD_AFTER);
  await restore();
  clock.advance(LEASE);
  return { clock, a, b, keepers, step };
}

/**
 * The same rewind seen first through the bus: Redis comes back (from a snapshot) and the node
 * resyncs at once, before its keeper's thread renewed. The re-assertion renews the lease itself
 * and writes it fresh; the lease it replaced is the snapshot's, a lapse, so the reaper must still
 * wait rather than judge the others on their snapshot leases.
 */
t.test('a resync right after a rewind reaps nobody', async (t) => {
  const store = await rewindableRedis(t);
  if (!store) return;
  const { a, b, step } = await rewoundPair(store);
  await a.membership.resync();
  t.same(reapLogs([a]), [], 'A judged nobody on the snapshot leases');
  await step(3 * DEAD_AFTER);
  t.same([...a.logouts, ...b.logouts], [], 'no logout');
  t.same([...a.fencing, ...b.fencing], [], 'nobody fenced');
  t.same(await statusOf(store.shared.presence, ['b1']), ['online']);
});

/**
 * The rewind again, seen first by the keeper's thread: it renews right after Redis came back from
 * the snapshot (its renewal's `previous` is the snapshot's: a lapse), and its outcome is still on
 * its way when the bus asks the main loop to resync. The main loop's own renewal then replaces a
 * fresh lease; only the store's record of the lapse tells it to wait before judging anyone.
 */
t.test('a lapse seen by the keeper holds back a resync that comes before its outcome', async (t) => {
  const store = await rewindableRedis(t);
  if (!store) return;
  const { a, b, keepers, step } = await rewoundPair(store);
  await keepers[0]!.renew(false); // A's thread sees the lapse; the outcome is not delivered yet
  await a.membership.resync();
  t.same(reapLogs([a]), [], 'A judged nobody');
  keepers[0]!.deliver();
  await step(3 * DEAD_AFTER);
  t.same([...a.logouts, ...b.logouts], [], 'no logout');
  t.same([...a.fencing, ...b.fencing], [], 'nobody fenced');
});

/**
 * A process restarted right after its predecessor with the same NODE_ID crashed (faster than
 * NODE_DEAD_AFTER_MS) finds a lease that is not expired yet: it waits for it to expire and takes
 * the id over, reaping what was left. A lease that is still renewed is a live process: refused.
 */
t.test('join waits out a dead predecessor lease, refuses a live one', async (t) => {
  const clock = new ManualClock();
  const shared = createMemoryStores();
  const dead = makeNode(shared, 'D', clock);
  await dead.membership.join();
  await connect(dead, 'd1', clock);
  clock.advance(2 * LEASE); // D crashed 2 s ago: its lease has 3 s to go

  const successor = makeNode(shared, 'D', clock);
  const joined = successor.membership.join();
  await new Promise((resolve) => setTimeout(resolve, 100));
  clock.advance(DEAD_AFTER); // the lease expires while the successor waits
  await joined;
  t.same(
    successor.logouts.map((r) => `${r.userId}:${r.reason}`),
    ['d1:node_lost'],
    "the predecessor's player reaped by the successor",
  );
  t.equal(
    successor.log.messages('NODE_ID is held by a lease that is not renewed any more (a previous process that just died?): waiting for it to expire').length,
    1,
  );

  const live = makeNode(shared, 'L', clock);
  await live.membership.join();
  const intruder = makeNode(shared, 'L', clock);
  const refused = intruder.membership.join();
  const renewing = setInterval(() => {
    clock.advance(LEASE / 2);
    void live.membership.tick();
  }, 200);
  t.teardown(() => clearInterval(renewing));
  await t.rejects(refused, { name: 'NodeIdInUseError' }, 'a lease that moves is a live process');
});
