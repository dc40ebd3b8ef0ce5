/**
 * Acks tell the truth, with real sockets. A third party flooding a slow player (who stops
 * reading: its send queue fills) gets `delivered` exactly for the messages the player received
 * and `dropped` for every other one; a message to oneself with no other session is not
 * `delivered` and not queued; the admin push answers the same. Across two nodes (Redis, both in
 * this process): `delivered` and `dropped` come from the owning node's receipts, and a node that
 * never answers makes the ack `unconfirmed` after DELIVERY_RECEIPT_TIMEOUT_MS.
 */
import t, { type Test } from 'tap';
import { buildTestApp, eventually, TEST_ADMIN_TOKEN, type TestApp } from '../helpers/build.ts';
import { TestClient, tcpOf as tcp, type Frame } from '../helpers/ws-client.ts';

const ENV = {
  SEND_QUEUE_MAX: '8',
  SEND_QUEUE_MAX_BYTES: '131072',
  MAX_CONTENT_BYTES: '60000',
  MAX_MESSAGES_PER_SEC: '100000',
  // The flood must reach the victim's send queue: the sender's inbound budget would refuse most of it unread.
  MAX_INBOUND_BYTES_PER_SEC: '1073741824',
  HEARTBEAT_TIMEOUT_MS: '60000',
  WS_PING_INTERVAL_MS: '600000',
  WRITE_TIMEOUT_MS: '600000',
};

const open = async (h: TestApp, userId: string) => {
  const { client } = await TestClient.open(`${h.wsUrl}/ws?token=${h.token(userId)}`);
  // Its login's replay is over (the stored-message recovery read included): frames go to its send queue.
  await eventually(() => h.app.gateway.replay.gated === 0, 20_000);
  return client;
};

const messagesOf = (client: TestClient) => client.frames.filter((f) => f.type === 'message' && !f.echo);

/**
 * `sender` floods `victim` (whose socket does not read) with big messages; returns the acks by
 * status once every message is acked, then lets the victim read and waits for what it got.
 */
async function flood(t: Test, sender: TestClient, victim: TestClient, to: string, total: number) {
  tcp(victim).pause(); // the kernel buffers fill, then ws's, then the session's send queue
  const pad = 'p'.repeat(50_000);
  for (let i = 0; i < total; i++) sender.send({ type: 'message', to, content: { seq: i, pad }, id: `f${i}` });
  const acks: Frame[] = [];
  for (let i = 0; i < total; i++) acks.push(await sender.next('ack', 15_000, (f) => f.id === `f${i}`));
  const delivered = acks.filter((a) => a.status === 'delivered');
  const dropped = acks.filter((a) => a.status === 'dropped');
  const others = acks.filter((a) => a.status !== 'delivered' && a.status !== 'dropped').map((a) => a.status);
  t.same(others, [], `every ack is delivered or dropped (${delivered.length} delivered, ${dropped.length} dropped)`);
  t.ok(dropped.length > 0, 'the victim dropped some');
  t.ok(
    dropped.every((a) => a.sessions === 0 && a.dropped === 1),
    'each drop says: 0 sessions took it, 1 refused it',
  );
  t.ok(
    delivered.every((a) => a.sessions === undefined && a.dropped === undefined),
    'a clean delivery keeps the short ack',
  );
  tcp(victim).resume();
  await eventually(() => messagesOf(victim).length >= delivered.length, 20_000);
  await victim.ping(10_000); // nothing more is on its way
  const got = messagesOf(victim).map((f) => `f${(f.content as { seq: number }).seq}`);
  t.equal(got.length, delivered.length, '#delivered acks == #messages the victim received');
  t.same(
    got,
    delivered.map((a) => a.id),
    'exactly the acked-delivered ones, in order',
  );
}

t.test('one node (embedded)', async (t) => {
  const h = (await buildTestApp(t, 'embedded', { ...ENV, SESSION_POLICY: 'multi' }))!;

  await t.test('a flood on a slow player: delivered only for what it received, dropped otherwise', async (t) => {
    const attacker = await open(h, 'attacker');
    const victim = await open(h, 'victim');
    await flood(t, attacker, victim, 'victim', 200);
    await Promise.all([attacker.close(), victim.close()]);
  });

  await t.test('a message to oneself: delivered to one other session, dropped without one (and not queued)', async (t) => {
    const solo = await open(h, 'solo');
    solo.send({ type: 'message', to: 'solo', content: 'note', id: 's1' });
    t.same(await solo.next('ack', 5000, (f) => f.id === 's1'), { type: 'ack', id: 's1', status: 'dropped' });
    const tablet = await open(h, 'solo');
    t.same(messagesOf(tablet), [], 'the dropped note was not queued for the next session');
    solo.send({ type: 'message', to: 'solo', content: 'note 2', id: 's2' });
    t.same(await solo.next('ack', 5000, (f) => f.id === 's2'), { type: 'ack', id: 's2', status: 'delivered' });
    t.match(await tablet.next('message'), { from: 'solo', content: 'note 2' });
    await Promise.all([solo.close(), tablet.close()]);
  });

  await t.test('admin push to a player whose queue is full: dropped, with the counts', async (t) => {
    const stuck = await open(h, 'stuck');
    tcp(stuck).pause();
    const pad = 'q'.repeat(50_000);
    const push = () =>
      fetch(`${h.baseUrl}/api/users/stuck/messages`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ content: pad }),
      }).then(async (r) => ({ status: r.status, body: (await r.json()) as Record<string, unknown> }));
    const answers: Array<Record<string, unknown>> = [];
    for (let i = 0; i < 500 && !answers.some((a) => a.status === 'dropped'); i++) answers.push((await push()).body);
    t.match(answers[0], { status: 'delivered', sessions: 1, dropped: 0 }, 'taken while the queue had room');
    t.match(answers.at(-1), { status: 'dropped', sessions: 0, dropped: 1 }, 'refused once it was full');
    tcp(stuck).resume();
    await stuck.close();
  });

  await t.test('rooms: dropped when no other member took it', async (t) => {
    const alone = await open(h, 'alone');
    alone.send({ type: 'join', room: 'empty-room' });
    await alone.next('joined');
    alone.send({ type: 'room', room: 'empty-room', content: 'anyone?', id: 'r1' });
    t.same(await alone.next('ack', 5000, (f) => f.id === 'r1'), { type: 'ack', id: 'r1', status: 'dropped' }, 'the only member');
    const friend = await open(h, 'friend');
    friend.send({ type: 'join', room: 'empty-room' });
    await friend.next('joined');
    alone.send({ type: 'room', room: 'empty-room', content: 'hi', id: 'r2' });
    t.same(await alone.next('ack', 5000, (f) => f.id === 'r2'), { type: 'ack', id: 'r2', status: 'delivered' });
    await Promise.all([alone.close(), friend.close()]);
  });
});

t.test('two nodes on Redis', async (t) => {
  // A receipt timeout a flood of 7 MB through Redis on a busy test machine stays well within.
  const RECEIPT_TIMEOUT_MS = 3000;
  const a = await buildTestApp(t, 'real', { ...ENV, DELIVERY_RECEIPT_TIMEOUT_MS: String(RECEIPT_TIMEOUT_MS) });
  if (!a) return;
  // Same Redis prefix and database schema: one cluster of two nodes in this process.
  const b = (await buildTestApp(t, 'real', { ...ENV, REDIS_KEY_PREFIX: a.config.REDIS_KEY_PREFIX, DATABASE_SCHEMA: a.config.DATABASE_SCHEMA! }))!;

  await t.test('a recipient on the other node: delivered on its receipt', async (t) => {
    const sender = await open(a, 'x-sender');
    const friend = await open(b, 'x-friend');
    const before = { sent: b.app.gateway.receiptBatcher.sent, received: a.app.gateway.receipts.received };
    sender.send({ type: 'message', to: 'x-friend', content: 'hello across', id: 'x1' });
    t.same(await sender.next('ack', 5000, (f) => f.id === 'x1'), { type: 'ack', id: 'x1', status: 'delivered' });
    t.match(await friend.next('message'), { from: 'x-sender', content: 'hello across' });
    t.equal(a.app.gateway.receipts.received - before.received, 1, 'the sender node got a receipt');
    t.equal(b.app.gateway.receiptBatcher.sent - before.sent, 1, 'the owning node sent it');
    await Promise.all([sender.close(), friend.close()]);
  });

  await t.test('a flood on a slow player on the other node: the receipts say dropped', async (t) => {
    const attacker = await open(a, 'x-attacker');
    const victim = await open(b, 'x-victim');
    const before = b.app.gateway.receiptBatcher.sent;
    await flood(t, attacker, victim, 'x-victim', 150);
    const batches = b.app.gateway.receiptBatcher.sent - before;
    t.ok(batches <= 150, `150 receipts in ${batches} bus messages (batched per turn)`);
    await Promise.all([attacker.close(), victim.close()]);
  });

  await t.test('an owning node that never answers: unconfirmed after the receipt timeout', async (t) => {
    const sender = await open(a, 'x-sender2');
    const quiet = await open(b, 'x-quiet');
    // Node B receives and delivers, but sends no receipt (as a frozen node or an older version).
    const batcher = b.app.gateway.receiptBatcher;
    const add = batcher.add;
    batcher.add = () => {};
    t.teardown(() => {
      batcher.add = add;
    });
    const started = Date.now();
    sender.send({ type: 'message', to: 'x-quiet', content: 'are you there?', id: 'q1' });
    t.same(await sender.next('ack', RECEIPT_TIMEOUT_MS + 5000, (f) => f.id === 'q1'), { type: 'ack', id: 'q1', status: 'unconfirmed' });
    t.ok(Date.now() - started >= RECEIPT_TIMEOUT_MS - 50, 'after the receipt timeout');
    t.match(await quiet.next('message'), { content: 'are you there?' }, 'it may well have arrived: unconfirmed, not dropped');
    batcher.add = add;
    sender.send({ type: 'message', to: 'x-quiet', content: 'again', id: 'q2' });
    t.same(await sender.next('ack', 5000, (f) => f.id === 'q2'), { type: 'ack', id: 'q2', status: 'delivered' }, 'answering again: delivered');
    await Promise.all([sender.close(), quiet.close()]);
  });

  await t.test('admin push to a player on the other node: the same truthful answer', async (t) => {
    const far = await open(b, 'x-far');
    const res = await fetch(`${a.baseUrl}/api/users/x-far/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ content: 'gift' }),
    });
    t.match(await res.json(), { status: 'delivered', sessions: 1, dropped: 0 });
    t.match(await far.next('message'), { server: true, content: 'gift' });
    await far.close();
  });
});
