/** The Redis key schema and its documentation: docs/architecture.md's storage table is generated. */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { renderArchitecture } from '../../scripts/storage-keys.ts';
import { RedisKeys, STORAGE_KEYS } from '../../src/stores/redis/keys.ts';

t.test('docs/architecture.md lists every Redis key and channel of the key schema', async (t) => {
  const doc = readFileSync(new URL('../../docs/architecture.md', import.meta.url), 'utf8');
  t.equal(renderArchitecture(doc), doc, 'storage table is generated from src/stores/redis/keys.ts: run npm run docs:keys');
});

t.test('every name RedisKeys builds has a row in the table', async (t) => {
  const k = new RedisKeys('p:');
  const built = [
    k.player('<userId>'),
    k.online,
    k.index,
    k.nodePlayers('<nodeId>'),
    k.nodeHeartbeats('<nodeId>'),
    k.nodeReaping('<nodeId>'),
    k.nodeFence('<nodeId>'),
    k.nodes,
    k.lock('<name>'),
    k.pending,
    k.pendingData,
    k.grace,
    k.offlineQueue('<userId>'),
    k.offlineQueueMeta('<userId>'),
    k.offlineQueueSender('<userId>'),
    k.offlineQueueTotal,
    k.offlineQueueBytes,
    k.roomsIndex,
    k.roomNodes('<room>'),
    k.roomMembers('<room>'),
    k.roomNodeUsers('<room>', '<nodeId>'),
    k.nodeRooms('<nodeId>'),
    k.nodeChannel('<nodeId>'),
    k.broadcastChannel,
    k.roomChannelPrefix + '<room>',
  ].map((name) => name.slice('p:'.length));
  t.same(
    built,
    STORAGE_KEYS.map((key) => key.pattern),
    'same names, same order',
  );
});
