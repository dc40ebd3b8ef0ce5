/** The Redis key schema and its documentation: docs/architecture.md's storage table is generated. */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { renderArchitecture } from '../../scripts/storage-keys.ts';
import calculateSlot from 'cluster-key-slot';
import { RedisKeys, STORAGE_KEYS } from '../../src/stores/redis/keys.ts';

t.test('docs/architecture.md lists every Redis key and channel of the key schema', async (t) => {
  const doc = readFileSync(new URL('../../docs/architecture.md', import.meta.url), 'utf8');
  t.equal(renderArchitecture(doc), doc, 'storage table is generated from src/stores/redis/keys.ts: run npm run docs:keys');
});

t.test('every name RedisKeys builds has a row in the table', async (t) => {
  // Two buckets, so the bucketed keys show their tag; every name here lands in bucket 0's.
  const k = new RedisKeys('p:', 2);
  const b = k.bucketOf('<userId>');
  const built = [
    k.player('<userId>'),
    k.online(b),
    k.index(b),
    k.nodePlayers('<nodeId>', b),
    k.nodeHeartbeats('<nodeId>', b),
    k.nodeReaping('<nodeId>', b),
    k.nodeFence('<nodeId>', b),
    k.nodes(b),
    k.lock('<name>'),
    k.pending(b),
    k.pendingData(b),
    k.grace(b),
    k.offlineQueue('<userId>'),
    k.offlineQueueMeta('<userId>'),
    k.offlineQueueSender('<userId>'),
    k.offlineQueueTotal(b),
    k.offlineQueueBytes(b),
    k.roomsIndex(b),
    k.roomNodes('<room>'),
    k.roomMembers('<room>'),
    k.roomNodeUsers('<room>', '<nodeId>'),
    k.nodeRooms('<nodeId>', b),
    k.conversationSeq('<conversationId>'),
    k.nodeChannel('<nodeId>'),
    k.broadcastChannel,
    k.roomChannelPrefix + '<room>',
  ].map((name) => name.slice('p:'.length).replace(k.buckets.tagPart(b), '{<bucket>}:'));
  t.same(
    built,
    STORAGE_KEYS.map((key) => key.pattern),
    'same names, same order',
  );
  t.equal(k.bucketOf('<nodeId>'), b, 'the node and the user share the bucket (the names are compared with one tag)');
  t.equal(k.bucketOf('<name>'), b);
  t.equal(k.bucketOf('<room>'), b);
});

t.test("a conversation's seq counter is a key of its own slot, whatever the buckets", async (t) => {
  const conversation = 'dm:alice:bob';
  const slots = [1, 4, 64].map((buckets) => calculateSlot(new RedisKeys('p:', buckets).conversationSeq(conversation)));
  t.same(slots, [slots[0], slots[0], slots[0]]);
  t.equal(slots[0], calculateSlot(conversation), 'the conversation id is its hash tag');
});

t.test('one bucket: the keys carry no hash tag, as before buckets existed', async (t) => {
  const k = new RedisKeys('p:');
  t.equal(k.player('alice'), 'p:player:online:alice');
  t.equal(k.online(0), 'p:server:online:players');
  t.equal(k.nodePlayers('n1', 0), 'p:server:node:n1:players');
  t.throws(() => k.online(1), /no bucket 1/);
});

t.test('more buckets: every key of a bucket hashes to the slot of its tag, whatever the user or node id', async (t) => {
  const k = new RedisKeys('p:', 8);
  const slotOf = (key: string) => calculateSlot(key);
  for (const userId of ['alice', 'bob', '{evil}', 'x}{y', 'ünïcode']) {
    const b = k.bucketOf(userId);
    const slot = slotOf(k.online(b));
    for (const key of [k.player(userId), k.index(b), k.pending(b), k.grace(b), k.nodePlayers('{n}', b), k.nodeFence('n', b), k.offlineQueue(userId)]) {
      t.equal(slotOf(key), slot, `${key} in the slot of ${k.online(b)}`);
    }
  }
  const slots = k.buckets.all().map((b) => slotOf(k.online(b)));
  t.equal(new Set(slots).size, 8, 'one slot per bucket');
  slots.forEach((slot, b) => t.ok(slot >= (b * 16384) / 8 && slot < ((b + 1) * 16384) / 8, `bucket ${b}'s tag hashes into its eighth of the slots`));
  t.throws(() => new RedisKeys('{p}:', 8), /must not contain/);
});
