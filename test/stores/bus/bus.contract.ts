/**
 * The Bus contract: one suite that every implementation must pass (MemoryBus on a shared hub,
 * RedisBus on a per-test channel prefix), so the in-process bus cannot promise what Redis
 * pub/sub does not do. Negative checks ("X received nothing") never sleep: a barrier publishes a
 * marker from the same sender after the messages under test, on the node channel and on the
 * broadcast channel, and one sender's messages on one channel reach a receiver in order, so once
 * both markers are in, everything sent before them on either is in too. (On a Redis Cluster the
 * node channel is sharded and the broadcast channel is not: they are not ordered among each
 * other, `orderedAcrossChannels: false`.)
 */
import type { Test } from 'tap';
import type { Bus, BusEnvelope, BusMessage } from '../../../src/cluster/bus.ts';
import { CloseCode } from '../../../src/protocol/close-codes.ts';
import { waitFor } from './bus-helpers.ts';

/** `n` fresh, unsubscribed buses that can reach each other; null when the test was skipped. */
export type MakeBuses = (t: Test, n: number) => Promise<Bus[] | null>;

export interface TestNode {
  id: string;
  bus: Bus;
  /** Everything received except barrier markers, in arrival order. */
  got: BusEnvelope[];
  markers: Set<string>;
}

const MARKER_USER = '\u0000barrier';
/** The broadcast marker's frame: this prefix and the marker. */
const BROADCAST_MARKER = '\u0000barrier:';
/** A frame that makes the recording handler throw after recording it. */
export const THROW = '\u0000throw';
let markerSeq = 0;

/** Subscribes `buses[i]` as node `ids[i]`, recording what each receives. */
export async function attach(buses: Bus[], ids: string[]): Promise<TestNode[]> {
  const nodes = buses.map((bus, i): TestNode => ({ id: ids[i] ?? `n${i}`, bus, got: [], markers: new Set() }));
  await Promise.all(
    nodes.map((node) =>
      node.bus.subscribe(node.id, (envelope) => {
        const { message } = envelope;
        if (message.kind === 'deliver' && message.userId === MARKER_USER) node.markers.add(message.frame);
        else if (message.kind === 'broadcast' && message.frame.startsWith(BROADCAST_MARKER)) node.markers.add(message.frame);
        else node.got.push(envelope);
        if (message.kind === 'deliver' && message.frame === THROW) throw new Error('handler bug (on purpose)');
      }),
    ),
  );
  return nodes;
}

/** Returns once everything `from` sent so far has reached every node in `to`. */
export async function barrier(from: TestNode, to: TestNode[]): Promise<void> {
  const marker = `m${++markerSeq}`;
  await Promise.all(to.map((node) => from.bus.publish(node.id, { kind: 'deliver', userId: MARKER_USER, frame: marker })));
  await from.bus.broadcast({ kind: 'broadcast', frame: BROADCAST_MARKER + marker });
  await waitFor(
    () => to.every((node) => node.markers.has(marker) && (node === from || node.markers.has(BROADCAST_MARKER + marker))),
    `barrier ${marker} from ${from.id}`,
  );
}

/** One message of every kind, frames with unicode and a 100 KB string. */
export function sampleMessages(): BusMessage[] {
  const unicode = JSON.stringify({ type: 'message', from: 'ü', content: 'héllo 世界 👋🏽 עברית \u2028\u2029 "quoted" \\ back\\slash \u0000nul', ts: 1 });
  const big = JSON.stringify({ type: 'message', content: 'x'.repeat(100 * 1024 - 3) + 'é😀', ts: 2 });
  return [
    { kind: 'deliver', userId: 'u-1', frame: unicode },
    { kind: 'deliver', userId: 'ユーザー', frame: big },
    { kind: 'kick', userId: 'u-2', beforeEpoch: 42, code: CloseCode.REPLACED, reason: 'replaced' },
    { kind: 'logout', userId: 'u-3', code: CloseCode.LOGGED_OUT, reason: 'logged out ✓' },
    { kind: 'broadcast', frame: unicode },
    { kind: 'broadcast', frame: big },
    { kind: 'room', room: 'lobby:eu-1_a.b', frame: unicode },
    { kind: 'offline', userId: 'u-4' },
    { kind: 'group-member', userId: 'u-6', group: 'guild-1', member: true },
    { kind: 'group-member', userId: 'u-6', group: 'guild-1', member: false },
    { kind: 'deliver', userId: 'u-5', frame: unicode, ref: 'x1.2z' },
    {
      kind: 'receipts',
      receipts: [
        ['x1.2z', 1, 0],
        ['x1.30', 0, 3],
      ],
    },
  ];
}

/**
 * `orderedAcrossChannels`: one sender's publishes and broadcasts reach a receiver in the order
 * they were sent (one Redis, memory); false on a Redis Cluster, where only each channel is ordered.
 */
export function runBusContract(t: Test, name: string, makeBuses: MakeBuses, { orderedAcrossChannels = true } = {}): void {
  type Body = (t: Test, nodes: TestNode[]) => Promise<void>;
  const test = (title: string, ids: string[], body: Body) =>
    t.test(`${name}: ${title}`, async (t) => {
      const buses = await makeBuses(t, ids.length);
      if (!buses) return;
      t.teardown(() => Promise.all(buses.map((bus) => bus.close())));
      await body(t, await attach(buses, ids));
    });

  test('publish reaches only the addressed node, with the sender as origin', ['A', 'B', 'C'], async (t, [a, b, c]) => {
    const message: BusMessage = { kind: 'deliver', userId: 'u1', frame: '{"type":"message"}' };
    await a!.bus.publish('B', message);
    await barrier(a!, [a!, b!, c!]);
    t.strictSame(b!.got, [{ origin: 'A', message }]);
    t.strictSame(a!.got, [], 'not the sender');
    t.strictSame(c!.got, [], 'not a bystander');

    await c!.bus.publish('A', message);
    await barrier(c!, [a!, b!, c!]);
    t.strictSame(a!.got, [{ origin: 'C', message }], 'origin is the sending node');
    t.equal(b!.got.length, 1);
  });

  test('a node can address itself', ['A', 'B'], async (t, [a, b]) => {
    await a!.bus.publish('A', { kind: 'logout', userId: 'u1', code: CloseCode.LOGGED_OUT, reason: 'r' });
    await barrier(a!, [a!, b!]);
    t.strictSame(a!.got, [{ origin: 'A', message: { kind: 'logout', userId: 'u1', code: CloseCode.LOGGED_OUT, reason: 'r' } }]);
    t.strictSame(b!.got, []);
  });

  test('broadcast reaches every other node exactly once and never the origin', ['A', 'B', 'C', 'D'], async (t, nodes) => {
    const [a, b] = nodes;
    const first: BusMessage = { kind: 'broadcast', frame: '{"type":"broadcast","content":"one"}' };
    const second: BusMessage = { kind: 'broadcast', frame: '{"type":"broadcast","content":"two"}' };
    await a!.bus.broadcast(first);
    await b!.bus.broadcast(second);
    await barrier(a!, nodes);
    await barrier(b!, nodes);
    for (const node of nodes) {
      const expected = [...(node.id === 'A' ? [] : [{ origin: 'A', message: first }]), ...(node.id === 'B' ? [] : [{ origin: 'B', message: second }])];
      t.strictSame(node.got, expected, `${node.id} got each broadcast of the others once`);
    }
  });

  test('every message kind round-trips intact (unicode, 100 KB frames)', ['A', 'B', 'C'], async (t, [a, b, c]) => {
    const messages = sampleMessages();
    for (const message of messages) await a!.bus.publish('B', message);
    for (const message of messages) await a!.bus.broadcast(message);
    await barrier(a!, [a!, b!, c!]);
    const expected = [...messages, ...messages].map((message) => ({ origin: 'A', message }));
    if (orderedAcrossChannels) t.strictSame(b!.got, expected, 'publish then broadcast, intact');
    else t.strictSame(b!.got.map((e) => JSON.stringify(e)).sort(), expected.map((e) => JSON.stringify(e)).sort(), 'publish and broadcast, intact');
    t.strictSame(
      c!.got,
      messages.map((message) => ({ origin: 'A', message })),
      'broadcast only',
    );
    t.strictSame(a!.got, []);
    const big = b!.got[1]?.message;
    t.ok(big?.kind === 'deliver' && big.frame.length > 100 * 1024, 'the 100 KB frame kept its length');
  });

  test('1,000 messages from one sender arrive in order (publish and broadcast interleaved)', ['A', 'B'], async (t, [a, b]) => {
    const sent: BusMessage[] = Array.from({ length: 1000 }, (_, i) =>
      i % 10 === 9 ? { kind: 'broadcast', frame: `{"n":${i}}` } : { kind: 'deliver', userId: `u${i % 7}`, frame: `{"n":${i}}` },
    );
    // Not awaited one by one: the sends overlap, as concurrent deliveries do in the gateway.
    await Promise.all(sent.map((message) => (message.kind === 'broadcast' ? a!.bus.broadcast(message) : a!.bus.publish('B', message))));
    await barrier(a!, [b!]);
    t.equal(b!.got.length, 1000);
    const order = b!.got.map((e) => (e.message.kind === 'deliver' || e.message.kind === 'broadcast' ? JSON.parse(e.message.frame).n : -1));
    if (orderedAcrossChannels) {
      t.ok(
        order.every((n, i) => n === i),
        'in publish order',
      );
      t.strictSame(
        b!.got.map((e) => e.message),
        sent,
      );
    } else {
      // Each channel in order: the publishes among themselves, the broadcasts among themselves.
      const publishes = order.filter((n) => n % 10 !== 9);
      const broadcasts = order.filter((n) => n % 10 === 9);
      t.ok(
        publishes.every((n, i) => i === 0 || n > publishes[i - 1]!),
        'publishes in publish order',
      );
      t.ok(
        broadcasts.every((n, i) => i === 0 || n > broadcasts[i - 1]!),
        'broadcasts in publish order',
      );
      t.equal(publishes.length + broadcasts.length, 1000);
    }
  });

  test('close() stops delivery at once; the closed bus refuses to send; close is idempotent', ['A', 'B', 'C'], async (t, [a, b, c]) => {
    const burst = Array.from({ length: 50 }, (_, i): BusMessage => ({ kind: 'deliver', userId: 'u', frame: String(i) }));
    for (const message of burst) await a!.bus.publish('B', message);
    // Some of the burst may be in B's hands already, the rest in flight: none may follow close().
    const closing = b!.bus.close();
    const atClose = b!.got.length;
    await closing;
    await a!.bus.publish('B', { kind: 'deliver', userId: 'u', frame: 'after close' });
    await a!.bus.broadcast({ kind: 'broadcast', frame: 'after close' });
    await barrier(a!, [c!]);
    t.equal(b!.got.length, atClose, `nothing delivered after close() (${atClose} before)`);
    t.strictSame(c!.got, [{ origin: 'A', message: { kind: 'broadcast', frame: 'after close' } }], 'the others still receive');
    await t.rejects(b!.bus.publish('A', { kind: 'deliver', userId: 'u', frame: 'x' }), 'publish after close rejects');
    await t.rejects(b!.bus.broadcast({ kind: 'broadcast', frame: 'x' }), 'broadcast after close rejects');
    await t.rejects(
      b!.bus.subscribe('B', () => {}),
      'subscribe after close rejects',
    );
    await b!.bus.close();
    t.pass('second close resolves');
  });

  test('publish resolves with how many received it: 1 for a listening node, 0 for nobody or a closed node', ['A', 'B', 'C'], async (t, [a, b, c]) => {
    const message: BusMessage = { kind: 'deliver', userId: 'u', frame: 'x' };
    t.equal(await a!.bus.publish('B', message), 1, 'the addressed node');
    t.equal(await a!.bus.publish('A', message), 1, 'the sender itself');
    t.equal(await a!.bus.publish('nobody-here', message), 0, 'a node nobody listens for');
    await b!.bus.close();
    t.equal(await a!.bus.publish('B', message), 0, 'a node that closed its bus');
    t.equal(await c!.bus.publish('A', message), 1, 'the others still count');
    await barrier(a!, [a!, c!]);
    t.equal(a!.got.length, 2, "A got its own and C's message");
  });

  test('publishing to a node nobody listens on resolves', ['A'], async (t, [a]) => {
    await a!.bus.publish('nobody-here', { kind: 'deliver', userId: 'u', frame: 'x' });
    await a!.bus.broadcast({ kind: 'broadcast', frame: 'alone' });
    await barrier(a!, [a!]);
    t.strictSame(a!.got, [], 'a lone node does not hear its own broadcast');
  });

  test('a throwing handler does not stop later deliveries', ['A', 'B'], async (t, [a, b]) => {
    await a!.bus.publish('B', { kind: 'deliver', userId: 'u', frame: THROW });
    await a!.bus.publish('B', { kind: 'deliver', userId: 'u', frame: 'next' });
    await barrier(a!, [b!]);
    t.strictSame(
      b!.got.map((e) => e.message.kind === 'deliver' && e.message.frame),
      [THROW, 'next'],
    );
  });

  /** Room messages received by `node`, as "room:frame". */
  const roomGot = (node: TestNode) => node.got.flatMap((e) => (e.message.kind === 'room' ? [`${e.origin}>${e.message.room}:${e.message.frame}`] : []));

  test('room messages reach every other subscribed node once, never the sender or a bystander', ['A', 'B', 'C', 'D'], async (t, nodes) => {
    const [a, b, c, d] = nodes as [TestNode, TestNode, TestNode, TestNode];
    await Promise.all([a.bus.subscribeRooms(['lobby']), b.bus.subscribeRooms(['lobby']), c.bus.subscribeRooms(['lobby']), d.bus.subscribeRooms(['other'])]);
    t.equal(await a.bus.publishRoom('lobby', { kind: 'room', room: 'lobby', frame: 'from-a' }), 2, 'received by 2 other nodes (B and C)');
    await b.bus.publishRoom('lobby', { kind: 'room', room: 'lobby', frame: 'from-b' });
    await barrier(a, nodes);
    await barrier(b, nodes);
    t.strictSame(roomGot(a), ['B>lobby:from-b'], "A: only B's message");
    t.strictSame(roomGot(b), ['A>lobby:from-a'], "B: only A's message");
    t.strictSame(roomGot(c), ['A>lobby:from-a', 'B>lobby:from-b'], 'C: both, in order');
    t.strictSame(roomGot(d), [], 'D is subscribed to another room only');
    // A node that is not subscribed can still publish to the room.
    t.equal(await d.bus.publishRoom('lobby', { kind: 'room', room: 'lobby', frame: 'from-d' }), 3, 'a non-member: all 3 members');
    t.equal(await d.bus.publishRoom('nobody', { kind: 'room', room: 'nobody', frame: 'x' }), 0, 'a room nobody is in: 0');
    await barrier(d, nodes);
    t.strictSame(roomGot(a).at(-1), 'D>lobby:from-d');
    t.strictSame(roomGot(c).at(-1), 'D>lobby:from-d');
    t.strictSame(roomGot(d), []);
  });

  test('room subscriptions: idempotent, not reference-counted, independent per room', ['A', 'B'], async (t, [a, b]) => {
    await b!.bus.subscribeRooms(['r1']);
    await b!.bus.subscribeRooms(['r1']);
    await b!.bus.subscribeRooms(['r2']);
    await a!.bus.publishRoom('r1', { kind: 'room', room: 'r1', frame: '1' });
    await barrier(a!, [b!]);
    t.strictSame(roomGot(b!), ['A>r1:1'], 'subscribed twice, delivered once');
    await b!.bus.unsubscribeRooms(['r1']);
    await b!.bus.unsubscribeRooms(['r1']);
    await b!.bus.unsubscribeRooms(['never-subscribed']);
    await a!.bus.publishRoom('r1', { kind: 'room', room: 'r1', frame: '2' });
    await a!.bus.publishRoom('r2', { kind: 'room', room: 'r2', frame: '3' });
    await barrier(a!, [b!]);
    t.strictSame(roomGot(b!), ['A>r1:1', 'A>r2:3'], 'one unsubscribe ends r1; r2 unaffected');
    await b!.bus.subscribeRooms(['r1']);
    await a!.bus.publishRoom('r1', { kind: 'room', room: 'r1', frame: '4' });
    await barrier(a!, [b!]);
    t.strictSame(roomGot(b!).at(-1), 'A>r1:4', 'subscribed again');
  });

  test('room names of every allowed character, 128 long; 1,000 room messages in order', ['A', 'B'], async (t, [a, b]) => {
    const long = 'R'.repeat(120) + 'az09_.:-';
    const rooms = ['a', 'Zz.0_9:x-y', long];
    for (const room of rooms) await b!.bus.subscribeRooms([room]);
    for (const room of rooms) await a!.bus.publishRoom(room, { kind: 'room', room, frame: room });
    const sent = Array.from({ length: 1000 }, (_, i) => String(i));
    await Promise.all(sent.map((n) => a!.bus.publishRoom('a', { kind: 'room', room: 'a', frame: n })));
    await barrier(a!, [b!]);
    t.strictSame(roomGot(b!), [...rooms.map((r) => `A>${r}:${r}`), ...sent.map((n) => `A>a:${n}`)]);
  });

  t.test(`${name}: room operations need a subscription; a closed bus refuses them and hears nothing`, async (t) => {
    const buses = await makeBuses(t, 2);
    if (!buses) return;
    t.teardown(() => Promise.all(buses.map((bus) => bus.close())));
    await t.rejects(buses[0]!.subscribeRooms(['lobby']), /subscribe/, 'subscribeRoom before subscribe');
    await t.rejects(buses[0]!.publishRoom('lobby', { kind: 'room', room: 'lobby', frame: 'x' }), /subscribe/, 'publishRoom before subscribe');
    const [a, b] = await attach(buses, ['A', 'B']);
    await b!.bus.subscribeRooms(['lobby']);
    await a!.bus.publishRoom('nobody-listens', { kind: 'room', room: 'nobody-listens', frame: 'x' });
    await b!.bus.close();
    await a!.bus.publishRoom('lobby', { kind: 'room', room: 'lobby', frame: 'after close' });
    await barrier(a!, [a!]);
    await a!.bus.publish('B', { kind: 'deliver', userId: 'u', frame: 'after close' });
    await barrier(a!, [a!]);
    t.strictSame(b!.got, [], 'nothing after close');
    await t.rejects(b!.bus.subscribeRooms(['lobby']), 'subscribeRoom after close');
    await t.rejects(b!.bus.publishRoom('lobby', { kind: 'room', room: 'lobby', frame: 'x' }), 'publishRoom after close');
  });

  t.test(`${name}: sending needs a subscription (the origin); a bus subscribes once`, async (t) => {
    const buses = await makeBuses(t, 1);
    if (!buses) return;
    const [bus] = buses;
    t.teardown(() => bus!.close());
    await t.rejects(bus!.publish('X', { kind: 'deliver', userId: 'u', frame: 'x' }), /subscribe/, 'publish before subscribe');
    await t.rejects(bus!.broadcast({ kind: 'broadcast', frame: 'x' }), /subscribe/, 'broadcast before subscribe');
    await bus!.subscribe('S', () => {});
    await t.rejects(
      bus!.subscribe('S2', () => {}),
      /already subscribed/,
    );
    await bus!.publish('X', { kind: 'deliver', userId: 'u', frame: 'x' });
  });
}
