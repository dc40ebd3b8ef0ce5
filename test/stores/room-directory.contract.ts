/**
 * The RoomDirectory contract, run against MemoryRoomDirectory and RedisRoomDirectory: counts per
 * node, members per (user, node), batched changes applied in order, leave and purge, node
 * re-sync, and stable cursor paging.
 */
import type { Test } from 'tap';
import type { RoomDirectory } from '../../src/delivery/room-directory.ts';

export type MakeDirectory = (t: Test) => Promise<RoomDirectory | null>;

/** One session of `userId` joined `room` on `nodeId` (a flush holding a single change). */
export const join = (d: RoomDirectory, nodeId: string, room: string, userId: string) => d.apply(nodeId, [{ room, userId, sessions: 1 }]);

/** One session of `userId` left each of `rooms` on `nodeId`, in one flush. */
export const leave = (d: RoomDirectory, nodeId: string, userId: string, rooms: string[]) =>
  d.apply(
    nodeId,
    rooms.map((room) => ({ room, userId, sessions: -1 })),
  );

export function runRoomDirectoryContract(t: Test, name: string, make: MakeDirectory): void {
  const test = (title: string, body: (t: Test, d: RoomDirectory) => Promise<void>) =>
    t.test(`${name}: ${title}`, async (t) => {
      const directory = await make(t);
      if (!directory) return;
      t.teardown(() => directory.close());
      await body(t, directory);
    });

  const all = async (d: RoomDirectory) => (await d.listRooms({ limit: 1000 })).rooms;

  test('joins count sessions per node and members per user and node', async (t, d) => {
    t.strictSame(await all(d), []);
    t.strictSame(await d.getRoom('lobby'), {});
    await join(d, 'A', 'lobby', 'alice');
    await join(d, 'A', 'lobby', 'alice'); // a second tab
    await join(d, 'B', 'lobby', 'alice');
    await join(d, 'B', 'lobby', 'bob');
    await join(d, 'A', 'other', 'carol');
    t.strictSame(await d.getRoom('lobby'), { A: 2, B: 2 });
    t.strictSame(await all(d), [
      { room: 'lobby', nodes: { A: 2, B: 2 } },
      { room: 'other', nodes: { A: 1 } },
    ]);
    t.strictSame((await d.listMembers('lobby', { limit: 100 })).members, [
      { userId: 'alice', nodeId: 'A', sessions: 2 },
      { userId: 'alice', nodeId: 'B', sessions: 1 },
      { userId: 'bob', nodeId: 'B', sessions: 1 },
    ]);
    t.strictSame(await d.listMembers('nobody-here', { limit: 10 }), { members: [] });
  });

  test('leaves take one session each; the last one removes the room', async (t, d) => {
    await join(d, 'A', 'r1', 'alice');
    await join(d, 'A', 'r1', 'alice');
    await join(d, 'A', 'r2', 'alice');
    await join(d, 'B', 'r1', 'bob');
    await leave(d, 'A', 'alice', ['r1', 'r2']);
    t.strictSame(await all(d), [{ room: 'r1', nodes: { A: 1, B: 1 } }], 'r2 is gone, r1 keeps one session of alice');
    await leave(d, 'A', 'alice', ['r1']);
    t.strictSame((await d.listMembers('r1', { limit: 10 })).members, [{ userId: 'bob', nodeId: 'B', sessions: 1 }]);
    await leave(d, 'A', 'alice', ['r1', 'never-joined']);
    t.strictSame(await d.getRoom('r1'), { B: 1 }, "a spurious leave does not take another node's count");
    await leave(d, 'B', 'bob', ['r1']);
    t.strictSame(await all(d), []);
    await leave(d, 'B', 'bob', []);
  });

  test('one apply call: joins and leaves of many rooms and users, in order, counts of several sessions', async (t, d) => {
    await join(d, 'B', 'shared', 'zoe');
    await d.apply('A', [
      { room: 'shared', userId: 'alice', sessions: 3 },
      { room: 'shared', userId: 'bob', sessions: 1 },
      { room: 'solo', userId: 'carol', sessions: 1 },
      { room: 'shared', userId: 'alice', sessions: -1 },
      { room: 'solo', userId: 'carol', sessions: -1 },
      { room: 'gone', userId: 'dave', sessions: -2 },
    ]);
    t.strictSame(await all(d), [{ room: 'shared', nodes: { B: 1, A: 3 } }], "solo came and went; a leave of nothing takes nothing from B's count");
    t.strictSame((await d.listMembers('shared', { limit: 10 })).members, [
      { userId: 'alice', nodeId: 'A', sessions: 2 },
      { userId: 'bob', nodeId: 'A', sessions: 1 },
      { userId: 'zoe', nodeId: 'B', sessions: 1 },
    ]);
    t.equal(await d.nodeRoomCount('A'), 1);
    await d.apply('A', [
      { room: 'shared', userId: 'alice', sessions: -2 },
      { room: 'shared', userId: 'bob', sessions: -1 },
    ]);
    t.strictSame(await all(d), [{ room: 'shared', nodes: { B: 1 } }], "A's share gone with its last session");
    t.equal(await d.nodeRoomCount('A'), 0);
    t.strictSame((await d.listMembers('shared', { limit: 10 })).members, [{ userId: 'zoe', nodeId: 'B', sessions: 1 }]);
    await d.apply('A', []);
  });

  test("purgeNode removes a node's share in batches; syncNode replaces it", async (t, d) => {
    for (let i = 0; i < 25; i++) await join(d, 'dead', `room-${String(i).padStart(2, '0')}`, `u${i}`);
    await join(d, 'live', 'room-00', 'x');
    t.equal(await d.nodeRoomCount('dead'), 25);
    t.equal(await d.nodeRoomCount('live'), 1);
    let left = await d.purgeNode('dead', 10);
    t.equal(left, 15);
    while (left > 0) left = await d.purgeNode('dead', 10);
    t.strictSame(await all(d), [{ room: 'room-00', nodes: { live: 1 } }]);
    t.strictSame((await d.listMembers('room-00', { limit: 10 })).members, [{ userId: 'x', nodeId: 'live', sessions: 1 }]);
    t.equal(await d.purgeNode('unknown-node', 10), 0);
    t.equal(await d.nodeRoomCount('dead'), 0);

    await join(d, 'A', 'stale', 'ghost');
    await join(d, 'A', 'room-00', 'y');
    await d.syncNode('A', [
      { room: 'room-00', userId: 'y', sessions: 2 },
      { room: 'fresh', userId: 'z', sessions: 1 },
    ]);
    t.strictSame(await all(d), [
      { room: 'fresh', nodes: { A: 1 } },
      { room: 'room-00', nodes: { live: 1, A: 2 } },
    ]);
    await d.syncNode('A', []);
    t.strictSame(await all(d), [{ room: 'room-00', nodes: { live: 1 } }], 'an empty sync clears the node');
  });

  test('1,200 memberships re-synced at once', async (t, d) => {
    const memberships = Array.from({ length: 1200 }, (_, i) => ({ room: `r${i % 7}`, userId: `u${i}`, sessions: 1 }));
    await d.syncNode('A', memberships);
    const rooms = await all(d);
    t.equal(rooms.length, 7);
    t.equal(
      rooms.reduce((sum, r) => sum + (r.nodes.A ?? 0), 0),
      1200,
    );
  });

  test('paging: every room and member exactly once, cursors opaque and checked', async (t, d) => {
    const names = Array.from({ length: 23 }, (_, i) => `room.${String(i).padStart(3, '0')}`);
    for (const room of names) await join(d, 'A', room, 'u');
    for (let i = 0; i < 23; i++) await join(d, i % 2 ? 'A' : 'B', 'big', `user-${String(i).padStart(2, '0')}`);
    const seenRooms: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await d.listRooms({ limit: 5, ...(cursor ? { cursor } : {}) });
      seenRooms.push(...page.rooms.map((r) => r.room));
      cursor = page.nextCursor;
      pages++;
      // churn during the run: a room removed and one added behind the cursor
      if (pages === 2) {
        await join(d, 'A', 'aaa-before-everything', 'u');
      }
    } while (cursor);
    t.strictSame(
      seenRooms.filter((r) => r.startsWith('room.')),
      names,
      'every room once, in order',
    );
    t.equal(pages, 5, "24 rooms ('big' + 23) in pages of 5: no empty last page");
    const members: string[] = [];
    cursor = undefined;
    do {
      const page = await d.listMembers('big', { limit: 10, ...(cursor ? { cursor } : {}) });
      members.push(...page.members.map((m) => `${m.userId}@${m.nodeId}`));
      cursor = page.nextCursor;
    } while (cursor);
    t.equal(members.length, 23);
    t.equal(new Set(members).size, 23);
    t.strictSame(members, [...members].sort());
    await t.rejects(d.listRooms({ limit: 5, cursor: 'not a cursor!' }), { code: 'GW_ERR_INVALID_CURSOR' });
    await t.rejects(d.listMembers('big', { limit: 0 }), RangeError);
  });
}
