/**
 * The REST API against real WebSocket sessions, on the embedded defaults and on real Redis +
 * PostgreSQL: player status, logout by the admin and by the player, the 401/403 rules, the
 * one error format (400 naming the field, 404, 503 and 500 without internals) and /ws/stats.
 */
import t from 'tap';
import { CloseCode } from '../../src/protocol/close-codes.ts';
import { buildTestApp, eventually, logLines, TEST_ADMIN_TOKEN, type Backend, type TestApp } from '../helpers/build.ts';
import { TestClient } from '../helpers/ws-client.ts';
import { call, errorShape } from './http.ts';

/** Policies, not timing: nobody times out during the suite. */
const ENV = { HEARTBEAT_TIMEOUT_MS: '60000', WS_PING_INTERVAL_MS: '600000' };
const ADMIN = TEST_ADMIN_TOKEN;

const ADMIN_ROUTES = ['/api/online/players', '/api/online/players/alice', '/ws/stats'] as const;

async function player(h: TestApp, userId: string, name?: string) {
  const token = h.token(userId, name ? { name } : {});
  const { client, connected } = await TestClient.open(`${h.wsUrl}/ws?token=${token}`);
  return { client, connected, token };
}

for (const backend of ['embedded', 'real'] as Backend[]) {
  t.test(`online API (${backend})`, async (t) => {
    const h = await buildTestApp(t, backend, ENV);
    if (!h) return;
    const clients: TestClient[] = [];
    t.teardown(() => Promise.all(clients.map((c) => c.terminate())));

    await t.test('401 without a valid token, on every route', async (t) => {
      const bad = [undefined, 'Bearer', 'Bearer not-the-admin-token', 'Basic dXNlcjpwYXNz', `Bearer ${ADMIN}x`, `Bearer ${ADMIN.slice(0, -1)}`];
      for (const url of ADMIN_ROUTES) {
        for (const authorization of bad) {
          const r = await call(h, 'GET', url, authorization === undefined ? {} : { authorization });
          t.equal(r.status, 401, `${url} with ${authorization ?? 'no header'}`);
          t.match(r.body, errorShape(401, 'GW_UNAUTHORIZED'));
        }
      }
      for (const authorization of bad) {
        // Authentication comes first: an invalid body does not turn a 401 into a 400.
        const r = await call(h, 'POST', '/api/online/logout', { body: { nope: 1 }, ...(authorization === undefined ? {} : { authorization }) });
        t.equal(r.status, 401, `logout with ${authorization ?? 'no header'}`);
        t.match(r.body, errorShape(401, 'GW_UNAUTHORIZED'));
      }
      const { createSigner } = await import('fast-jwt');
      const expired = createSigner({ key: h.config.AUTH_JWT_SECRET! })({ sub: 'alice', exp: Math.floor(Date.now() / 1000) - 60 });
      t.match((await call(h, 'GET', '/ws/stats', { token: expired })).body, { statusCode: 401, message: /expired/ });
    });

    await t.test('403 with a player token on admin-only routes', async (t) => {
      const token = h.token('alice');
      for (const url of ADMIN_ROUTES) {
        const r = await call(h, 'GET', url, { token });
        t.equal(r.status, 403, url);
        t.match(r.body, errorShape(403, 'GW_FORBIDDEN'));
      }
    });

    await t.test('players created by WebSocket sessions: list and status', async (t) => {
      const before = Date.now();
      const alice = await player(h, 'alice', 'Alice');
      const bob = await player(h, 'bob');
      clients.push(alice.client, bob.client);

      const list = await call<{ players: Array<Record<string, unknown>>; total: number; nextCursor?: string }>(h, 'GET', '/api/online/players', {
        token: ADMIN,
      });
      t.equal(list.status, 200);
      t.equal(list.body.total, 2);
      t.notOk('nextCursor' in list.body, 'one page holds everything');
      t.same(
        list.body.players.map((p) => p.userId),
        ['alice', 'bob'],
        'userId order',
      );
      const a = list.body.players[0]!;
      t.match(a, { userId: 'alice', username: 'Alice', nodeId: h.config.NODE_ID, sessions: 1 });
      t.ok((a.connectedAt as number) >= before - 5 && (a.connectedAt as number) <= Date.now(), 'connectedAt is the login time (ms)');
      t.type(a.lastHeartbeat, 'number');
      t.same(Object.keys(a).sort(), ['connectedAt', 'lastHeartbeat', 'nodeId', 'sessions', 'status', 'userId', 'username']);
      t.equal(a.status, 'online');

      const here = await call<{ players: unknown[] }>(h, 'GET', `/api/online/players?nodeId=${h.config.NODE_ID}`, { token: ADMIN });
      t.equal(here.body.players.length, 2, 'nodeId filter: this node');
      const elsewhere = await call<{ players: unknown[]; total: number }>(h, 'GET', '/api/online/players?nodeId=gw-elsewhere', { token: ADMIN });
      t.equal(elsewhere.status, 200);
      t.same(elsewhere.body.players, [], 'nodeId filter: another node');
      t.equal(elsewhere.body.total, 2, 'total is the cluster count');

      const status = await call(h, 'GET', '/api/online/players/alice', { token: ADMIN });
      t.equal(status.status, 200);
      t.match(status.body, {
        userId: 'alice',
        username: 'Alice',
        status: 'online',
        nodeId: h.config.NODE_ID,
        sessions: 1,
        logoutTime: null,
        logoutReason: null,
        lastSpiritGainTime: null,
      });
    });

    await t.test('logout by the admin: 4002, offline, database stamped, idempotent', async (t) => {
      const [alice] = clients;
      const r = await call(h, 'POST', '/api/online/logout', { token: ADMIN, body: { userId: 'alice' } });
      t.equal(r.status, 200);
      t.same(r.body, { loggedOut: true });
      t.equal((await alice!.closed).code, CloseCode.LOGGED_OUT, 'closed with 4002');

      const status = await eventually(async () => {
        const s = await call(h, 'GET', '/api/online/players/alice', { token: ADMIN });
        return s.body.lastSpiritGainTime !== null ? s : undefined;
      });
      t.match(status.body, { status: 'offline', sessions: 0, logoutReason: 'logout', nodeId: h.config.NODE_ID });
      t.type(status.body.logoutTime, 'number');
      t.equal(status.body.lastSpiritGainTime, status.body.logoutTime, 'last_spirit_gain_time = logout time');

      const again = await call(h, 'POST', '/api/online/logout', { token: ADMIN, body: { userId: 'alice' } });
      t.equal(again.status, 200);
      t.same(again.body, { loggedOut: false }, 'second call: loggedOut false');
      await h.app.gateway.settled();
      const lines = logLines(h.logs, 'user logged out').filter((l) => l.userId === 'alice');
      t.equal(lines.length, 1, 'one logout');
      t.equal(lines[0]?.reason, 'logout');

      const list = await call<{ players: Array<{ userId: string }>; total: number }>(h, 'GET', '/api/online/players', { token: ADMIN });
      t.same(
        list.body.players.map((p) => p.userId),
        ['bob'],
      );
      t.equal(list.body.total, 1);
    });

    await t.test('a player may log out only themself', async (t) => {
      const carol = await player(h, 'carol');
      clients.push(carol.client);
      const bobToken = h.token('bob');
      const denied = await call(h, 'POST', '/api/online/logout', { token: bobToken, body: { userId: 'carol' } });
      t.equal(denied.status, 403);
      t.match(denied.body, errorShape(403, 'GW_FORBIDDEN'));
      t.equal((await h.app.presence.getPlayer('carol'))?.status, 'online', 'carol untouched');

      const own = await call(h, 'POST', '/api/online/logout', { token: bobToken, body: { userId: 'bob' } });
      t.equal(own.status, 200);
      t.same(own.body, { loggedOut: true });
      t.equal((await clients[1]!.closed).code, CloseCode.LOGGED_OUT);
      t.same((await call(h, 'POST', '/api/online/logout', { token: bobToken, body: { userId: 'bob' } })).body, { loggedOut: false });

      const carolSelf = await call(h, 'POST', '/api/online/logout', { token: carol.token, body: { userId: 'carol' } });
      t.same(carolSelf.body, { loggedOut: true });
      t.equal((await carol.client.closed).code, CloseCode.LOGGED_OUT);
    });

    await t.test('a user who reconnected: the live session closes with 4002, one logout', async (t) => {
      // SESSION_POLICY=replace (default): the second connection replaced the first (4001).
      const first = await player(h, 'dave');
      const second = await player(h, 'dave');
      clients.push(first.client, second.client);
      t.equal((await first.client.closed).code, CloseCode.REPLACED);
      const r = await call(h, 'POST', '/api/online/logout', { token: ADMIN, body: { userId: 'dave' } });
      t.same(r.body, { loggedOut: true });
      t.equal((await second.client.closed).code, CloseCode.LOGGED_OUT);
      await h.app.gateway.settled();
      t.equal(logLines(h.logs, 'user logged out').filter((l) => l.userId === 'dave').length, 1);
    });

    await t.test('status: 404 for a user never seen, database-only users are offline', async (t) => {
      const missing = await call(h, 'GET', '/api/online/players/nobody-ever', { token: ADMIN });
      t.equal(missing.status, 404);
      t.match(missing.body, errorShape(404, 'GW_NOT_FOUND'));
      t.match(missing.body.message, /nobody-ever/);

      // A user the online store has forgotten (a restarted single node) but the database knows.
      const at = Date.UTC(2025, 0, 1);
      await h.app.players.recordLogins([{ userId: 'legacy', username: 'Legacy', loginAt: at }]);
      const legacy = await call(h, 'GET', '/api/online/players/legacy', { token: ADMIN });
      t.equal(legacy.status, 200);
      t.match(legacy.body, { userId: 'legacy', username: 'Legacy', status: 'offline', nodeId: null, sessions: 0, connectedAt: null, lastSpiritGainTime: null });
    });

    await t.test('invalid query, params and body: 400 naming the field', async (t) => {
      const cases: Array<[string, RegExp]> = [
        ['/api/online/players?limit=0', /limit/],
        ['/api/online/players?limit=1001', /limit/],
        ['/api/online/players?limit=abc', /limit/],
        ['/api/online/players?limit=2.5', /limit/],
        ['/api/online/players?nodeId=bad%20node', /nodeId/],
        ['/api/online/players/bad%20user', /userId/],
        [`/api/online/players/${'x'.repeat(65)}`, /userId/],
        ['/ws/stats?scope=galaxy', /scope/],
      ];
      for (const [url, field] of cases) {
        const r = await call(h, 'GET', url, { token: ADMIN });
        t.equal(r.status, 400, url);
        t.match(r.body, errorShape(400, 'GW_VALIDATION'), url);
        t.match(r.body.message, field, `${url}: message names the field`);
      }
      for (const cursor of ['!!!', 'not-a-cursor', 'YWxpY2U=', 'x'.repeat(300)]) {
        const r = await call(h, 'GET', `/api/online/players?cursor=${encodeURIComponent(cursor)}`, { token: ADMIN });
        t.equal(r.status, 400, `cursor ${cursor.slice(0, 20)}`);
        t.match(r.body.code, /^GW_(INVALID_CURSOR|VALIDATION)$/);
        t.match(r.body.message, /cursor/);
      }
      // Well-formed but not what a store produced (padding): the store refuses it.
      t.match(await call(h, 'GET', '/api/online/players?cursor=YWxpY2U%3D', { token: ADMIN }), { status: 400, body: errorShape(400, 'GW_INVALID_CURSOR') });

      const bodies: Array<[unknown, RegExp]> = [
        [{}, /userId/],
        [{ userId: 'bad user!' }, /userId/],
        [{ userId: { id: 'alice' } }, /userId/],
        [{ userId: '' }, /userId/],
        [{ userId: 42 }, /userId/], // JSON bodies are not coerced: a number is not a userId
        [{ userId: true }, /userId/],
        [[], /body/],
      ];
      for (const [body, field] of bodies) {
        const r = await call(h, 'POST', '/api/online/logout', { token: ADMIN, body });
        t.equal(r.status, 400, JSON.stringify(body));
        t.match(r.body, errorShape(400, 'GW_VALIDATION'));
        t.match(r.body.message, field);
      }
      const text = await h.app.inject({
        method: 'POST',
        url: '/api/online/logout',
        headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
        payload: '{"userId":',
      });
      t.equal(text.statusCode, 400, 'malformed JSON');
      t.match(text.json(), { statusCode: 400, code: /^GW_/, error: 'Bad Request' });
      const unknown = await call(h, 'GET', '/api/online/nothing', { token: ADMIN });
      t.match(unknown, { status: 404, body: errorShape(404, 'GW_NOT_FOUND') });
    });

    await t.test('/ws/stats', async (t) => {
      const erin = await player(h, 'erin');
      const frank = await player(h, 'frank');
      clients.push(erin.client, frank.client);
      erin.client.send({ type: 'message', to: 'frank', content: 'hi', id: 'm1' });
      await frank.client.next('message');
      await erin.client.next('ack');
      await erin.client.ping();

      const r = await call<Record<string, any>>(h, 'GET', '/ws/stats', { token: ADMIN });
      t.equal(r.status, 200);
      const s = r.body;
      t.match(s, {
        nodeId: h.config.NODE_ID,
        scope: 'node',
        draining: false,
        connections: 2,
        users: 2,
        sendQueueDepth: { p50: Number, p99: Number, max: Number },
      });
      t.ok(s.uptimeSeconds > 0, 'uptime');
      t.ok(s.messagesIn >= 1 && s.messagesOut >= 1, 'message counters');
      t.ok(s.framesIn >= 2, 'frames counted');
      t.ok(s.connectionsOpened >= 7 && s.connectionsClosed >= 5, 'connections opened / closed');
      t.equal(s.droppedMessages, 0);
      t.equal(s.heartbeatTimeouts, 0);
      t.ok(s.logoutsByReason.logout >= 4, 'logouts by reason');
      t.type(s.pendingLogouts, 'number');
      t.ok(s.sendQueueDepth.p50 <= s.sendQueueDepth.p99 && s.sendQueueDepth.p99 <= s.sendQueueDepth.max);
      t.equal((await call(h, 'GET', '/ws/stats?scope=node', { token: ADMIN })).status, 200);
      const single = await call<{ scope: string; nodes: Array<{ nodeId: string }>; missing: string[] }>(h, 'GET', '/ws/stats?scope=cluster', { token: ADMIN });
      t.equal(single.body.scope, 'cluster', 'a single node is a cluster of one');
      t.same(
        single.body.nodes.map((n) => n.nodeId),
        [h.config.NODE_ID],
      );
      t.same(single.body.missing, []);
    });

    await t.test('failures answer coded errors without internals', async (t) => {
      const store = h.app.presence;
      const secret = 'ECONNREFUSED 10.1.2.3:6379 at /srv/secret/path.js:42';
      const restore: Array<() => void> = [];
      const breakMethod = <K extends 'listOnline' | 'getPlayer' | 'forceLogout'>(name: K) => {
        const original = store[name];
        (store as unknown as Record<string, unknown>)[name] = async () => {
          throw new Error(secret);
        };
        restore.push(() => ((store as unknown as Record<string, unknown>)[name] = original));
      };
      breakMethod('listOnline');
      breakMethod('getPlayer');
      breakMethod('forceLogout');
      try {
        const answers = [
          await call(h, 'GET', '/api/online/players', { token: ADMIN }),
          await call(h, 'GET', '/api/online/players/erin', { token: ADMIN }),
          await call(h, 'POST', '/api/online/logout', { token: ADMIN, body: { userId: 'erin' } }),
        ];
        for (const r of answers) {
          t.equal(r.status, 503);
          t.match(r.body, errorShape(503, 'GW_UNAVAILABLE'));
          t.equal(r.headers['retry-after'], '2');
          t.notMatch(JSON.stringify(r.body), /ECONNREFUSED|secret|10\.1\.2\.3/, 'no internals');
        }
      } finally {
        for (const undo of restore) undo();
      }

      // A bug (not a dependency outage) is a 500 with a generic message.
      const gateway = h.app.gateway;
      const closeUser = gateway.closeUser;
      gateway.closeUser = () => {
        throw new TypeError(secret);
      };
      try {
        const r = await call(h, 'POST', '/api/online/logout', { token: ADMIN, body: { userId: 'nobody' } });
        t.equal(r.status, 500);
        t.same(r.body, { statusCode: 500, code: 'GW_INTERNAL', error: 'Internal Server Error', message: 'internal error' });
      } finally {
        gateway.closeUser = closeUser;
      }
    });
  });
}
