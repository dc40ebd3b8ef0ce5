/**
 * Conversation ids: one id per conversation whoever writes it, `:` inside a userId escaped so a
 * direct conversation's two users are never ambiguous, and anything else refused.
 */
import t from 'tap';
import {
  CONVERSATION_ID_MAX_LENGTH,
  directConversationId,
  groupConversationId,
  isDirectParticipant,
  isGroupRoom,
  parseConversationId,
} from '../../src/protocol/conversation-ids.ts';

t.test('a direct conversation has one id whichever user sends', async (t) => {
  t.equal(directConversationId('bob', 'alice'), 'dm:alice:bob');
  t.equal(directConversationId('alice', 'bob'), 'dm:alice:bob');
  // Code-point order, not a locale's: upper case sorts before lower case.
  t.equal(directConversationId('alice', 'Zed'), 'dm:Zed:alice');
  t.equal(directConversationId('ann', 'ann'), 'dm:ann:ann', 'a user writing to themselves');
});

t.test('a `:` in a userId is escaped, so the two users are never ambiguous', async (t) => {
  const split1 = directConversationId('a', 'b:c');
  const split2 = directConversationId('a:b', 'c');
  t.equal(split1, 'dm:a:b%3Ac');
  t.equal(split2, 'dm:a%3Ab:c');
  t.not(split1, split2);
  t.same(parseConversationId(split1), { kind: 'dm', ids: ['a', 'b:c'] });
  t.same(parseConversationId(split2), { kind: 'dm', ids: ['a:b', 'c'] });
  t.same(parseConversationId(directConversationId('::', ':')), { kind: 'dm', ids: [':', '::'] });
});

t.test('every valid id parses back to what made it', async (t) => {
  const users = ['alice', 'Bob', 'x:y', ':', 'a.b-c_d', '0', 'z'.repeat(64), ':'.repeat(64)];
  for (const a of users) {
    for (const b of users) {
      const id = directConversationId(a, b);
      const parsed = parseConversationId(id);
      t.same(parsed, { kind: 'dm', ids: a < b ? [a, b] : [b, a] }, id);
      t.ok(parsed && isDirectParticipant(parsed, a) && isDirectParticipant(parsed, b));
      t.ok(id.length <= CONVERSATION_ID_MAX_LENGTH);
    }
  }
  t.equal(directConversationId(':'.repeat(64), ':'.repeat(64)).length, CONVERSATION_ID_MAX_LENGTH, 'the longest id is the bound');
  t.equal(groupConversationId('guild-7'), 'group:guild-7');
  t.same(parseConversationId('group:guild-7'), { kind: 'group', ids: ['guild-7'] });
  t.same(parseConversationId('group:a:b'), { kind: 'group', ids: ['a:b'] }, 'a group id is the rest, `:` included');
});

t.test('ids that are not canonical or not conversations are refused', async (t) => {
  const refused = [
    'dm:bob:alice', // unsorted: the conversation's id is dm:alice:bob
    'dm:alice:b:c', // an unescaped `:` in a userId
    'dm:a%3a:b', // lower-case escape: not the canonical spelling
    'dm:a%3Ab', // one user only
    'dm:%3A', // one user only, escaped
    'dm:a:b:', // a third, empty part
    'dm::b', // an empty userId
    'dm:a%20b:c', // `%` outside the escape of `:`
    'dm:a b:c', // outside the id grammar
    `dm:a:${'b'.repeat(65)}`, // a userId longer than 64
    'group:', // no group id
    'group:a b',
    'group:a%3Ab',
    `group:${'g'.repeat(65)}`,
    'room:lobby',
    'DM:a:b',
    'dm',
    '',
    `dm:${'%3A'.repeat(64)}:${'%3A'.repeat(65)}`, // over the length bound
  ];
  for (const id of refused) t.equal(parseConversationId(id), undefined, JSON.stringify(id));
});

t.test('participants and group rooms', async (t) => {
  const dm = parseConversationId('dm:alice:bob')!;
  t.ok(isDirectParticipant(dm, 'alice'));
  t.ok(isDirectParticipant(dm, 'bob'));
  t.notOk(isDirectParticipant(dm, 'carol'));
  t.notOk(isDirectParticipant(parseConversationId('group:alice')!, 'alice'), 'a group has members, not participants');
  t.ok(isGroupRoom('group:guild-7'));
  t.notOk(isGroupRoom('lobby'));
  t.notOk(isGroupRoom('dm:alice:bob'));
});
