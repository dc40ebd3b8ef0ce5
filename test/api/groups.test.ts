/**
 * The group API on the embedded defaults and on real Redis + PostgreSQL: who may call what (401,
 * 403, and 404 for a player asking about a group that is not theirs, like a missing group),
 * validation (400 naming the field, GW_TOO_MANY_MEMBERS), a group's lifecycle (create, 409 on a
 * taken id, add, full, remove, leave), ids with `:` in paths, membership changes reaching the
 * members' live sessions, and a database failure answering 503 without internals.
 */
import t from 'tap';
import { buildTestApp, eventually, TEST_ADMIN_TOKEN, type Backend, type TestApp } from '../helpers/build.ts';
import { TestClient } from '../helpers/ws-client.ts';
import { errorShape, type Answer } from './http.ts';

const ADMIN = TEST_ADMIN_TOKEN;
const MAX_MEMBERS = 4;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

interface GroupBody {
  id: string;
  name: string;
  createdAt: number;
  members: string[];
}

/** One request through the whole Fastify pipeline; `token` undefined = no Authorization header. */
async function send<T = Record<string, unknown>>(
  h: TestApp,
  method: 'GET' | 'POST' | 'PUT' | 'DELETE',
  url: string,
  token?: string,
  body?: unknown,
): Promise<Answer<T>> {
  const res = await h.app.inject({
    method,
    url,
    headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
    ...(body === undefined ? {} : { payload: body as object }),
  });
  return { status: res.statusCode, body: res.json() as T, headers: res.headers };
}

/** The userIds of a room's member sessions, cluster-wide (the room directory). */
async function roomMembers(h: TestApp, room: string): Promise<string[]> {
  const res = await send<{ members: Array<{ userId: string }> }>(h, 'GET', `/api/rooms/${encodeURIComponent(room)}/members`, ADMIN);
  return res.body.members.map((m) => m.userId);
}

for (const backend of ['embedded', 'real'] as Backend[]) {
  t.test(`group API (${backend})`, async (t) => {
    const h = await buildTestApp(t, backend, { GROUP_MAX_MEMBERS: String(MAX_MEMBERS), HEARTBEAT_TIMEOUT_MS: '60000', WS_PING_INTERVAL_MS: '600000' });
    if (!h) return;
    const clients: TestClient[] = [];
    t.teardown(() => Promise.all(clients.map((c) => c.terminate())));

    await t.test('create: 201 with the group, members deduplicated and sorted; a taken id is 409', async (t) => {
      const before = Date.now();
      const created = await send<GroupBody>(h, 'POST', '/api/groups', ADMIN, { id: 'guild-1', name: 'Guild', members: ['carol', 'alice', 'bob', 'alice'] });
      t.equal(created.status, 201);
      t.same(created.body, { id: 'guild-1', name: 'Guild', createdAt: created.body.createdAt, members: ['alice', 'bob', 'carol'] });
      t.ok(created.body.createdAt >= before - 1000 && created.body.createdAt <= Date.now() + 1000, 'createdAt: now, in ms');

      const again = await send(h, 'POST', '/api/groups', ADMIN, { id: 'guild-1', name: 'Other', members: [] });
      t.match(again, { status: 409, body: errorShape(409, 'GW_GROUP_EXISTS') });
      t.match(
        (await send<GroupBody>(h, 'GET', '/api/groups/guild-1', ADMIN)).body,
        { name: 'Guild', members: ['alice', 'bob', 'carol'] },
        'the first one unchanged',
      );

      const unnamed = await send<GroupBody>(h, 'POST', '/api/groups', ADMIN, { name: 'Pickup', members: [] });
      t.equal(unnamed.status, 201);
      t.match(unnamed.body.id, UUID, 'without id: a random UUID');
      t.same(unnamed.body.members, [], 'no members yet');
      t.match(await send(h, 'GET', `/api/groups/${unnamed.body.id}`, ADMIN), { status: 200, body: { id: unnamed.body.id, name: 'Pickup' } });
    });

    await t.test('create: GROUP_MAX_MEMBERS counts distinct members; more is 400 GW_TOO_MANY_MEMBERS', async (t) => {
      const five = ['m1', 'm2', 'm3', 'm4', 'm5'];
      t.match(await send(h, 'POST', '/api/groups', ADMIN, { id: 'crowd', name: 'Crowd', members: five }), {
        status: 400,
        body: errorShape(400, 'GW_TOO_MANY_MEMBERS'),
      });
      t.equal((await send(h, 'GET', '/api/groups/crowd', ADMIN)).status, 404, 'nothing created');
      const full = await send<GroupBody>(h, 'POST', '/api/groups', ADMIN, { id: 'full', name: 'Full', members: [...five.slice(0, 4), 'm1', 'm2'] });
      t.equal(full.status, 201, 'duplicates count once');
      t.same(full.body.members, five.slice(0, 4));
    });

    await t.test('validation: 400 GW_VALIDATION naming the field', async (t) => {
      const bad: Array<[unknown, RegExp]> = [
        [{ id: 'bad id', name: 'x', members: [] }, /id/],
        [{ id: 'x'.repeat(65), name: 'x', members: [] }, /id/],
        [{ id: 'ok', name: '', members: [] }, /name/],
        [{ id: 'ok', name: 'n'.repeat(101), members: [] }, /name/],
        [{ id: 'ok', members: [] }, /name/],
        [{ id: 'ok', name: 'x' }, /members/],
        [{ id: 'ok', name: 'x', members: 'alice' }, /members/],
        [{ id: 'ok', name: 'x', members: ['alice', 'bad user'] }, /members\/1/],
        [{ id: 'ok', name: 'x', members: [42] }, /members\/0/],
        [{ id: 7, name: 'x', members: [] }, /id/],
        [{ id: 'ok', name: 'x', members: [], owner: 'alice' }, /owner/],
      ];
      for (const [body, field] of bad) {
        const res = await send<{ message: string }>(h, 'POST', '/api/groups', ADMIN, body);
        t.match(res, { status: 400, body: errorShape(400, 'GW_VALIDATION') }, JSON.stringify(body));
        t.match(res.body.message, field, `${JSON.stringify(body)}: names the field`);
      }
      t.equal((await send(h, 'GET', '/api/groups/ok', ADMIN)).status, 404, 'none of them created a group');
      for (const [method, url] of [
        ['GET', '/api/groups/bad%20id'],
        ['PUT', '/api/groups/guild-1/members/bad%20user'],
        ['DELETE', '/api/groups/bad%20id/members/alice'],
        ['GET', '/api/users/bad%20user/groups'],
      ] as const) {
        t.match(await send(h, method, url, ADMIN), { status: 400, body: errorShape(400, 'GW_VALIDATION') }, `${method} ${url}`);
      }
    });

    await t.test('who may call what', async (t) => {
      const alice = h.token('alice');
      const dave = h.token('dave');
      for (const [method, url, body] of [
        ['POST', '/api/groups', { name: 'x', members: [] }],
        ['GET', '/api/groups/guild-1', undefined],
        ['PUT', '/api/groups/guild-1/members/dave', undefined],
        ['DELETE', '/api/groups/guild-1/members/alice', undefined],
        ['GET', '/api/users/alice/groups', undefined],
      ] as const) {
        t.match(await send(h, method, url, undefined, body), { status: 401, body: errorShape(401, 'GW_UNAUTHORIZED') }, `${method} ${url}: no token`);
        t.match(await send(h, method, url, 'not-a-token', body), { status: 401 }, `${method} ${url}: bad token`);
      }
      t.match(
        await send(h, 'POST', '/api/groups', alice, { name: 'mine', members: ['alice'] }),
        { status: 403, body: errorShape(403, 'GW_FORBIDDEN') },
        'create: admin only',
      );
      t.match(
        await send(h, 'PUT', '/api/groups/guild-1/members/dave', dave),
        { status: 403, body: errorShape(403, 'GW_FORBIDDEN') },
        'add: admin only, even oneself',
      );
      t.match(
        await send(h, 'DELETE', '/api/groups/guild-1/members/bob', alice),
        { status: 403, body: errorShape(403, 'GW_FORBIDDEN') },
        'a member cannot remove another',
      );
      t.match(await send(h, 'GET', '/api/users/bob/groups', alice), { status: 403, body: errorShape(403, 'GW_FORBIDDEN') }, "another user's groups");

      t.match(
        await send(h, 'GET', '/api/groups/guild-1', alice),
        { status: 200, body: { id: 'guild-1', members: ['alice', 'bob', 'carol'] } },
        'a member reads it',
      );
      const outsider = await send<{ message: string }>(h, 'GET', '/api/groups/guild-1', dave);
      const missing = await send<{ message: string }>(h, 'GET', '/api/groups/no-such-group', dave);
      t.match(outsider, { status: 404, body: errorShape(404, 'GW_UNKNOWN_GROUP') }, 'a non-member: 404');
      t.match(missing, { status: 404, body: errorShape(404, 'GW_UNKNOWN_GROUP') }, 'a missing group: the same 404');
      t.equal(outsider.body.message, 'no group guild-1', 'nothing tells them apart');
      t.equal(missing.body.message, 'no group no-such-group');
      t.match(
        await send(h, 'GET', '/api/groups/no-such-group', ADMIN),
        { status: 404, body: errorShape(404, 'GW_UNKNOWN_GROUP') },
        'admin: 404 for a missing group',
      );

      t.match(await send(h, 'GET', '/api/users/alice/groups', alice), { status: 200, body: { userId: 'alice', groups: ['guild-1'] } }, 'own groups');
      t.match(await send(h, 'GET', '/api/users/dave/groups', dave), { status: 200, body: { userId: 'dave', groups: [] } }, 'none');
    });

    await t.test('members: add, idempotent, full, remove, leave', async (t) => {
      t.match(await send(h, 'PUT', '/api/groups/guild-1/members/dave', ADMIN), { status: 200, body: { groupId: 'guild-1', userId: 'dave', status: 'added' } });
      t.match(await send(h, 'PUT', '/api/groups/guild-1/members/dave', ADMIN), { status: 200, body: { status: 'already_member' } }, 'again: already a member');
      t.match(
        await send(h, 'PUT', '/api/groups/guild-1/members/erin', ADMIN),
        { status: 409, body: errorShape(409, 'GW_TOO_MANY_MEMBERS') },
        'the fifth member',
      );
      t.match(
        await send(h, 'PUT', '/api/groups/guild-1/members/dave', ADMIN),
        { status: 200, body: { status: 'already_member' } },
        'a full group still knows its members',
      );
      t.match(await send(h, 'PUT', '/api/groups/no-such-group/members/dave', ADMIN), { status: 404, body: errorShape(404, 'GW_UNKNOWN_GROUP') });
      t.same((await send(h, 'GET', '/api/groups/guild-1', ADMIN)).body.members, ['alice', 'bob', 'carol', 'dave']);
      t.same((await send(h, 'GET', '/api/users/dave/groups', ADMIN)).body, { userId: 'dave', groups: ['guild-1'] });

      t.match(await send(h, 'DELETE', '/api/groups/guild-1/members/carol', ADMIN), {
        status: 200,
        body: { groupId: 'guild-1', userId: 'carol', status: 'removed' },
      });
      t.match(
        await send(h, 'DELETE', '/api/groups/guild-1/members/carol', ADMIN),
        { status: 200, body: { status: 'not_member' } },
        'admin: not a member (any more)',
      );
      t.match(await send(h, 'DELETE', '/api/groups/no-such-group/members/carol', ADMIN), { status: 404, body: errorShape(404, 'GW_UNKNOWN_GROUP') });
      t.match(await send(h, 'PUT', '/api/groups/guild-1/members/erin', ADMIN), { status: 200, body: { status: 'added' } }, 'room again once someone left');

      const dave = h.token('dave');
      t.match(
        await send(h, 'DELETE', '/api/groups/guild-1/members/dave', dave),
        { status: 200, body: { userId: 'dave', status: 'removed' } },
        'a member leaves',
      );
      const again = await send<{ message: string }>(h, 'DELETE', '/api/groups/guild-1/members/dave', dave);
      t.match(again, { status: 404, body: errorShape(404, 'GW_UNKNOWN_GROUP') }, 'a player who is no member: 404, the group is not revealed');
      t.match(await send(h, 'DELETE', '/api/groups/no-such-group/members/dave', dave), { status: 404, body: { message: 'no group no-such-group' } });
      t.equal(again.body.message, 'no group guild-1');
      t.match(await send(h, 'GET', '/api/groups/guild-1', dave), { status: 404 }, 'and can no longer read it');
      t.same((await send(h, 'GET', '/api/groups/guild-1', ADMIN)).body.members, ['alice', 'bob', 'erin']);
      t.same((await send(h, 'GET', '/api/users/carol/groups', h.token('carol'))).body, { userId: 'carol', groups: [] });
    });

    await t.test('ids with ":" in paths, plain or percent-encoded', async (t) => {
      t.equal((await send(h, 'POST', '/api/groups', ADMIN, { id: 'clan:eu:1', name: 'Clan', members: ['team:red'] })).status, 201);
      t.match(await send(h, 'PUT', '/api/groups/clan:eu:1/members/team:blue', ADMIN), {
        status: 200,
        body: { groupId: 'clan:eu:1', userId: 'team:blue', status: 'added' },
      });
      t.match(await send(h, 'PUT', '/api/groups/clan%3Aeu%3A1/members/team%3Ablue', ADMIN), {
        status: 200,
        body: { groupId: 'clan:eu:1', userId: 'team:blue', status: 'already_member' },
      });
      t.match(await send(h, 'GET', '/api/groups/clan%3Aeu%3A1', h.token('team:red')), { status: 200, body: { members: ['team:blue', 'team:red'] } });
      t.match(await send(h, 'GET', '/api/users/team%3Ared/groups', h.token('team:red')), { status: 200, body: { userId: 'team:red', groups: ['clan:eu:1'] } });
      t.match(await send(h, 'DELETE', '/api/groups/clan:eu:1/members/team%3Ablue', h.token('team:blue')), { status: 200, body: { status: 'removed' } });
    });

    await t.test("membership changes move the members' live sessions in and out of the group's room", async (t) => {
      const open = async (userId: string) => {
        const { client } = await TestClient.open(`${h.wsUrl}/ws?token=${h.token(userId)}`);
        clients.push(client);
        return client;
      };
      await Promise.all(['frank', 'gina', 'hank'].map(open));
      t.equal((await send(h, 'POST', '/api/groups', ADMIN, { id: 'party', name: 'Party', members: ['frank', 'gina'] })).status, 201);
      await eventually(async () => (await roomMembers(h, 'group:party')).join() === 'frank,gina');
      t.pass('the first members are in the room');
      t.equal((await send(h, 'PUT', '/api/groups/party/members/hank', ADMIN)).status, 200);
      await eventually(async () => (await roomMembers(h, 'group:party')).join() === 'frank,gina,hank');
      t.pass('an added member enters it');
      t.equal((await send(h, 'DELETE', '/api/groups/party/members/gina', h.token('gina'))).status, 200);
      await eventually(async () => (await roomMembers(h, 'group:party')).join() === 'frank,hank');
      t.pass('a member who left leaves it');
      t.equal((await send(h, 'DELETE', '/api/groups/party/members/frank', ADMIN)).status, 200);
      await eventually(async () => (await roomMembers(h, 'group:party')).join() === 'hank');
      t.pass('a removed member leaves it');
    });

    await t.test('a database failure is a 503 without internals', async (t) => {
      const store = h.app.groups;
      const own = Object.getOwnPropertyDescriptor(store, 'groupsOf');
      store.groupsOf = () => Promise.reject(new Error('connection refused at 10.0.0.7:5432'));
      t.teardown(() => {
        if (own) Object.defineProperty(store, 'groupsOf', own);
        else delete (store as Partial<typeof store>).groupsOf;
      });
      const res = await send<{ message: string }>(h, 'GET', '/api/users/alice/groups', ADMIN);
      t.match(res, { status: 503, body: errorShape(503, 'GW_UNAVAILABLE') });
      t.notMatch(res.body.message, /10\.0\.0\.7|refused/, 'no internals');
      t.ok(res.headers['retry-after'], 'Retry-After');
    });
  });
}
