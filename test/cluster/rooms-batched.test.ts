/**
 * Batched room changes across two nodes: after a burst of joins and leaves of one room on node A
 * (coalesced into one flush, pairs cancelled), `joined` still means a push from node B reaches the
 * session, and `left` means node A no longer listens on the room's channel and nothing reaches
 * the session. The directory seen from B agrees once the answers are in.
 */
import t from 'tap';
import { Redis } from 'ioredis';
import { startCluster, type ClusterNode } from '../helpers/cluster.ts';
import { TEST_REDIS_URL } from '../helpers/services.ts';
import { TestClient } from '../helpers/ws-client.ts';

t.test('join/leave races on A, pushes from B', async (t) => {
  const cluster = await startCluster(t, ['batch-a', 'batch-b'], { NODE_DEAD_AFTER_MS: '15000', MAX_ROOM_CHANGES_PER_SEC: '1000' });
  if (!cluster) return;
  const [a, b] = ['batch-a', 'batch-b'].map((id) => cluster.nodes.find((n) => n.nodeId === id)!) as [ClusterNode, ClusterNode];
  const redis = new Redis(TEST_REDIS_URL);
  t.teardown(() => redis.quit());
  const listeners = async (room: string) => Number(((await redis.pubsub('NUMSUB', `${cluster.prefix}gateway:room:${room}`)) as [string, number])[1]);

  const client = await TestClient.connect(cluster.wsUrl(a, 'racer'));
  await client.next('connected', 15_000);
  client.startPing(500);
  const answers = () => client.frames.filter((f) => f.type === 'joined' || f.type === 'left');
  /** Sends the frames at once and waits for all their answers; returns the last one. */
  const burst = async (types: Array<'join' | 'leave'>) => {
    const before = answers().length;
    for (const type of types) client.send({ type, room: 'race' });
    const deadline = Date.now() + 10_000;
    while (answers().length < before + types.length) {
      if (Date.now() > deadline) throw new Error(`answers: ${JSON.stringify(answers())}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    return answers().at(-1);
  };
  const push = async (content: string) => {
    const res = await cluster.admin(b, 'POST', '/api/rooms/race/messages', { content });
    t.equal(res.status, 200);
    t.equal(res.body.localSessions, 0, 'B has no member: the message travels over the bus');
  };

  for (let round = 1; round <= 4; round++) {
    const joins = Array.from({ length: 2 * round + 1 }, (_, i) => (i % 2 === 0 ? 'join' : 'leave')) as Array<'join' | 'leave'>;
    t.same(await burst(joins), { type: 'joined', room: 'race' }, `round ${round}: ${joins.length} frames ending in a join`);
    t.equal(await listeners('race'), 1, 'A listens on the room');
    await push(`in-${round}`);
    t.match(await client.next('room', 5000, (f) => f.content === `in-${round}`), { room: 'race', server: true }, 'a push from B right after joined reaches it');
    const room = await cluster.admin(b, 'GET', '/api/rooms');
    t.match(
      room.body.rooms.find((r: { room: string }) => r.room === 'race'),
      { clusterMembers: 1, nodes: { 'batch-a': 1 } },
      'the directory seen from B',
    );

    t.same(await burst(['leave', 'join', 'leave']), { type: 'left', room: 'race' }, `round ${round}: ending in a leave`);
    t.equal(await listeners('race'), 0, 'A stopped listening once left was sent');
    await push(`out-${round}`);
    await new Promise((resolve) => setTimeout(resolve, 300));
    await client.ping();
    t.same(
      client.frames.filter((f) => f.type === 'room' && f.content === `out-${round}`),
      [],
      'nothing after left',
    );
    const after = await cluster.admin(b, 'GET', '/api/rooms');
    t.notOk(
      after.body.rooms.find((r: { room: string }) => r.room === 'race'),
      'the room left the directory',
    );
  }
  await client.close();
});
