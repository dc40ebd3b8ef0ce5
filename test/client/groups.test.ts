/**
 * The SDK's stored chat against a real gateway (embedded backend, JWT auth, stored direct
 * messages): sendToGroup resolves with the stored ack and reaches the other members as `group`
 * events, non-members are refused NOT_IN_GROUP, history() pages a conversation for its
 * participants only (UNKNOWN_CONVERSATION otherwise), and what the login's recovery sends again
 * after a reconnect is emitted once while what was missed is emitted.
 */
import t from 'tap';
import { directConversationId, GatehouseError, groupConversationId, type GatehouseClient } from '../../src/client/index.ts';
import { buildTestApp, eventually } from '../helpers/build.ts';
import { nextEvent, sdkClient } from './helpers.ts';

t.test('SDK: groups and history against a real gateway', async (t) => {
  const h = (await buildTestApp(t, 'embedded', { MESSAGE_PERSISTENCE: 'true', HISTORY_PAGE_MAX: '3' }))!;
  const created = await h.app.groups.create({ id: 'guild-1', name: 'Guild', members: ['alice', 'bob', 'carol'] });
  t.ok('created' in created, 'group created');
  const guild = groupConversationId('guild-1');
  // Carol does not report `received` (the SDK's default does): her recoveries send everything again.
  const open = async (userId: string): Promise<GatehouseClient> => {
    const client = sdkClient({ url: `${h.wsUrl}/ws`, token: h.token(userId), acknowledgeStored: userId !== 'carol' });
    t.teardown(() => client.close());
    await client.connect();
    return client;
  };
  const [alice, bob, carol, dave] = await Promise.all([open('alice'), open('bob'), open('carol'), open('dave')]);
  // Carol reads nothing but events (no history page): what she saw is what the SDK emitted.
  const carolGroup: number[] = [];
  const carolMessages: unknown[] = [];
  /** Every group and direct message frame carol's connections received, repeats included. */
  const carolFrames: string[] = [];
  carol.on('group', (m) => carolGroup.push(m.seq));
  carol.on('message', (m) => carolMessages.push(m.content));
  carol.on('frame', (f) => {
    if (f.type === 'group' || f.type === 'message') carolFrames.push(`${f.type} ${(f as { seq: number }).seq}`);
  });

  await t.test('sendToGroup resolves with stored and the seq; the other member gets the group event', async (t) => {
    const heard = nextEvent(bob, 'group');
    const ack = await alice.sendToGroup('guild-1', { text: 'gg' }, { id: 'g-1' });
    t.same(ack, { id: 'g-1', status: 'stored', conversation: guild, seq: 1 });
    t.match(await heard, { type: 'group', group: 'guild-1', conversation: guild, seq: 1, from: 'alice', content: { text: 'gg' }, id: String, ts: Number });
    const next = await alice.sendToGroup('guild-1', 'second');
    t.match(next, { id: /^[0-9a-f-]{36}$/, status: 'stored', conversation: guild, seq: 2 }, 'the next seq, a generated client id');
  });

  await t.test('a non-member is refused NOT_IN_GROUP, like a group that does not exist', async (t) => {
    const refused = await dave.sendToGroup('guild-1', 'let me in', { id: 'x-1' }).catch((e: unknown) => e);
    t.ok(refused instanceof GatehouseError);
    t.match(refused, { code: 'NOT_IN_GROUP', ref: 'x-1', frame: { type: 'error', code: 'NOT_IN_GROUP', ref: 'x-1' } });
    await t.rejects(dave.sendToGroup('no-such-group', 'hello?'), { code: 'NOT_IN_GROUP' });
    t.equal(dave.state, 'connected', 'the connection stays');
  });

  await t.test('history pages a conversation; a non-participant gets UNKNOWN_CONVERSATION', async (t) => {
    for (const text of ['three', 'four', 'five']) await bob.sendToGroup('guild-1', text);
    const rows = (page: Array<{ seq: number; from?: string; content: unknown }>) => page.map((m) => [m.seq, m.from, m.content]);
    t.same(
      rows(await bob.history(guild)),
      [
        [3, 'bob', 'three'],
        [4, 'bob', 'four'],
        [5, 'bob', 'five'],
      ],
      'the newest page (HISTORY_PAGE_MAX 3), ascending',
    );
    t.same(
      rows(await bob.history(guild, { before: 3 })),
      [
        [1, 'alice', { text: 'gg' }],
        [2, 'alice', 'second'],
      ],
      'paging back: before the first seq of the page',
    );
    t.same(
      rows(await alice.history(guild, { after: 1, limit: 2 })),
      [
        [2, 'alice', 'second'],
        [3, 'bob', 'three'],
      ],
      'catching up: after a seq, limited',
    );
    await t.rejects(dave.history(guild, { id: 'h-1' }), { name: 'GatehouseError', code: 'UNKNOWN_CONVERSATION', ref: 'h-1' }, 'not a member');
    await t.rejects(dave.history(directConversationId('alice', 'bob')), { code: 'UNKNOWN_CONVERSATION' }, "someone else's direct conversation");
    t.same(await alice.history(directConversationId('bob', 'alice')), [], "a participant's direct conversation (nothing stored yet)");
  });

  await t.test("after a reconnect, the recovery's repeats are not emitted again; what was missed is", async (t) => {
    const direct = await alice.sendTo('carol', 'a stored whisper');
    t.match(direct, { conversation: directConversationId('alice', 'carol'), seq: 1 }, 'the direct message was stored');
    await eventually(() => carolGroup.length >= 5 && carolMessages.length >= 1);
    // A message stored while carol logged in may have come twice already (in her login's recovery
    // and live): emitted once all the same.
    t.same(carolGroup, [1, 2, 3, 4, 5], 'carol got every group message once');

    await carol.close();
    await alice.sendToGroup('guild-1', 'while carol was away');
    const framesBefore = carolFrames.length;
    const recovered = nextEvent(carol, 'recovered');
    await carol.connect();
    t.match(await recovered, { type: 'recovered', messages: 7 }, 'six group messages and the direct one');
    // Carol never said `received`: her recovery sends everything again.
    t.same(
      carolFrames.slice(framesBefore).sort(),
      ['group 1', 'group 2', 'group 3', 'group 4', 'group 5', 'group 6', 'message 1'],
      'the server sent every stored message again',
    );
    t.same(carolGroup, [1, 2, 3, 4, 5, 6], 'the repeats were not emitted, the missed one was');
    t.same(carolMessages, ['a stored whisper'], 'the direct message was not emitted again');
  });
});
