/**
 * Stored direct messages and recovery at login, on both backends, with MESSAGE_PERSISTENCE on:
 * a direct message carries its conversation and seq and is acked `delivered` or `stored` (never
 * queued), a recipient who was offline gets everything they missed right after `connected`, in
 * order, then `recovered`; `received` positions stop the resend; a group's new member is not sent
 * its past; the recovery's bound names what is left; unknown recipients store nothing. With
 * Redis, a direct message is delivered before its row is written, and acked after.
 */
import t from 'tap';
import { buildTestApp, eventually, TEST_ADMIN_TOKEN, type Backend, type TestApp } from '../helpers/build.ts';
import { TestClient, type Frame } from '../helpers/ws-client.ts';
import { connectPostgres } from '../helpers/services.ts';

const open = async (h: TestApp, userId: string) => (await TestClient.open(`${h.wsUrl}/ws?token=${h.token(userId)}`)).client;

/** The frames that arrived after `connected` (consumed by `open`) up to `recovered` (which must come), taken off the client. */
async function recovery(client: TestClient): Promise<{ frames: Frame[]; recovered: Frame }> {
  await eventually(() => client.frames.some((f) => f.type === 'recovered'), 10_000);
  const at = client.frames.findIndex((f) => f.type === 'recovered');
  const recovered = client.frames.splice(at, 1)[0]!;
  return { frames: client.frames.splice(0, at), recovered };
}

for (const backend of ['embedded', 'real'] as Backend[]) {
  t.test(`stored direct messages and recovery (${backend})`, async (t) => {
    const h = await buildTestApp(t, backend, { MESSAGE_PERSISTENCE: 'true', RECOVERY_MAX_MESSAGES: '5', HEARTBEAT_TIMEOUT_MS: '60000' });
    if (!h) return;
    const known = await open(h, 'bob'); // bob has logged in once: he is known
    await known.close();

    await t.test('a message carries its seq; an offline recipient recovers everything in order at login', async (t) => {
      const alice = await open(h, 'alice');
      const bob = await open(h, 'bob');
      alice.send({ type: 'message', to: 'bob', content: 'live', id: 'm1' });
      t.same(await alice.next('ack'), { type: 'ack', id: 'm1', status: 'delivered', conversation: 'dm:alice:bob', seq: 1 });
      t.match(await bob.next('message'), { from: 'alice', content: 'live', conversation: 'dm:alice:bob', seq: 1 });
      await bob.close();
      await eventually(async () => (await h.app.presence.getPlayer('bob'))?.status !== 'online');

      for (const n of [2, 3]) {
        alice.send({ type: 'message', to: 'bob', content: `while away ${n}`, id: `m${n}` });
        t.same(await alice.next('ack', 5000, (f) => f.id === `m${n}`), { type: 'ack', id: `m${n}`, status: 'stored', conversation: 'dm:alice:bob', seq: n });
      }
      const back = await open(h, 'bob');
      const { frames, recovered } = await recovery(back);
      t.same(
        frames.map((f) => [f.type, f.seq, f.content]),
        [
          ['message', 1, 'live'],
          ['message', 2, 'while away 2'],
          ['message', 3, 'while away 3'],
        ],
        'nothing was received-acknowledged: from the start, in order, before anything else',
      );
      t.same(recovered, { type: 'recovered', messages: 3 });
      t.notOk(
        frames.some((f) => f.offline),
        'not the offline queue',
      );

      back.send({ type: 'received', conversation: 'dm:alice:bob', seq: 3 });
      await back.ping();
      await back.close();
      await eventually(async () => !(await h.app.conversationPositions.missed(['bob'], 10)).has('bob'), 5000);
      const again = await open(h, 'bob');
      await again.ping();
      t.notOk(
        again.frames.some((f) => f.type === 'recovered' || f.type === 'message'),
        'nothing recovered once received',
      );

      alice.send({ type: 'message', to: 'bob', content: 'and now', id: 'm4' });
      t.match(await again.next('message'), { seq: 4 });
      const aliceAgain = await open(h, 'alice');
      const own = await recovery(aliceAgain);
      t.match(own.frames[0], { type: 'message', from: 'alice', to: 'bob', echo: true, seq: 1 }, 'the sender recovers her own messages as echoes');
      await Promise.all([alice.close(), again.close(), aliceAgain.close()]);
    });

    await t.test('groups: an offline member recovers; a new member is not sent the past', async (t) => {
      await h.app.groups.create({ id: 'clan', name: 'Clan', members: ['carol', 'dave'] });
      const carol = await open(h, 'carol');
      for (let i = 1; i <= 2; i++) {
        carol.send({ type: 'group', group: 'clan', content: i, id: `g${i}` });
        t.match(await carol.next('ack', 5000, (f) => f.id === `g${i}`), { status: 'stored', seq: i });
      }
      const dave = await open(h, 'dave');
      const missed = await recovery(dave);
      t.same(
        missed.frames.map((f) => [f.type, f.group, f.seq, f.from]),
        [
          ['group', 'clan', 1, 'carol'],
          ['group', 'clan', 2, 'carol'],
        ],
      );
      t.equal(
        await h.app
          .inject({ method: 'PUT', url: '/api/groups/clan/members/erin', headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` } })
          .then((r) => r.statusCode),
        200,
      );
      const erin = await open(h, 'erin');
      await erin.ping();
      t.notOk(
        erin.frames.some((f) => f.type === 'group' || f.type === 'recovered'),
        "the group's past is in its history, not in a new member's recovery",
      );
      await Promise.all([carol.close(), dave.close(), erin.close()]);
    });

    await t.test('the recovery bound: the rest is named in `more`', async (t) => {
      const frank = await open(h, 'frank');
      await frank.close();
      const gina = await open(h, 'gina');
      for (let i = 1; i <= 7; i++) gina.send({ type: 'message', to: 'frank', content: i, id: `f${i}` });
      await eventually(() => gina.frames.filter((f) => f.type === 'ack').length === 7);
      const back = await open(h, 'frank');
      const { frames, recovered } = await recovery(back);
      t.same(
        frames.map((f) => f.seq),
        [1, 2, 3, 4, 5],
        'RECOVERY_MAX_MESSAGES, oldest first',
      );
      t.same(recovered, { type: 'recovered', messages: 5, more: ['dm:frank:gina'] });
      await Promise.all([gina.close(), back.close()]);
    });

    await t.test('an unknown recipient: UNKNOWN_USER, nothing stored', async (t) => {
      const alice = await open(h, 'alice');
      alice.send({ type: 'message', to: 'nobody-ever', content: 'hello?', id: 'u1' });
      t.match(await alice.next('error'), { code: 'UNKNOWN_USER', ref: 'u1' });
      t.same(await h.app.messageStore.page('dm:alice:nobody-ever', { limit: 10 }), []);
      await alice.close();
    });
  });
}

t.test('with Redis, a direct message is numbered, delivered at once and stored behind; the ack follows the commit', async (t) => {
  const h = await buildTestApp(t, 'real', { MESSAGE_PERSISTENCE: 'true', HEARTBEAT_TIMEOUT_MS: '60000' });
  if (!h) return;
  const db = await connectPostgres(t, h.config.DATABASE_URL);
  const messages = `"${h.config.DATABASE_SCHEMA}".messages`;
  for (const userId of ['hank', 'ivy']) await (await open(h, userId)).close();
  const hank = await open(h, 'hank');
  let ivy = await open(h, 'ivy');
  hank.send({ type: 'message', to: 'ivy', content: 'first', id: 'h1' });
  t.match(await hank.next('ack'), { id: 'h1', status: 'delivered', seq: 1 });
  await ivy.next('message');

  // The database cannot write messages until the lock goes: what still happens shows the order.
  await db.query('BEGIN');
  await db.query(`LOCK TABLE ${messages} IN EXCLUSIVE MODE`);
  hank.send({ type: 'message', to: 'ivy', content: 'while the table is locked', id: 'h2' });
  t.match(
    await ivy.next('message'),
    { content: 'while the table is locked', conversation: 'dm:hank:ivy', seq: 2 },
    'delivered before its row could be written',
  );
  await ivy.close();
  await eventually(async () => (await h.app.presence.getPlayer('ivy'))?.status !== 'online');
  hank.send({ type: 'message', to: 'ivy', content: 'to ivy away', id: 'h3' });
  await hank.ping();
  // Ivy comes back while seq 3 waits for the database: her recovery reads before its commit.
  ivy = await open(h, 'ivy');
  const { frames } = await recovery(ivy);
  t.same(
    frames.map((f) => f.seq),
    [1],
    'the recovery has only what is committed',
  );
  t.notOk(
    hank.frames.some((f) => f.type === 'ack' && f.id !== 'h1'),
    'no ack before the commit',
  );
  await db.query('COMMIT');
  t.match(await hank.next('ack', 5000, (f) => f.id === 'h2'), { status: 'delivered', conversation: 'dm:hank:ivy', seq: 2 });
  t.match(await ivy.next('message', 5000, (f) => f.seq === 3), { content: 'to ivy away' }, 'delivered once more after the commit: the login had missed it');
  t.match(await hank.next('ack', 5000, (f) => f.id === 'h3'), { status: 'delivered', seq: 3 });
  t.same(
    (await h.app.messageStore.page('dm:hank:ivy', { after: 0, limit: 10 })).map((m) => [m.seq, m.content]),
    [
      [1, '"first"'],
      [2, '"while the table is locked"'],
      [3, '"to ivy away"'],
    ],
  );
  await Promise.all([hank.close(), ivy.close()]);
});
