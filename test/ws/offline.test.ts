/**
 * The offline queue end to end, on both backends: messages to an offline user the gateway knows
 * are queued (the sender's ack says so), up to OFFLINE_QUEUE_MAX (more are refused with
 * QUOTA_EXCEEDED, nothing evicted), replayed in order before anything live, marked offline;
 * stored copies leave only with the client's (cumulative) ack, so a disconnect mid-replay loses
 * nothing and nothing acked comes twice; entries expire; the queue can be off. The hostile side
 * (unknown ids, quotas, the server lane, the cluster cap) is in offline-abuse.test.ts.
 */
import t from 'tap';
import { buildTestApp, eventually, TEST_ADMIN_TOKEN, type Backend, type TestApp } from '../helpers/build.ts';
import { TestClient, type Frame } from '../helpers/ws-client.ts';
import { call } from '../api/http.ts';

const url = (h: TestApp, userId: string) => `${h.wsUrl}/ws?token=${h.token(userId)}`;
/** Users who logged in once (a user row): only they get an offline queue. */
const known = (h: TestApp, ...userIds: string[]) => h.app.players.recordLogins(userIds.map((userId) => ({ userId, username: userId, loginAt: Date.now() })));
/** The answer to client frame `id`: its ack or its error. */
const answer = (client: TestClient, id: string) =>
  Promise.race([client.next('ack', 5000, (f) => f.id === id).catch(() => undefined), client.next('error', 5000, (f) => f.ref === id).catch(() => undefined)]);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Connects and collects `count` offline frames (they come right after `connected`). */
async function replayed(h: TestApp, userId: string, count: number): Promise<{ client: TestClient; frames: Frame[] }> {
  const { client } = await TestClient.open(url(h, userId));
  const frames: Frame[] = [];
  for (let i = 0; i < count; i++) frames.push(await client.next('message', 5000, (f) => f.offline === true));
  return { client, frames };
}

/** Offline frames received by a client besides those already taken (after a ping barrier). */
async function moreOffline(client: TestClient): Promise<Frame[]> {
  await client.ping();
  return client.frames.filter((f) => f.type === 'message' && f.offline === true);
}

for (const backend of ['embedded', 'real'] as Backend[]) {
  t.test(`offline queue (${backend})`, async (t) => {
    // The sender quota is not what this file is about (offline-abuse.test.ts is).
    const h = await buildTestApp(t, backend, { MAX_MESSAGES_PER_SEC: '1000', HEARTBEAT_TIMEOUT_MS: '60000', OFFLINE_QUEUE_SENDER_MAX: '100000' });
    if (!h) return;
    await known(h, 'olivia', 'pablo', 'quinn', 'rita');
    const { client: sender } = await TestClient.open(url(h, 'sender'));
    t.teardown(() => sender.close());

    /** Sends `n` messages to `to` and waits for every answer (ack or error); returns them. */
    const sendMany = async (to: string, from: number, n: number) => {
      for (let i = from; i < from + n; i++) sender.send({ type: 'message', to: to, content: { n: i }, id: `c${i}` });
      const answers: Array<Frame | undefined> = [];
      for (let i = from; i < from + n; i++) answers.push(await answer(sender, `c${i}`));
      return answers;
    };

    await t.test('150 messages to an offline user: the first 100 queued and replayed in order, the rest refused, then acked away', async (t) => {
      const answers = await sendMany('olivia', 1, 150);
      t.ok(
        answers.slice(0, 100).every((a) => a?.type === 'ack' && a.status === 'queued'),
        'the first 100 acks say queued',
      );
      t.ok(
        answers.slice(100).every((a) => a?.type === 'error' && a.code === 'QUOTA_EXCEEDED' && String(a.error).startsWith('recipient:')),
        'the other 50: QUOTA_EXCEEDED recipient (nothing queued was evicted)',
      );
      t.equal(await h.app.offlineQueue.length('olivia'), 100);
      const { client, frames } = await replayed(h, 'olivia', 100);
      t.same(
        frames.map((f) => (f.content as { n: number }).n),
        Array.from({ length: 100 }, (_, i) => 1 + i),
        'messages 1..100, in order',
      );
      t.match(frames[0], { type: 'message', from: 'sender', offline: true, id: String, ts: Number });
      t.same(await moreOffline(client), [], 'each once');
      client.send({ type: 'ack', id: frames[99]!.id });
      await client.ping();
      await t.resolves(async () => {
        for (let i = 0; i < 100 && (await h.app.offlineQueue.length('olivia')) > 0; i++) await sleep(10);
      });
      t.equal(await h.app.offlineQueue.length('olivia'), 0, 'one cumulative ack cleared the queue');
      // Online now: live messages are delivered, not queued.
      sender.send({ type: 'message', to: 'olivia', content: 'live', id: 'live-1' });
      t.same(await sender.next('ack', 5000, (f) => f.id === 'live-1'), { type: 'ack', id: 'live-1', status: 'delivered' });
      const live = await client.next('message', 5000, (f) => f.content === 'live');
      t.notOk('offline' in live, 'a live message is not marked offline');
      await client.close();
      const again = await TestClient.open(url(h, 'olivia'));
      t.same(await moreOffline(again.client), [], 'nothing replayed after the acks');
      await again.client.close();
    });

    await t.test('a disconnect mid-replay loses nothing; nothing acked comes twice', async (t) => {
      await sendMany('pablo', 1, 30);
      const first = await replayed(h, 'pablo', 30);
      first.client.send({ type: 'ack', id: first.frames[9]!.id }); // processed 1..10 only
      await first.client.ping();
      await first.client.terminate(); // vanished mid-replay
      const second = await replayed(h, 'pablo', 20);
      t.same(
        second.frames.map((f) => (f.content as { n: number }).n),
        Array.from({ length: 20 }, (_, i) => 11 + i),
        '11..30: the unacked rest, in order',
      );
      t.same(
        second.frames.map((f) => f.id),
        first.frames.slice(10).map((f) => f.id),
        'same server ids as before',
      );
      t.same(await moreOffline(second.client), [], 'none of 1..10 again');
      // Acks one by one, then a stale ack of an already removed message changes nothing.
      for (const f of second.frames.slice(0, 5)) second.client.send({ type: 'ack', id: f.id });
      second.client.send({ type: 'ack', id: first.frames[3]!.id });
      second.client.send({ type: 'ack', id: 'not-a-real-id' });
      await second.client.ping();
      await second.client.close();
      const third = await replayed(h, 'pablo', 15);
      t.same(
        third.frames.map((f) => (f.content as { n: number }).n),
        Array.from({ length: 15 }, (_, i) => 16 + i),
        '16..30',
      );
      third.client.send({ type: 'ack', id: third.frames[14]!.id });
      await third.client.ping();
      await third.client.close();
      const fourth = await TestClient.open(url(h, 'pablo'));
      t.same(await moreOffline(fourth.client), [], 'all acked: nothing more');
      t.notOk(
        fourth.client.frames.some((f) => f.type === 'error'),
        'acks never answer with errors',
      );
      await fourth.client.close();
    });

    await t.test('live traffic arriving with the replay comes after it', async (t) => {
      await sendMany('quinn', 1, 40);
      // Upgraded but not logged in yet: live pushes now race the login and the replay.
      const client = await TestClient.connect(url(h, 'quinn'));
      const live = Array.from({ length: 5 }, (_, i) =>
        call(h, 'POST', '/api/users/quinn/messages', { token: TEST_ADMIN_TOKEN, body: { content: { live: i } } }),
      );
      const answers = await Promise.all(live);
      await eventually(() => client.frames.some((f) => f.type === 'connected'));
      const queued = answers.filter((a) => a.body.status === 'queued').length;
      await client.ping();
      // client.frames keeps every frame in arrival order (only the pong was taken out).
      const order = client.frames.map((f) => (f.type === 'message' ? (f.offline ? 'offline' : 'live') : f.type));
      const messages = client.frames.filter((f) => f.type === 'message');
      const firstLive = messages.findIndex((f) => !f.offline);
      const lastOffline = messages.map((f) => Boolean(f.offline)).lastIndexOf(true);
      t.equal(messages.length, 45, 'every message once');
      t.equal(messages.filter((f) => f.offline).length, 40 + queued, `the whole replay (40 + ${queued} pushes that found quinn still offline)`);
      t.ok(
        firstLive === -1 || firstLive > lastOffline,
        `no live message before the end of the replay (first live at ${firstLive}, last offline at ${lastOffline})`,
      );
      t.equal(order[0], 'connected', 'connected first');
      t.equal(order[1], 'offline', 'then the replay');
      t.ok(order.lastIndexOf('offline') < (order.indexOf('live') === -1 ? Infinity : order.indexOf('live')), 'then live messages');
      t.comment(`${5 - queued} of the 5 live pushes were held behind the replay`);
      await client.close();
    });

    await t.test('server pushes to an offline user are queued and replayed as server messages', async (t) => {
      const queued = await call<{ id: string; status: string }>(h, 'POST', '/api/users/rita/messages', {
        token: TEST_ADMIN_TOKEN,
        body: { content: { gift: 1 } },
      });
      t.equal(queued.status, 200);
      t.equal(queued.body.status, 'queued');
      const { client, frames } = await replayed(h, 'rita', 1);
      t.same(frames[0], { type: 'message', server: true, content: { gift: 1 }, id: queued.body.id, ts: frames[0]!.ts, offline: true });
      const delivered = await call<{ id: string; status: string }>(h, 'POST', '/api/users/rita/messages', {
        token: TEST_ADMIN_TOKEN,
        body: { content: { gift: 2 } },
      });
      t.equal(delivered.body.status, 'delivered');
      const live = await client.next('message', 5000, (f) => f.id === delivered.body.id);
      t.same(live, { type: 'message', server: true, content: { gift: 2 }, id: delivered.body.id, ts: live.ts }, 'live: not marked offline');
      await client.close();
    });
  });
}

t.test('queued messages expire after OFFLINE_QUEUE_TTL_S (real Redis TTL)', async (t) => {
  const h = await buildTestApp(t, 'real', { OFFLINE_QUEUE_TTL_S: '1' });
  if (!h) return;
  await known(h, 'sam');
  const { client: sender } = await TestClient.open(url(h, 'sender'));
  sender.send({ type: 'message', to: 'sam', content: 'old', id: 'a' });
  t.match(await sender.next('ack'), { status: 'queued' });
  await sleep(1100);
  sender.send({ type: 'message', to: 'sam', content: 'fresh', id: 'b' });
  t.match(await sender.next('ack'), { status: 'queued' });
  const { client } = await TestClient.open(url(h, 'sam'));
  const frame = await client.next('message');
  t.equal(frame.content, 'fresh', 'the expired message is not replayed');
  t.same(await moreOffline(client), []);
  await client.close();
  await sleep(1100);
  t.equal(await h.app.offlineQueue.length('sam'), 0, 'the Redis key expired with its newest entry');
  await sender.close();
});

t.test('OFFLINE_QUEUE_MAX=0: USER_OFFLINE and 409 instead of queueing', async (t) => {
  const h = (await buildTestApp(t, 'embedded', { OFFLINE_QUEUE_MAX: '0' }))!;
  const { client: sender } = await TestClient.open(url(h, 'sender'));
  sender.send({ type: 'message', to: 'nobody', content: 1, id: 'x' });
  t.match(await sender.next('error'), { code: 'USER_OFFLINE', ref: 'x' });
  const res = await call(h, 'POST', '/api/users/nobody/messages', { token: TEST_ADMIN_TOKEN, body: { content: 1 } });
  t.equal(res.status, 409);
  t.match(res.body, { code: 'GW_USER_OFFLINE' });
  await sender.close();
});
