/**
 * Stored chat survives kill -9 (issue 20): a sender on one node streams direct messages
 * (numbered on Redis, delivered, stored behind) and group messages (stored, then fanned out) to a
 * recipient on another node; the recipient's node is killed -9 mid-stream, then the sender's.
 * Every message whose ack said `delivered` or `stored` is in the history under the seq of its
 * ack, exactly once, and the recipient's next login, on a fresh node, recovers every one of them
 * in seq order. A message without an ack may be missing (its node died before it was durable).
 */
import t from 'tap';
import { eventually } from '../helpers/build.ts';
import { startCluster } from '../helpers/cluster.ts';
import { TestClient, type Frame } from '../helpers/ws-client.ts';

const DM = 'dm:rita:sam';
const GROUP = 'group:crew';

t.test('kill -9 of the recipient node, then of the sender node: no acked message lost', async (t) => {
  const cluster = await startCluster(t, ['gw-sender', 'gw-recipient'], {
    MESSAGE_PERSISTENCE: 'true',
    NODE_DEAD_AFTER_MS: '2000',
    DELIVERY_RECEIPT_TIMEOUT_MS: '500',
    HEARTBEAT_TIMEOUT_MS: '60000',
  });
  if (!cluster) return;
  const [senderNode, recipientNode] = cluster.nodes as [(typeof cluster.nodes)[0], (typeof cluster.nodes)[0]];
  const open = async (node: typeof senderNode, userId: string) => (await TestClient.open(cluster.wsUrl(node!, userId))).client;
  t.equal((await cluster.admin(senderNode!, 'POST', '/api/groups', { id: 'crew', name: 'Crew', members: ['sam', 'rita'] })).status, 201);

  const rita = await open(recipientNode, 'rita');
  const sam = await open(senderNode, 'sam');
  let n = 0;
  let senderGone = false;
  void sam.closed.then(() => (senderGone = true));
  /** Sends one direct and one group message every 10 ms until `until` says stop; their ids are their contents. */
  const stream = async (until: () => boolean) => {
    while (!until() && !senderGone) {
      sam.send({ type: 'message', to: 'rita', content: `d${n}`, id: `d${n}` });
      sam.send({ type: 'group', group: 'crew', content: `g${n}`, id: `g${n}` });
      n++;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  };
  const acked = () => sam.frames.filter((f) => f.type === 'ack');

  await stream(() => n >= 40);
  await eventually(() => rita.frames.some((f) => f.content === 'd39'), 10_000);
  recipientNode!.child.kill('SIGKILL');
  await stream(() => n >= 80);
  await eventually(() => ['d79', 'g79'].every((id) => acked().some((f) => f.id === id)), 20_000);
  // The sender's node dies with messages in flight: those get no ack.
  void stream(() => n >= 120);
  await new Promise((resolve) => setTimeout(resolve, 150));
  senderNode!.child.kill('SIGKILL');
  await sam.closed;

  const acks = acked();
  t.ok(acks.length >= 160, `${acks.length} acks before the sender's node died`);
  t.ok(
    acks.every((ack) => ack.status === 'delivered' || ack.status === 'stored'),
    'every ack says delivered or stored',
  );
  const survivor = await cluster.addNode('gw-survivor');
  const history = async (conversation: string) => {
    const res = await cluster.admin(survivor, 'GET', `/api/conversations/${encodeURIComponent(conversation)}/messages?after=0&limit=100`);
    const page: Frame[] = res.body.messages;
    if (page.length < 100) return page;
    const more = await cluster.admin(survivor, 'GET', `/api/conversations/${encodeURIComponent(conversation)}/messages?after=${page.at(-1)!.seq}&limit=100`);
    return [...page, ...(more.body.messages as Frame[])];
  };
  for (const [conversation, prefix] of [
    [DM, 'd'],
    [GROUP, 'g'],
  ] as const) {
    const stored = await history(conversation);
    const contents = stored.map((m) => m.content as string);
    t.equal(new Set(contents).size, contents.length, `${conversation}: no message stored twice`);
    const seqOf = new Map(stored.map((m) => [m.content as string, m.seq as number]));
    const mine = acks.filter((ack) => (ack.id as string).startsWith(prefix));
    t.same(
      mine.filter((ack) => seqOf.get(ack.id as string) !== ack.seq).map((ack) => ack.id),
      [],
      `${conversation}: every acked message (${mine.length}) is stored under the seq of its ack`,
    );
  }

  // Rita comes back on the surviving node: everything acked, in seq order, per conversation.
  const back = await open(survivor, 'rita');
  await eventually(() => back.frames.some((f) => f.type === 'recovered'), 10_000);
  const recovered = back.frames.slice(
    0,
    back.frames.findIndex((f) => f.type === 'recovered'),
  );
  for (const conversation of [DM, GROUP]) {
    const seqs = recovered.filter((f) => f.conversation === conversation).map((f) => f.seq as number);
    t.ok(
      seqs.every((seq, i) => i === 0 || seq > seqs[i - 1]!),
      `${conversation}: recovered in seq order (${seqs.length})`,
    );
  }
  const got = new Set(recovered.map((f) => f.content as string));
  t.same(
    acks.filter((ack) => !got.has(ack.id as string)).map((ack) => ack.id),
    [],
    'every acked message recovered at the next login',
  );
  await back.close();
});
