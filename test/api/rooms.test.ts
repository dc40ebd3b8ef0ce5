/**
 * The room and push routes: admin only (401/403), validation (400, the field named), paging of
 * rooms and members with opaque cursors, and the push answers (queued / delivered / 409).
 */
import t from 'tap';
import { buildTestApp, eventually, TEST_ADMIN_TOKEN } from '../helpers/build.ts';
import { TestClient } from '../helpers/ws-client.ts';
import { call, connectPlayers, errorShape, type Answer } from './http.ts';

t.test('rooms and pushes REST API', async (t) => {
  // One session joins 25 rooms at once below: more than the default join/leave budget.
  const h = (await buildTestApp(t, 'embedded', { MAX_CONTENT_BYTES: '64', HEARTBEAT_TIMEOUT_MS: '60000', MAX_ROOM_CHANGES_PER_SEC: '100' }))!;
  const admin = { token: TEST_ADMIN_TOKEN };

  await t.test('admin only: 401 without or with a bad token, 403 with a player token', async (t) => {
    const player = h.token('alice');
    const routes: Array<['GET' | 'POST', string, unknown]> = [
      ['GET', '/api/rooms', undefined],
      ['GET', '/api/rooms/lobby/members', undefined],
      ['POST', '/api/rooms/lobby/messages', { content: 1 }],
      ['POST', '/api/users/alice/messages', { content: 1 }],
    ];
    for (const [method, url, body] of routes) {
      t.match(await call(h, method, url, { body }), { status: 401, body: errorShape(401, 'GW_UNAUTHORIZED') }, `${method} ${url}: no token`);
      t.match(await call(h, method, url, { body, token: 'wrong-token-wrong-token' }), { status: 401 }, `${method} ${url}: bad token`);
      t.match(await call(h, method, url, { body, token: player }), { status: 403, body: errorShape(403, 'GW_FORBIDDEN') }, `${method} ${url}: player`);
    }
  });

  await t.test('validation: 400 naming the field', async (t) => {
    const bad: Array<['GET' | 'POST', string, unknown, RegExp]> = [
      ['GET', '/api/rooms?limit=0', undefined, /limit/],
      ['GET', '/api/rooms?limit=1001', undefined, /limit/],
      ['GET', '/api/rooms?limit=abc', undefined, /limit/],
      ['GET', `/api/rooms/${'r'.repeat(129)}/members`, undefined, /room/],
      ['GET', '/api/rooms/bad%20room/members', undefined, /room/],
      ['GET', '/api/rooms/lobby/members?limit=-1', undefined, /limit/],
      ['POST', '/api/rooms/bad%20room/messages', { content: 1 }, /room/],
      ['POST', '/api/rooms/lobby/messages', {}, /content/],
      ['POST', '/api/users/bad%20user/messages', { content: 1 }, /userId/],
      ['POST', '/api/users/alice/messages', { nope: 1 }, /content/],
    ];
    for (const [method, url, body, field] of bad) {
      const res = await call<{ message: string }>(h, method, url, { ...admin, body });
      t.match(res, { status: 400, body: errorShape(400, 'GW_VALIDATION') }, `${method} ${url}`);
      t.match(res.body.message, field, `${method} ${url}: names the field`);
    }
    for (const url of ['/api/rooms/lobby/messages', '/api/users/alice/messages']) {
      t.match(
        await call(h, 'POST', url, { ...admin, body: { content: 'x'.repeat(100) } }),
        { status: 400, body: errorShape(400, 'GW_TOO_LARGE') },
        `${url}: too large`,
      );
    }
    const longest = 'r'.repeat(128);
    t.match(await call(h, 'GET', `/api/rooms/${longest}/members`, admin), { status: 200, body: { room: longest, members: [] } }, 'a 128-character room name');
    for (const url of ['/api/rooms?cursor=%21%21', '/api/rooms/lobby/members?cursor=not-ours']) {
      t.match(await call(h, 'GET', url, admin), { status: 400, body: errorShape(400, 'GW_INVALID_CURSOR') }, `${url}: bad cursor`);
    }
  });

  await t.test('paging: rooms and members, every entry once', async (t) => {
    const { client: many } = await TestClient.open(`${h.wsUrl}/ws?token=${h.token('roomer')}`);
    const rooms = Array.from({ length: 25 }, (_, i) => `room-${String(i).padStart(2, '0')}`);
    for (const room of rooms) many.send({ type: 'join', room });
    for (const room of rooms) await many.next('joined', 5000, (f) => f.room === room);
    const users = Array.from({ length: 12 }, (_, i) => `member-${String(i).padStart(2, '0')}`);
    const members = await connectPlayers((u) => `${h.wsUrl}/ws?token=${h.token(u)}`, users);
    for (const c of members.values()) c.send({ type: 'join', room: 'room-00' });
    await Promise.all([...members.values()].map((c) => c.next('joined')));

    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      type RoomsPage = { rooms: Array<{ room: string; localMembers: number; clusterMembers: number }>; nextCursor?: string };
      const res: Answer<RoomsPage> = await call<RoomsPage>(h, 'GET', `/api/rooms?limit=10${cursor ? `&cursor=${cursor}` : ''}`, admin);
      t.equal(res.status, 200);
      for (const r of res.body.rooms) t.equal(r.localMembers, r.clusterMembers, `${r.room}: one node, local = cluster`);
      seen.push(...res.body.rooms.map((r) => r.room));
      cursor = res.body.nextCursor;
      pages++;
    } while (cursor);
    t.same(seen, rooms, 'every room once, in order');
    t.equal(pages, 3);
    const first = await call<{ rooms: Array<{ room: string; clusterMembers: number }> }>(h, 'GET', '/api/rooms?limit=1', admin);
    t.same(first.body.rooms, [{ room: 'room-00', localMembers: 13, clusterMembers: 13, nodes: { [h.config.NODE_ID]: 13 } }]);

    const listed: string[] = [];
    cursor = undefined;
    do {
      type MembersPage = { room: string; members: Array<{ userId: string; sessions: number }>; nextCursor?: string };
      const res: Answer<MembersPage> = await call<MembersPage>(h, 'GET', `/api/rooms/room-00/members?limit=5${cursor ? `&cursor=${cursor}` : ''}`, admin);
      t.equal(res.body.room, 'room-00');
      listed.push(...res.body.members.map((m) => m.userId));
      cursor = res.body.nextCursor;
    } while (cursor);
    t.same(listed, [...users, 'roomer'], 'every member once, in userId order');
    t.same((await call(h, 'GET', '/api/rooms/nobody-here/members', admin)).body, { room: 'nobody-here', members: [] });

    await Promise.all([many.close(), ...[...members.values()].map((c) => c.close())]);
    await eventually(async () => (await call<{ rooms: unknown[] }>(h, 'GET', '/api/rooms', admin)).body.rooms.length === 0);
  });

  await t.test('user push: queued while offline, delivered once online', async (t) => {
    const queued = await call<{ id: string; status: string }>(h, 'POST', '/api/users/zoe/messages', { ...admin, body: { content: { hi: 1 } } });
    t.match(queued, { status: 200, body: { id: String, status: 'queued' } });
    const { client } = await TestClient.open(`${h.wsUrl}/ws?token=${h.token('zoe')}`);
    t.match(await client.next('message'), { id: queued.body.id, offline: true, server: true, content: { hi: 1 } });
    const delivered = await call<{ id: string; status: string }>(h, 'POST', '/api/users/zoe/messages', { ...admin, body: { content: null } });
    t.match(delivered, { status: 200, body: { status: 'delivered' } });
    t.match(await client.next('message'), { id: delivered.body.id, content: null });
    await client.close();
  });
});
