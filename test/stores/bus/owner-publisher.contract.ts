/**
 * The OwnerPublisher contract: every implementation (the store lookup then bus publish on memory
 * and on Redis, and the one-script RedisOwnerPublisher) finds the same owning nodes from the
 * same presence and publishes the same envelopes to them. Negative checks use the bus barrier
 * (bus.contract.ts): once a marker sent after the call is in, anything the call sent is in too.
 */
import type { Test } from 'tap';
import type { Bus, BusMessage } from '../../../src/cluster/bus.ts';
import type { OwnerPublisher } from '../../../src/cluster/owner-publisher.ts';
import type { PresenceStore } from '../../../src/presence/presence-store.ts';
import { connect } from '../contract-helpers.ts';
import { attach, barrier, sampleMessages, type TestNode } from './bus.contract.ts';

export interface OwnerSetup {
  store: PresenceStore;
  /** `n` fresh, unsubscribed buses that reach each other. */
  buses: Bus[];
  /** The publisher sending from `bus` (one of `buses`). */
  publisherFor(bus: Bus): OwnerPublisher;
  /** Makes the store unreachable for the publisher sending from `buses[0]`. */
  cutStore?: (() => void) | undefined;
}

export type MakeOwnerSetup = (t: Test, n: number) => Promise<OwnerSetup | null>;

const deliver = (userId: string, frame: string): BusMessage => ({ kind: 'deliver', userId, frame });

/** `outage`: the setup has `cutStore` (a store over the network; in-process ones cannot fail). */
export function runOwnerPublisherContract(t: Test, name: string, make: MakeOwnerSetup, { outage }: { outage: boolean }): void {
  type Body = (t: Test, ctx: { store: PresenceStore; nodes: TestNode[]; from: OwnerPublisher; setup: OwnerSetup }) => Promise<void>;
  /** Nodes A, B, C (B and C unless fewer); the publisher sends from A. */
  const test = (title: string, ids: string[], body: Body) =>
    t.test(`${name}: ${title}`, async (t) => {
      const setup = await make(t, ids.length);
      if (!setup) return;
      t.teardown(() => Promise.all(setup.buses.map((bus) => bus.close())));
      const nodes = await attach(setup.buses, ids);
      await body(t, { store: setup.store, nodes, from: setup.publisherFor(nodes[0]!.bus), setup });
    });

  test('a user online on another node: published to that node only, with the sender as origin', ['A', 'B', 'C'], async (t, { store, nodes, from }) => {
    const [a, b, c] = nodes as [TestNode, TestNode, TestNode];
    await connect(store, 'bob', 'B', 1000);
    const message = deliver('bob', '{"type":"message","content":"hi"}');
    t.strictSame(await from.publishToOwners('bob', 'A', message), { online: true, owners: 1, reached: 1, unheard: 0 });
    await barrier(a, nodes);
    t.strictSame(b.got, [{ origin: 'A', message }]);
    t.strictSame(c.got, [], 'not a bystander');
    t.strictSame(a.got, [], 'not the sender');
  });

  test('a user the store never saw, or who logged out: not online, nothing published', ['A', 'B'], async (t, { store, nodes, from }) => {
    const [a, b] = nodes as [TestNode, TestNode];
    t.strictSame(await from.publishToOwners('nobody', 'A', deliver('nobody', 'x')), { online: false, owners: 0, reached: 0, unheard: 0 });
    const login = await connect(store, 'carol', 'B', 1000);
    await store.endSession({ userId: 'carol', nodeId: 'B', logicalSessionId: login.logicalSessionId, reason: 'closed', now: 2000 });
    t.strictSame(await from.publishToOwners('carol', 'A', deliver('carol', 'x')), { online: false, owners: 0, reached: 0, unheard: 0 });
    await barrier(a, [b]);
    t.strictSame(b.got, [], 'B received nothing');
  });

  test('a user in their logout grace is not online (the message waits in their offline queue)', ['A', 'B'], async (t, { store, nodes, from }) => {
    const [a, b] = nodes as [TestNode, TestNode];
    const login = await connect(store, 'dan', 'B', 1000);
    await store.endSession({ userId: 'dan', nodeId: 'B', logicalSessionId: login.logicalSessionId, reason: 'closed', now: 2000, graceMs: 60_000 });
    t.equal((await store.getPlayer('dan'))?.status, 'reconnecting');
    t.strictSame(await from.publishToOwners('dan', 'A', deliver('dan', 'x')), { online: false, owners: 0, reached: 0, unheard: 0 });
    await barrier(a, [b]);
    t.strictSame(b.got, []);
  });

  test("the sender's own node is skipped: online with no owner to publish to", ['A', 'B'], async (t, { store, nodes, from }) => {
    const [a, b] = nodes as [TestNode, TestNode];
    await connect(store, 'erin', 'A', 1000);
    t.strictSame(await from.publishToOwners('erin', 'A', deliver('erin', 'x')), { online: true, owners: 0, reached: 0, unheard: 0 });
    await barrier(a, [a, b]);
    t.strictSame(a.got, [], 'A is not sent its own delivery');
    t.strictSame(b.got, []);
  });

  test('an owning node that is not listening (crashed, not reaped): unheard', ['A', 'B'], async (t, { store, nodes, from }) => {
    const [a, b] = nodes as [TestNode, TestNode];
    await connect(store, 'fay', 'Z', 1000);
    t.strictSame(await from.publishToOwners('fay', 'A', deliver('fay', 'x')), { online: true, owners: 1, reached: 0, unheard: 1 });
    await barrier(a, [b]);
    t.strictSame(b.got, [], 'nothing went to a bystander');
  });

  test('sessions on several nodes (multi): one publish per owning node, the sender skipped', ['A', 'B', 'C'], async (t, { store, nodes, from }) => {
    const [a, b, c] = nodes as [TestNode, TestNode, TestNode];
    await connect(store, 'gus', 'A', 1000);
    await connect(store, 'gus', 'B', 1001);
    await connect(store, 'gus', 'B', 1002);
    await connect(store, 'gus', 'C', 1003);
    await connect(store, 'gus', 'Z', 1004);
    const message = deliver('gus', 'to-all');
    t.strictSame(await from.publishToOwners('gus', 'A', message), { online: true, owners: 3, reached: 2, unheard: 1 }, 'B and C heard, Z did not');
    await barrier(a, nodes);
    t.strictSame(b.got, [{ origin: 'A', message }], 'B once, for two sessions');
    t.strictSame(c.got, [{ origin: 'A', message }]);
    t.strictSame(a.got, []);
  });

  test('a node whose last session ended is no longer an owner', ['A', 'B', 'C'], async (t, { store, nodes, from }) => {
    const [a, b, c] = nodes as [TestNode, TestNode, TestNode];
    const first = await connect(store, 'hal', 'B', 1000);
    await connect(store, 'hal', 'C', 1001);
    await store.endSession({ userId: 'hal', nodeId: 'B', logicalSessionId: first.logicalSessionId, reason: 'closed', now: 2000 });
    t.strictSame(await from.publishToOwners('hal', 'A', deliver('hal', 'x')), { online: true, owners: 1, reached: 1, unheard: 0 });
    await barrier(a, nodes);
    t.strictSame(b.got, []);
    t.equal(c.got.length, 1);
  });

  test('every message kind arrives intact (unicode, 100 KB frames), in call order', ['A', 'B'], async (t, { store, nodes, from }) => {
    const [a, b] = nodes as [TestNode, TestNode];
    await connect(store, 'ivy', 'B', 1000);
    const messages = sampleMessages();
    // Not awaited one by one: overlapping calls keep their order, as a sender's messages must.
    const results = await Promise.all(messages.map((message) => from.publishToOwners('ivy', 'A', message)));
    t.ok(results.every((r) => r.reached === 1));
    await barrier(a, [b]);
    t.strictSame(
      b.got,
      messages.map((message) => ({ origin: 'A', message })),
    );
  });

  if (!outage) return;
  test('the store unreachable: rejects (the router reports NOT_AVAILABLE)', ['A', 'B'], async (t, { store, from, setup }) => {
    await connect(store, 'jon', 'B', 1000);
    t.equal((await from.publishToOwners('jon', 'A', deliver('jon', 'x'))).reached, 1, 'reachable before the cut');
    setup.cutStore!();
    await t.rejects(from.publishToOwners('jon', 'A', deliver('jon', 'x')));
  });
}
