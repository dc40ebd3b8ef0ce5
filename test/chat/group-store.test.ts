/**
 * The GroupStore contract on both databases: the embedded one (PGlite on its thread) and
 * PostgreSQL (a schema of this suite). Creation and membership answers, the member bound also
 * under concurrent additions, code-point order of members and groups, and the conversation
 * position a new member starts from.
 */
import t, { type Test } from 'tap';
import { groupConversationId } from '../../src/protocol/conversation-ids.ts';
import { type Database, openDatabase } from '../../src/database/database.ts';
import { PrismaGroupStore } from '../../src/database/prisma-group-store.ts';
import { PrismaMessageStore } from '../../src/database/prisma-message-store.ts';
import { testPostgres } from '../helpers/services.ts';

t.test('embedded (PGlite)', async (t) => {
  groupStoreContract(t, () => openDatabase({ pgliteDir: 'memory://', poolMax: 1, migrate: true }));
});

t.test('PostgreSQL', async (t) => {
  // Checked before the contract declares its tests: a missing service skips the whole test.
  const svc = await testPostgres(t);
  if (!svc) return;
  groupStoreContract(t, () => openDatabase({ url: svc.url, schema: svc.schema, pgliteDir: 'unused', poolMax: 4, migrate: true }));
});

/** The member bound of the store under test. */
const MAX_MEMBERS = 3;

/** One user's groups through the many-user read. */
const groupsOfOne = async (groups: PrismaGroupStore, userId: string) => (await groups.groupsOf([userId])).get(userId) ?? [];

function groupStoreContract(t: Test, open: () => Promise<Database>): void {
  let db!: Database;
  let groups!: PrismaGroupStore;

  t.before(async () => {
    db = await open();
    groups = new PrismaGroupStore(db.prisma, MAX_MEMBERS);
  });
  t.teardown(() => db?.close());

  t.test('create: the group with its distinct members in code-point order; get answers the same', async (t) => {
    const before = Date.now();
    const result = await groups.create({ id: 'cr-guild', name: 'Gilde « 龍 » 🐉 "x"', members: ['cr-b', 'cr-B', 'cr-a', 'cr-b'] });
    t.ok('created' in result);
    const created = 'created' in result ? result.created : undefined;
    t.same(created, { id: 'cr-guild', name: 'Gilde « 龍 » 🐉 "x"', createdAt: created?.createdAt, members: ['cr-B', 'cr-a', 'cr-b'] });
    t.ok(created && Math.abs(created.createdAt - before) < 60_000, 'createdAt: the database clock, as ms');
    t.strictSame(await groups.get('cr-guild'), created, 'read back as created');
    t.equal(await groups.get('cr-none'), undefined);
  });

  t.test('create refuses an id that exists, and changes nothing', async (t) => {
    await groups.create({ id: 'ex-guild', name: 'first', members: ['ex-a'] });
    const original = await groups.get('ex-guild');
    t.same(await groups.create({ id: 'ex-guild', name: 'second', members: ['ex-b', 'ex-c'] }), { refused: 'exists' });
    t.strictSame(await groups.get('ex-guild'), original);
    t.same(await groupsOfOne(groups, 'ex-b'), [], 'the refused members were not added');
  });

  t.test('create refuses more distinct members than the bound; duplicates count once', async (t) => {
    t.same(await groups.create({ id: 'tm-guild', name: 'big', members: ['tm-1', 'tm-2', 'tm-3', 'tm-4'] }), { refused: 'too_many_members' });
    t.equal(await groups.get('tm-guild'), undefined, 'nothing created');
    const result = await groups.create({ id: 'tm-guild', name: 'big', members: ['tm-1', 'tm-2', 'tm-3', 'tm-2', 'tm-1'] });
    t.same('created' in result && result.created.members, ['tm-1', 'tm-2', 'tm-3']);
    t.same(await groups.membersOf('tm-guild'), ['tm-1', 'tm-2', 'tm-3']);
  });

  t.test('a group without members', async (t) => {
    t.ok('created' in (await groups.create({ id: 'em-guild', name: 'empty', members: [] })));
    t.same(await groups.membersOf('em-guild'), [], 'a group: an empty list');
    t.equal(await groups.membersOf('em-none'), undefined, 'no group: undefined');
    t.same((await groups.get('em-guild'))?.members, []);
  });

  t.test('addMember: added, already_member, no_group, too_many_members; a place freed is taken again', async (t) => {
    await groups.create({ id: 'am-guild', name: 'party', members: ['am-1'] });
    t.equal(await groups.addMember('am-guild', 'am-2'), 'added');
    t.equal(await groups.addMember('am-guild', 'am-2'), 'already_member');
    t.equal(await groups.addMember('am-none', 'am-2'), 'no_group');
    t.equal(await groups.addMember('am-guild', 'am-3'), 'added');
    t.equal(await groups.addMember('am-guild', 'am-4'), 'too_many_members', 'full at the bound');
    t.equal(await groups.addMember('am-guild', 'am-1'), 'already_member', 'a member of a full group is still one');
    t.same(await groups.membersOf('am-guild'), ['am-1', 'am-2', 'am-3']);
    t.equal(await groups.removeMember('am-guild', 'am-2'), 'removed');
    t.equal(await groups.addMember('am-guild', 'am-4'), 'added');
    t.same(await groups.membersOf('am-guild'), ['am-1', 'am-3', 'am-4']);
  });

  t.test('removeMember: removed, not_member, no_group', async (t) => {
    await groups.create({ id: 'rm-guild', name: 'party', members: ['rm-1', 'rm-2'] });
    t.equal(await groups.removeMember('rm-guild', 'rm-1'), 'removed');
    t.equal(await groups.removeMember('rm-guild', 'rm-1'), 'not_member');
    t.equal(await groups.removeMember('rm-none', 'rm-1'), 'no_group');
    t.same(await groups.membersOf('rm-guild'), ['rm-2']);
    t.same(await groupsOfOne(groups, 'rm-1'), []);
  });

  t.test('members and groups come in code-point order (upper case before lower case)', async (t) => {
    const roomy = new PrismaGroupStore(db.prisma, 10);
    await roomy.create({ id: 'co-guild', name: 'order', members: ['b', 'B', 'a'] });
    // Added after the others: a read that does not sort answers them last.
    for (const userId of ['_', '0', 'A']) t.equal(await roomy.addMember('co-guild', userId), 'added');
    t.same(await roomy.membersOf('co-guild'), ['0', 'A', 'B', '_', 'a', 'b']);
    t.same((await roomy.get('co-guild'))?.members, ['0', 'A', 'B', '_', 'a', 'b']);

    for (const groupId of ['co-z', 'co-Y', 'co-a', 'co-_']) await roomy.create({ id: groupId, name: groupId, members: ['co-user'] });
    t.same(await groupsOfOne(roomy, 'co-user'), ['co-Y', 'co-_', 'co-a', 'co-z']);
    t.same(await groupsOfOne(roomy, 'co-nobody'), []);
    t.same(
      [...(await roomy.groupsOf(['co-user', 'co-nobody', 'co-user']))],
      [['co-user', ['co-Y', 'co-_', 'co-a', 'co-z']]],
      'many users in one read: a user in no group is absent, a repeated id answered once',
    );
    t.same(await roomy.groupsOf([]), new Map());
    await roomy.removeMember('co-a', 'co-user');
    t.same(await groupsOfOne(roomy, 'co-user'), ['co-Y', 'co-_', 'co-z'], 'a group left is no longer listed');
  });

  t.test('concurrent additions never go over the bound; the same user twice is added once', async (t) => {
    await groups.create({ id: 'race-guild', name: 'race', members: ['race-0'] });
    const candidates = Array.from({ length: 8 }, (_, i) => `race-${i + 1}`);
    const answers = await Promise.all(candidates.map((userId) => groups.addMember('race-guild', userId)));
    t.equal(answers.filter((a) => a === 'added').length, MAX_MEMBERS - 1, 'the two free places');
    t.equal(answers.filter((a) => a === 'too_many_members').length, candidates.length - (MAX_MEMBERS - 1), 'the others are refused');
    t.equal((await groups.membersOf('race-guild'))?.length, MAX_MEMBERS);

    await groups.create({ id: 'twice-guild', name: 'twice', members: [] });
    t.same((await Promise.all([groups.addMember('twice-guild', 'twice-1'), groups.addMember('twice-guild', 'twice-1')])).sort(), ['added', 'already_member']);
  });

  t.test('a member added later starts at the end of the group conversation, not its past', async (t) => {
    const conversation = groupConversationId('late-guild');
    // The position recovery starts from (conversation_positions, read by conversation-positions.ts).
    const positionOf = async (userId: string) => {
      const rows = await db.prisma.$queryRawUnsafe<Array<{ seq: bigint }>>(
        'SELECT seq FROM conversation_positions WHERE user_id = $1 AND conversation_id = $2',
        userId,
        conversation,
      );
      return rows.length === 0 ? undefined : Number(rows[0]!.seq);
    };
    const messages = new PrismaMessageStore(db.prisma);
    let sent = 0;
    const send = (n: number) =>
      messages.append(
        Array.from({ length: n }, () => ({ conversationId: conversation, id: `late-${++sent}`, sender: 'late-early', content: '1', sentAt: Date.now() })),
      );

    await groups.create({ id: 'late-guild', name: 'late', members: ['late-early'] });
    t.equal(await groups.addMember('late-guild', 'late-first'), 'added');
    t.equal(await positionOf('late-first'), 0, 'joined before any message: from the start');
    await send(3);
    t.equal(await groups.addMember('late-guild', 'late-joiner'), 'added');
    t.equal(await positionOf('late-joiner'), 3, 'joined after three: from the fourth');
    t.equal(await positionOf('late-early'), undefined, 'a founding member has none: the conversation started with them');
    // Out and back in after two more: the position moves to the new end.
    t.equal(await groups.removeMember('late-guild', 'late-joiner'), 'removed');
    await send(2);
    t.equal(await groups.addMember('late-guild', 'late-joiner'), 'added');
    t.equal(await positionOf('late-joiner'), 5);
    t.equal(await groups.addMember('late-guild', 'late-joiner'), 'already_member');
    t.equal(await positionOf('late-joiner'), 5, 'an addition refused changes nothing');
  });
}
