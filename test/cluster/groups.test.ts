/**
 * Persistent groups across two gateway processes on Redis + PostgreSQL: a group message reaches
 * the members on the other node through the group's room, a membership changed through one node's
 * API reaches the member's session on the other, and messages sent at once from both nodes get
 * the seqs 1..N of one conversation with no gap and no repeat.
 */
import t from 'tap';
import { startCluster } from '../helpers/cluster.ts';
import { TestClient, type Frame } from '../helpers/ws-client.ts';

t.test('groups across two nodes', async (t) => {
  const cluster = await startCluster(t, ['gw-a', 'gw-b']);
  if (!cluster) return;
  const [a, b] = cluster.nodes as [NonNullable<(typeof cluster.nodes)[0]>, NonNullable<(typeof cluster.nodes)[0]>];
  const open = async (node: typeof a, userId: string) => (await TestClient.open(cluster.wsUrl(node, userId))).client;

  const created = await cluster.admin(a, 'POST', '/api/groups', { id: 'party', name: 'Party', members: ['alice', 'bob'] });
  t.equal(created.status, 201, 'created through the API');

  const alice = await open(a, 'alice');
  const bob = await open(b, 'bob');
  const carol = await open(b, 'carol');

  alice.send({ type: 'group', group: 'party', content: 'from a', id: 'm1' });
  t.same(await alice.next('ack'), { type: 'ack', id: 'm1', status: 'stored', conversation: 'group:party', seq: 1 });
  t.match(await bob.next('group'), { group: 'party', seq: 1, from: 'alice', content: 'from a' }, 'the member on the other node');

  const added = await cluster.admin(a, 'PUT', '/api/groups/party/members/carol');
  t.equal(added.status, 200);
  bob.send({ type: 'group', group: 'party', content: 'hi carol', id: 'm2' });
  t.match(await bob.next('ack'), { status: 'stored', seq: 2 });
  t.match(await carol.next('group'), { seq: 2, content: 'hi carol' }, "added through gw-a's API, her session on gw-b follows");
  // (Her login's recovery may also bring her own seq 1, if it read after it was stored.)
  t.match(await alice.next('group', 5000, (f) => f.seq === 2), { seq: 2, from: 'bob' });

  // Both nodes write at once: one conversation, one sequence.
  const perSender = 30;
  for (let i = 0; i < perSender; i++) {
    alice.send({ type: 'group', group: 'party', content: i, id: `a${i}` });
    bob.send({ type: 'group', group: 'party', content: i, id: `b${i}` });
  }
  const acked = async (client: TestClient) => {
    const acks: Frame[] = [];
    while (acks.length < perSender) acks.push(await client.next('ack', 20_000));
    return acks;
  };
  const [aliceAcks, bobAcks] = await Promise.all([acked(alice), acked(bob)]);
  const seqs = [...aliceAcks, ...bobAcks].map((ack) => ack.seq as number).sort((x, y) => x - y);
  t.same(
    seqs,
    Array.from({ length: 2 * perSender }, (_, i) => i + 3),
    'seqs 3..62: no gap, no repeat',
  );
  t.ok(
    aliceAcks.every((ack, i) => i === 0 || (ack.seq as number) > (aliceAcks[i - 1]!.seq as number)),
    "one sender's messages are numbered in the order it sent them",
  );

  carol.send({ type: 'history', conversation: 'group:party', after: 60, id: 'h' });
  t.same(
    ((await carol.next('history')).messages as Frame[]).map((m) => m.seq),
    [61, 62],
    'the history holds them',
  );
  await Promise.all([alice.close(), bob.close(), carol.close()]);
});
