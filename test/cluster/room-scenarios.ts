/**
 * Scenarios of rooms.test.ts (Redis) and redis-cluster.test.ts (Redis Cluster): three gateway
 * processes with SESSION_POLICY=multi: rooms across nodes (join on A, publish on C),
 * room subscriptions only while a node has local members, cluster-wide room counts and members,
 * admin pushes and broadcasts exactly once per session, multi-device delivery and echoes across
 * nodes, the offline queue across nodes, and a killed node's room share leaving the counts.
 */
import type { Test } from 'tap';
import { eventually } from '../helpers/build.ts';
import { startCluster, type ClusterNode, type ClusterStore } from '../helpers/cluster.ts';
import { TestClient, type Frame } from '../helpers/ws-client.ts';

/** Frames of a type that arrived so far, after a ping barrier on each client. */
async function settled(clients: TestClient[], type: string): Promise<Frame[][]> {
  await Promise.all(clients.map((c) => c.ping()));
  return clients.map((c) => c.frames.filter((f) => f.type === type));
}

export async function roomScenarios(t: Test, store: ClusterStore): Promise<void> {
  // Generous leases: on a busy machine a starved node that misses its renewals re-asserts its
  // presence and closes "stale" sessions, which is not what this suite is about.
  const cluster = await startCluster(t, ['rooms-a', 'rooms-b', 'rooms-c'], { SESSION_POLICY: 'multi', NODE_DEAD_AFTER_MS: '15000' }, store);
  if (!cluster) return;
  // cluster.nodes is in start-up order: pick the nodes by id.
  const [a, b, c] = ['rooms-a', 'rooms-b', 'rooms-c'].map((id) => cluster.nodes.find((n) => n.nodeId === id)!) as [ClusterNode, ClusterNode, ClusterNode];
  const nodeOf = new Map<TestClient, ClusterNode>();
  const open = async (node: ClusterNode, userId: string) => {
    // A generous wait for `connected`: three fresh processes on a busy machine.
    const client = await TestClient.connect(cluster.wsUrl(node, userId));
    await client.next('connected', 15_000);
    client.startPing(500);
    nodeOf.set(client, node);
    return client;
  };
  const join = async (client: TestClient, room: string) => {
    client.send({ type: 'join', room });
    await client
      .next('joined', 10_000, (f) => f.room === room)
      .catch((error: Error) => {
        const node = nodeOf.get(client)!;
        const logs = node.logs.filter((l) => Number(l.level) >= 40 || /room|bus/.test(String(l.msg))).map((l) => JSON.stringify(l));
        throw new Error(
          `${error.message} (${node.nodeId}); frames: ${JSON.stringify(client.frames.filter((f) => f.type !== 'pong'))}; logs: ${logs.join(' | ')}`,
        );
      });
  };
  const redis = await cluster.redis();
  const subscribers = (room: string) => cluster.channelSubscribers(`${cluster.prefix}gateway:room:${room}`);

  await t.test('join on A and B, publish on C: every member session once, across nodes', async (t) => {
    const aliceA = await open(a, 'alice');
    const aliceB = await open(b, 'alice');
    const bob = await open(b, 'bob');
    const carol = await open(c, 'carol');
    const dave = await open(c, 'dave');
    for (const client of [aliceA, aliceB, bob, carol]) await join(client, 'world');
    await join(dave, 'elsewhere');

    carol.send({ type: 'room', room: 'world', content: { from: 'c' }, id: 'c1' });
    // No other member on C: published to A and B, which have no receipts for rooms.
    t.same(await carol.next('ack'), { type: 'ack', id: 'c1', status: 'sent' });
    for (const client of [aliceA, aliceB, bob]) t.match(await client.next('room'), { room: 'world', from: 'carol', content: { from: 'c' } });
    aliceA.send({ type: 'room', room: 'world', content: { from: 'a' }, id: 'a1' });
    await aliceA.next('ack');
    for (const client of [aliceB, bob, carol]) t.match(await client.next('room'), { from: 'alice', content: { from: 'a' } }, "alice's other session on B too");
    const left = await settled([aliceA, aliceB, bob, carol, dave], 'room');
    t.same(left, [[], [], [], [], []], 'exactly once each; not the sending session, not a non-member');

    // Cluster-wide counts from any node; local counts of the answering node.
    const world = async (node: ClusterNode) => (await cluster.admin(node, 'GET', '/api/rooms')).body.rooms.find((r: { room: string }) => r.room === 'world');
    t.same(await world(c), { room: 'world', localMembers: 1, clusterMembers: 4, nodes: { 'rooms-a': 1, 'rooms-b': 2, 'rooms-c': 1 } });
    t.match(await world(a), { localMembers: 1, clusterMembers: 4 });
    const members = (await cluster.admin(a, 'GET', '/api/rooms/world/members?limit=2')).body;
    t.same(members.members, [
      { userId: 'alice', nodeId: 'rooms-a', sessions: 1 },
      { userId: 'alice', nodeId: 'rooms-b', sessions: 1 },
    ]);
    const rest = (await cluster.admin(a, 'GET', `/api/rooms/world/members?limit=2&cursor=${members.nextCursor}`)).body;
    t.same(
      rest.members.map((m: { userId: string; nodeId: string }) => `${m.userId}@${m.nodeId}`),
      ['bob@rooms-b', 'carol@rooms-c'],
    );
    t.notOk(rest.nextCursor);
    await Promise.all([aliceA, aliceB, bob, carol, dave].map((client) => client.close()));
    await eventually(async () => (await world(b)) === undefined, 5000);
  });

  await t.test('a node listens on a room channel only while it has a local member', async (t) => {
    t.equal(await subscribers('solo'), 0);
    const x = await open(a, 'xena');
    await join(x, 'solo');
    t.equal(await subscribers('solo'), 1, 'A subscribed');
    const y1 = await open(b, 'yann');
    const y2 = await open(b, 'yann');
    await join(y1, 'solo');
    await join(y2, 'solo');
    t.equal(await subscribers('solo'), 2, 'B subscribed once for two members');
    y1.send({ type: 'leave', room: 'solo' });
    await y1.next('left');
    t.equal(await subscribers('solo'), 2, 'B still has a member');
    await y2.close();
    await eventually(async () => (await subscribers('solo')) === 1);
    t.pass('the last local member gone (closed): B unsubscribed');
    const z = await open(c, 'zed');
    await join(z, 'solo');
    z.send({ type: 'room', room: 'solo', content: 'ping', id: 'z1' });
    await z.next('ack');
    t.match(await x.next('room'), { from: 'zed', content: 'ping' });
    t.same((await settled([y1], 'room'))[0], [], 'the session that left gets nothing');
    await Promise.all([x, y1, z].map((client) => client.close()));
    await eventually(async () => (await subscribers('solo')) === 0);
  });

  await t.test('admin room push from a node without members, and broadcast: once per session', async (t) => {
    const m1 = await open(a, 'mia');
    const m2 = await open(b, 'mia');
    const n1 = await open(b, 'noah');
    const other = await open(c, 'olga');
    for (const client of [m1, m2, n1]) await join(client, 'ab-only');
    const push = await cluster.admin(c, 'POST', '/api/rooms/ab-only/messages', { content: { season: 2 } });
    t.equal(push.status, 200);
    t.same(push.body.localSessions, 0, 'node C has no member');
    for (const client of [m1, m2, n1]) t.match(await client.next('room'), { room: 'ab-only', server: true, content: { season: 2 }, id: push.body.id });
    const bc = await cluster.admin(a, 'POST', '/api/broadcast', { content: 'all' });
    t.equal(bc.status, 200);
    for (const client of [m1, m2, n1, other]) t.match(await client.next('broadcast'), { content: 'all' });
    t.same(await settled([m1, m2, n1, other], 'room'), [[], [], [], []], 'room push once');
    t.same(await settled([m1, m2, n1, other], 'broadcast'), [[], [], [], []], 'broadcast once');
    await Promise.all([m1, m2, n1, other].map((client) => client.close()));
  });

  await t.test('multi-device across nodes: each session once, echoes to the other devices', async (t) => {
    const phone = await open(a, 'dev');
    const laptop = await open(b, 'dev');
    const friend = await open(c, 'friend');
    friend.send({ type: 'message', to: 'dev', content: 'to both', id: 'f1' });
    t.match(await friend.next('ack'), { id: 'f1', status: 'delivered' });
    const got = [await phone.next('message'), await laptop.next('message')];
    t.same(got[0], got[1], 'the same frame on both devices');
    phone.send({ type: 'message', to: 'friend', content: 'from the phone', id: 'p1' });
    await phone.next('ack');
    const received = await friend.next('message');
    const echo = await laptop.next('message');
    t.same(echo, { ...received, to: 'friend', echo: true }, 'the laptop on another node sees what the phone sent');
    t.same(await settled([phone, laptop, friend], 'message'), [[], [], []], 'nothing twice, no echo to the sending session');
    await Promise.all([phone, laptop, friend].map((client) => client.close()));
  });

  await t.test('offline queue across nodes: queued via C, replayed on A, acked, not replayed on B', async (t) => {
    // Only users who ever logged in get an offline queue: `later` logs in once and leaves.
    const once = await open(b, 'later');
    await once.close();
    await eventually(async () => (await cluster.admin(a, 'GET', '/api/online/players/later')).body.status === 'offline');
    const sender = await open(c, 'sender');
    for (let i = 0; i < 3; i++) sender.send({ type: 'message', to: 'later', content: i, id: `l${i}` });
    for (let i = 0; i < 3; i++) t.match(await sender.next('ack', 5000, (f) => f.id === `l${i}`), { status: 'queued' });
    const first = await open(a, 'later');
    const replay = [await first.next('message'), await first.next('message'), await first.next('message')];
    t.same(
      replay.map((f) => [f.content, f.offline]),
      [
        [0, true],
        [1, true],
        [2, true],
      ],
    );
    first.send({ type: 'ack', id: replay[2]!.id });
    await first.ping();
    await first.close();
    await eventually(async () => (await cluster.admin(b, 'GET', '/api/online/players/later')).body.status === 'offline');
    const second = await open(b, 'later');
    t.same((await settled([second], 'message'))[0], [], 'acked on node A: nothing on node B');
    const push = await cluster.admin(a, 'POST', '/api/users/later/messages', { content: 'pushed' });
    t.match(push.body, { status: 'delivered' });
    t.match(await second.next('message'), { server: true, content: 'pushed' }, 'a push from A reaches the session on B');
    await Promise.all([sender.close(), second.close()]);
  });

  await t.test('a killed node: its room share leaves the counts', async (t) => {
    const onA = await open(a, 'keeper');
    const onC = await open(c, 'goner');
    await join(onA, 'survivors');
    await join(onC, 'survivors');
    const survivors = async () => (await cluster.admin(a, 'GET', '/api/rooms')).body.rooms.find((r: { room: string }) => r.room === 'survivors');
    await eventually(async () => (await survivors())?.clusterMembers === 2);
    await c.stop('SIGKILL');
    const after = await eventually(async () => {
      const room = await survivors();
      return room?.clusterMembers === 1 ? room : undefined;
    }, 40_000);
    t.same(after, { room: 'survivors', localMembers: 1, clusterMembers: 1, nodes: { 'rooms-a': 1 } });
    const nodeRooms = async () =>
      (await Promise.all(cluster.keys.buckets.all().map((b) => redis.scard(cluster.keys.nodeRooms('rooms-c', b))))).reduce((sum, n) => sum + n, 0);
    await eventually(async () => (await nodeRooms()) === 0, 40_000);
    t.pass("the dead node's share was purged from the directory");
    await onA.close();
  });
}
