/**
 * Rooms on one node, on both backends: join/leave answers, publish to members only (the sender's
 * other sessions included, the sending session excluded), NOT_IN_ROOM, limits, membership ending
 * with the session, and the admin room push.
 */
import t from 'tap';
import { buildTestApp, eventually, TEST_ADMIN_TOKEN, type Backend, type TestApp } from '../helpers/build.ts';
import { TestClient, type Frame } from '../helpers/ws-client.ts';
import { call } from '../api/http.ts';

const open = async (h: TestApp, userId: string) => (await TestClient.open(`${h.wsUrl}/ws?token=${h.token(userId)}`)).client;

/** Joins and waits for the answer. */
async function join(client: TestClient, room: string): Promise<Frame> {
  client.send({ type: 'join', room });
  return client.next('joined', 5000, (f) => f.room === room);
}

/** Frames of a type received so far (after a ping barrier: everything sent before is in). */
async function settled(client: TestClient, type: string): Promise<Frame[]> {
  await client.ping();
  return client.frames.filter((f) => f.type === type);
}

for (const backend of ['embedded', 'real'] as Backend[]) {
  t.test(`rooms (${backend})`, async (t) => {
    const h = await buildTestApp(t, backend, { SESSION_POLICY: 'multi', MAX_ROOMS_PER_SESSION: '3', MAX_CONTENT_BYTES: '256', HEARTBEAT_TIMEOUT_MS: '60000' });
    if (!h) return;

    await t.test('members get room messages; the sending session gets an ack, its other sessions the message', async (t) => {
      const aliceTab1 = await open(h, 'alice');
      const aliceTab2 = await open(h, 'alice');
      const bob = await open(h, 'bob');
      const outsider = await open(h, 'carol');
      t.same(await join(aliceTab1, 'lobby'), { type: 'joined', room: 'lobby' });
      await join(aliceTab2, 'lobby');
      await join(bob, 'lobby');
      await join(outsider, 'elsewhere');

      aliceTab1.send({ type: 'room', room: 'lobby', content: { text: 'hi all' }, id: 'r-1' });
      t.same(await aliceTab1.next('ack'), { type: 'ack', id: 'r-1', status: 'delivered' });
      const got = await bob.next('room');
      t.match(got, { type: 'room', room: 'lobby', from: 'alice', content: { text: 'hi all' }, id: String, ts: Number });
      t.notOk('server' in got, 'not a server push');
      t.same(await aliceTab2.next('room'), got, "the sender's other session gets the same frame");
      t.same(await settled(aliceTab1, 'room'), [], 'not the sending session');
      t.same(await settled(outsider, 'room'), [], 'not a non-member');
      t.same(await settled(bob, 'room'), [], 'exactly once');

      bob.send({ type: 'room', room: 'lobby', content: 'no id' });
      const ack = await bob.next('ack');
      const echo = await aliceTab1.next('room');
      t.same(ack, { type: 'ack', id: echo.id, status: 'delivered' }, 'without a client id the ack carries the server id');
      await Promise.all([aliceTab1, aliceTab2, bob, outsider].map((c) => c.close()));
    });

    await t.test('publish without membership: NOT_IN_ROOM; leave ends it; answers keep the frame order', async (t) => {
      const dave = await open(h, 'dave');
      const erin = await open(h, 'erin');
      await join(erin, 'r');
      dave.send({ type: 'room', room: 'r', content: 1, id: 'x1' });
      t.match(await dave.next('error'), { code: 'NOT_IN_ROOM', ref: 'x1' });
      dave.send({ type: 'join', room: 'r' });
      dave.send({ type: 'join', room: 'r' });
      dave.send({ type: 'leave', room: 'r' });
      dave.send({ type: 'leave', room: 'r' });
      dave.send({ type: 'join', room: 'r' });
      await dave.ping();
      await eventually(() => dave.frames.filter((f) => f.type === 'joined' || f.type === 'left').length === 5);
      t.same(
        dave.frames.filter((f) => f.type === 'joined' || f.type === 'left').map((f) => f.type),
        ['joined', 'joined', 'left', 'left', 'joined'],
        'idempotent join/leave, answered in order',
      );
      dave.send({ type: 'leave', room: 'r' });
      await dave.next('left', 5000, () => true);
      dave.send({ type: 'room', room: 'r', content: 2, id: 'x2' });
      t.match(await dave.next('error'), { code: 'NOT_IN_ROOM', ref: 'x2' });
      t.same(await settled(erin, 'room'), [], 'nothing reached the room');
      await Promise.all([dave.close(), erin.close()]);
    });

    await t.test('bad frames and the per-session room limit', async (t) => {
      const f = await open(h, 'frank');
      f.send({ type: 'join', room: 'bad room' });
      t.match(await f.next('error'), { code: 'BAD_MESSAGE', error: /room must be/ });
      f.send({ type: 'join', room: 'r'.repeat(129) });
      t.match(await f.next('error'), { code: 'BAD_MESSAGE' });
      for (const room of ['a', 'b', 'c']) await join(f, room);
      f.send({ type: 'join', room: 'd' });
      t.match(await f.next('error'), { code: 'FORBIDDEN', error: /at most 3 rooms/ });
      f.send({ type: 'leave', room: 'a' });
      await f.next('left');
      t.same(await join(f, 'd'), { type: 'joined', room: 'd' }, 'room again after a leave');
      f.send({ type: 'room', room: 'd', content: 'z'.repeat(300), id: 'big' });
      t.match(await f.next('error'), { code: 'TOO_LARGE', ref: 'big' });
      await f.close();
    });

    await t.test('membership ends with the session; the admin API sees counts and members', async (t) => {
      const g1 = await open(h, 'gina');
      const g2 = await open(h, 'gina');
      const hal = await open(h, 'hal');
      await join(g1, 'counted');
      await join(g2, 'counted');
      await join(hal, 'counted');
      const rooms = async () => (await call<{ rooms: Array<Record<string, unknown>> }>(h, 'GET', '/api/rooms', { token: TEST_ADMIN_TOKEN })).body.rooms;
      const counted = async () => (await rooms()).find((r) => r.room === 'counted');
      t.same(await eventually(async () => ((await counted())?.clusterMembers === 3 ? counted() : undefined)), {
        room: 'counted',
        localMembers: 3,
        clusterMembers: 3,
        nodes: { [h.config.NODE_ID]: 3 },
      });
      const members = await call<{ members: unknown[] }>(h, 'GET', '/api/rooms/counted/members', { token: TEST_ADMIN_TOKEN });
      t.same(members.body, {
        room: 'counted',
        members: [
          { userId: 'gina', nodeId: h.config.NODE_ID, sessions: 2 },
          { userId: 'hal', nodeId: h.config.NODE_ID, sessions: 1 },
        ],
      });
      await g1.close();
      await eventually(async () => (await counted())?.clusterMembers === 2);
      t.equal(h.app.gateway.rooms.registry.localCount('counted'), 2);
      await Promise.all([g2.close(), hal.close()]);
      await eventually(async () => (await counted()) === undefined);
      t.equal(h.app.gateway.rooms.registry.roomCount, 0, 'no empty room left behind');
    });

    await t.test('admin push reaches every member session once, marked as a server push', async (t) => {
      const ivy1 = await open(h, 'ivy');
      const ivy2 = await open(h, 'ivy');
      const jack = await open(h, 'jack');
      await join(ivy1, 'news');
      await join(ivy2, 'news');
      const res = await call<{ id: string; localSessions: number }>(h, 'POST', '/api/rooms/news/messages', {
        token: TEST_ADMIN_TOKEN,
        body: { content: { headline: 'patch 1.2' } },
      });
      t.equal(res.status, 200);
      t.equal(res.body.localSessions, 2);
      for (const c of [ivy1, ivy2]) {
        const frame = await c.next('room');
        t.same(frame, { type: 'room', room: 'news', server: true, content: { headline: 'patch 1.2' }, id: res.body.id, ts: frame.ts });
      }
      t.same(await settled(jack, 'room'), [], 'not a non-member');
      t.same(await settled(ivy1, 'room'), [], 'once');
      const empty = await call(h, 'POST', '/api/rooms/empty-room/messages', { token: TEST_ADMIN_TOKEN, body: { content: 1 } });
      t.match(empty.body, { localSessions: 0 });
      await Promise.all([ivy1.close(), ivy2.close(), jack.close()]);
    });
  });
}
