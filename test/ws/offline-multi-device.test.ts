/**
 * SESSION_POLICY=multi on one node, both backends: a direct message reaches every session of the
 * recipient exactly once; the sender's other sessions get an echo (`echo: true`, `to`); offline
 * replays reach each device, and what one device acked is not replayed to the next.
 */
import t from 'tap';
import { buildTestApp, eventually, type Backend, type TestApp } from '../helpers/build.ts';
import { TestClient, type Frame } from '../helpers/ws-client.ts';

const open = async (h: TestApp, userId: string) => (await TestClient.open(`${h.wsUrl}/ws?token=${h.token(userId)}`)).client;

/** The next `n` offline frames, in order (one waiter at a time: a frame satisfies every waiter). */
async function offlineFrames(client: TestClient, n: number): Promise<Frame[]> {
  const frames: Frame[] = [];
  for (let i = 0; i < n; i++) frames.push(await client.next('message', 5000, (f) => f.offline === true));
  return frames;
}

async function settledMessages(client: TestClient): Promise<Frame[]> {
  await client.ping();
  return client.frames.filter((f) => f.type === 'message');
}

for (const backend of ['embedded', 'real'] as Backend[]) {
  t.test(`multi-device (${backend})`, async (t) => {
    const h = await buildTestApp(t, backend, { SESSION_POLICY: 'multi', MAX_SESSIONS_PER_USER: '5', HEARTBEAT_TIMEOUT_MS: '60000' });
    if (!h) return;
    // gus logged in before (a user row): only known users get an offline queue.
    await h.app.players.recordLogins([{ userId: 'gus', username: 'gus', loginAt: Date.now() }]);

    await t.test("every session of the recipient once; echo to the sender's other sessions", async (t) => {
      const [phone, laptop, tablet] = [await open(h, 'dana'), await open(h, 'dana'), await open(h, 'dana')];
      const [eliDesk, eliPhone] = [await open(h, 'eli'), await open(h, 'eli')];
      eliDesk.send({ type: 'message', to: 'dana', content: 'hi dana', id: 'd1' });
      t.same(await eliDesk.next('ack'), { type: 'ack', id: 'd1', status: 'delivered' });
      const got = await Promise.all([phone, laptop, tablet].map((c) => c.next('message')));
      for (const frame of got) t.match(frame, { type: 'message', from: 'eli', content: 'hi dana', id: got[0]!.id });
      t.notOk('echo' in got[0]!, 'the recipient gets no echo flag');
      const echo = await eliPhone.next('message');
      t.same(echo, { type: 'message', from: 'eli', to: 'dana', content: 'hi dana', id: got[0]!.id, ts: got[0]!.ts, echo: true }, 'echo: same id, with to');
      for (const c of [phone, laptop, tablet, eliPhone]) t.same(await settledMessages(c), [], 'exactly once');
      t.same(await settledMessages(eliDesk), [], 'the sending session gets only its ack');

      // A message to oneself reaches the other sessions as a plain message, no echo on top.
      phone.send({ type: 'message', to: 'dana', content: 'note to self', id: 'self' });
      await phone.next('ack');
      for (const c of [laptop, tablet]) t.match(await c.next('message'), { from: 'dana', content: 'note to self' });
      for (const c of [laptop, tablet, phone]) t.same(await settledMessages(c), [], 'once, and not back to the sending session');
      await Promise.all([phone, laptop, tablet, eliDesk, eliPhone].map((c) => c.close()));
    });

    await t.test('offline replay per device: acked by one, not replayed to the next', async (t) => {
      const sender = await open(h, 'fay');
      for (let i = 0; i < 5; i++) sender.send({ type: 'message', to: 'gus', content: i, id: `g${i}` });
      for (let i = 0; i < 5; i++) t.match(await sender.next('ack', 5000, (f) => f.id === `g${i}`), { status: 'queued' });
      const first = await open(h, 'gus');
      const replay = await offlineFrames(first, 5);
      t.same(
        replay.map((f) => f.content),
        [0, 1, 2, 3, 4],
      );
      first.send({ type: 'ack', id: replay[4]!.id });
      await first.ping();
      await eventually(async () => (await h.app.offlineQueue.length('gus')) === 0);
      const second = await open(h, 'gus');
      t.same(await settledMessages(second), [], 'the second device replays nothing');
      // Live messages while online reach both devices (and are not queued).
      sender.send({ type: 'message', to: 'gus', content: 'live', id: 'glive' });
      t.match(await sender.next('ack', 5000, (f) => f.id === 'glive'), { status: 'delivered' });
      for (const c of [first, second]) t.match(await c.next('message', 5000, (f) => f.content === 'live'), { from: 'fay' });
      await Promise.all([first.close(), second.close()]);

      // Queued again while both are gone; device 1 does not ack, so device 2 gets them too.
      await eventually(() => h.app.gateway.connections.countOf('gus') === 0, 15_000);
      for (let i = 5; i < 8; i++) sender.send({ type: 'message', to: 'gus', content: i, id: `g${i}` });
      for (let i = 5; i < 8; i++) t.match(await sender.next('ack', 5000, (f) => f.id === `g${i}`), { status: 'queued' });
      const third = await open(h, 'gus');
      const unacked = await offlineFrames(third, 3);
      const fourth = await open(h, 'gus');
      const again = await offlineFrames(fourth, 3);
      t.same(
        again.map((f) => f.id),
        unacked.map((f) => f.id),
        'unacked: replayed to the next device too',
      );
      fourth.send({ type: 'ack', id: again[2]!.id });
      await fourth.ping();
      await eventually(async () => (await h.app.offlineQueue.length('gus')) === 0);
      const fifth = await open(h, 'gus');
      t.same(await settledMessages(fifth), [], 'acked by one device: gone for all');
      t.same(await settledMessages(third), [], 'no duplicate on a device that already had them');
      await Promise.all([third.close(), fourth.close(), fifth.close(), sender.close()]);
    });
  });
}
