/**
 * Persistent groups over the WebSocket, on both backends: a `group` frame is stored with the next
 * seq and reaches every member session but the sender's (its ack says `stored` with the seq),
 * non-members are refused and get nothing, the groups' rooms are not the clients' to join or
 * publish to, membership changes of the admin API reach open sessions, and `history` pages a
 * conversation for its participants only.
 */
import t from 'tap';
import { buildTestApp, eventually, TEST_ADMIN_TOKEN, type Backend, type TestApp } from '../helpers/build.ts';
import { TestClient, type Frame } from '../helpers/ws-client.ts';

/**
 * A session whose login is over: its recovery of stored messages read (on a loaded machine that
 * read can end after a message the test sends next was stored, and bring it once more).
 */
async function open(h: TestApp, userId: string): Promise<TestClient> {
  const { client } = await TestClient.open(`${h.wsUrl}/ws?token=${h.token(userId)}`);
  await eventually(() => h.app.gateway.replay.gated === 0, 20_000);
  return client;
}

/** Frames of a type received so far (after a ping barrier: everything sent before is in). */
async function settled(client: TestClient, type: string): Promise<Frame[]> {
  await client.ping();
  return client.frames.filter((f) => f.type === type);
}

/** An admin call to the group API. */
async function admin(h: TestApp, method: 'PUT' | 'DELETE', url: string): Promise<number> {
  const res = await h.app.inject({ method, url, headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` } });
  return res.statusCode;
}

for (const backend of ['embedded', 'real'] as Backend[]) {
  t.test(`groups (${backend})`, async (t) => {
    const h = await buildTestApp(t, backend, { SESSION_POLICY: 'multi', HEARTBEAT_TIMEOUT_MS: '60000', HISTORY_PAGE_MAX: '3' });
    if (!h) return;
    const created = await h.app.groups.create({ id: 'guild-1', name: 'Guild', members: ['alice', 'bob', 'carol'] });
    t.ok('created' in created, 'group created');

    await t.test('a group message is stored, then reaches every other member session once', async (t) => {
      const aliceTab1 = await open(h, 'alice');
      const aliceTab2 = await open(h, 'alice');
      const bob = await open(h, 'bob');
      const outsider = await open(h, 'dave');

      aliceTab1.send({ type: 'group', group: 'guild-1', content: { text: 'gg' }, id: 'g-1' });
      t.same(await aliceTab1.next('ack'), { type: 'ack', id: 'g-1', status: 'stored', conversation: 'group:guild-1', seq: 1 });
      const got = await bob.next('group');
      t.match(got, { type: 'group', group: 'guild-1', conversation: 'group:guild-1', seq: 1, from: 'alice', content: { text: 'gg' }, id: String, ts: Number });
      t.same(await aliceTab2.next('group'), got, "the sender's other session gets the same frame");
      t.same(await settled(aliceTab1, 'group'), [], 'not the sending session');
      t.same(await settled(outsider, 'group'), [], 'not a non-member');

      bob.send({ type: 'group', group: 'guild-1', content: 'second' });
      const ack = await bob.next('ack');
      const second = await aliceTab1.next('group');
      t.same(ack, { type: 'ack', id: second.id, status: 'stored', conversation: 'group:guild-1', seq: 2 }, 'the next seq; the server id without a client id');
      const stored = await h.app.messageStore.page('group:guild-1', { limit: 10 });
      t.same(
        stored.map((m) => [m.seq, m.sender, JSON.parse(m.content)]),
        [
          [1, 'alice', { text: 'gg' }],
          [2, 'bob', 'second'],
        ],
        'both rows are in the database',
      );
      await Promise.all([aliceTab1, aliceTab2, bob, outsider].map((c) => c.close()));
    });

    await t.test('non-members and unknown groups: NOT_IN_GROUP, nothing stored; group rooms are not for clients', async (t) => {
      const dave = await open(h, 'dave');
      dave.send({ type: 'group', group: 'guild-1', content: 'let me in', id: 'x1' });
      t.match(await dave.next('error'), { code: 'NOT_IN_GROUP', ref: 'x1' });
      dave.send({ type: 'group', group: 'no-such-group', content: 'hello?', id: 'x2' });
      t.match(await dave.next('error'), { code: 'NOT_IN_GROUP', ref: 'x2' }, 'the same answer: group ids cannot be probed');
      dave.send({ type: 'join', room: 'group:guild-1' });
      t.match(await dave.next('error'), { code: 'FORBIDDEN', error: /group's room/ });
      const alice = await open(h, 'alice');
      alice.send({ type: 'room', room: 'group:guild-1', content: 'around the store', id: 'x3' });
      t.match(await alice.next('error'), { code: 'FORBIDDEN', ref: 'x3' }, 'a member cannot publish unstored messages to the room');
      alice.send({ type: 'leave', room: 'group:guild-1' });
      t.match(await alice.next('error'), { code: 'FORBIDDEN' });
      t.equal((await h.app.messageStore.page('group:guild-1', { limit: 10 })).length, 2, 'nothing was stored');
      await Promise.all([dave.close(), alice.close()]);
    });

    await t.test('membership changes reach open sessions', async (t) => {
      const alice = await open(h, 'alice');
      const carol = await open(h, 'carol');
      const erin = await open(h, 'erin');
      t.equal(await admin(h, 'PUT', '/api/groups/guild-1/members/erin'), 200);
      t.equal(await admin(h, 'DELETE', '/api/groups/guild-1/members/carol'), 200);
      alice.send({ type: 'group', group: 'guild-1', content: 'welcome erin', id: 'w' });
      t.match(await alice.next('ack'), { status: 'stored', seq: 3 });
      t.match(await erin.next('group'), { seq: 3, content: 'welcome erin' }, 'the new member gets it at once');
      // (Her login recovered seqs 1 and 2: she was a member then.)
      t.same(
        (await settled(carol, 'group')).filter((f) => f.seq === 3),
        [],
        'the removed member does not',
      );
      carol.send({ type: 'group', group: 'guild-1', content: 'still here?', id: 'c' });
      t.match(await carol.next('error'), { code: 'NOT_IN_GROUP', ref: 'c' });
      await Promise.all([alice.close(), carol.close(), erin.close()]);
    });

    await t.test('history pages a conversation for its participants only', async (t) => {
      const bob = await open(h, 'bob');
      bob.send({ type: 'history', conversation: 'group:guild-1', id: 'h1' });
      const newest = await bob.next('history');
      t.equal(newest.id, 'h1');
      t.same(
        (newest.messages as Frame[]).map((m) => [m.seq, m.from, m.content]),
        [
          [1, 'alice', { text: 'gg' }],
          [2, 'bob', 'second'],
          [3, 'alice', 'welcome erin'],
        ],
        'the newest HISTORY_PAGE_MAX, ascending, content as sent',
      );
      bob.send({ type: 'history', conversation: 'group:guild-1', before: 3, limit: 1, id: 'h2' });
      t.same(
        ((await bob.next('history')).messages as Frame[]).map((m) => m.seq),
        [2],
        'before: the newest before it',
      );
      bob.send({ type: 'history', conversation: 'group:guild-1', after: 1, limit: 50, id: 'h3' });
      t.same(
        ((await bob.next('history')).messages as Frame[]).map((m) => m.seq),
        [2, 3],
        'after, limit capped by HISTORY_PAGE_MAX',
      );
      bob.send({ type: 'history', conversation: 'dm:alice:bob', id: 'h4' });
      t.match(await bob.next('history'), { conversation: 'dm:alice:bob', messages: [] }, "a participant's direct conversation (none stored yet)");

      const carol = await open(h, 'carol');
      carol.send({ type: 'history', conversation: 'group:guild-1', id: 'h5' });
      t.match(await carol.next('error'), { code: 'UNKNOWN_CONVERSATION', ref: 'h5' }, 'a former member');
      carol.send({ type: 'history', conversation: 'dm:alice:bob', id: 'h6' });
      t.match(await carol.next('error'), { code: 'UNKNOWN_CONVERSATION', ref: 'h6' }, 'not a participant');
      carol.send({ type: 'history', conversation: 'dm:bob:alice', id: 'h7' });
      t.match(await carol.next('error'), { code: 'UNKNOWN_CONVERSATION', ref: 'h7' }, 'not the canonical id');
      carol.send({ type: 'history', conversation: 'group:guild-1', before: -1, id: 'h8' });
      t.match(await carol.next('error'), { code: 'BAD_MESSAGE', ref: 'h8' });
      await Promise.all([bob.close(), carol.close()]);
    });
  });
}
