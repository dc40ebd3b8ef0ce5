/**
 * GET /api/online/players/:userId once the online store has forgotten an offline player
 * (PRESENCE_OFFLINE_TTL_S after their logout was written): the answer comes from the database,
 * offline, with the last logical session's node, start, end and reason; 404 stays for users the
 * database never saw either. On the embedded defaults (memory store) and on Redis + PostgreSQL.
 */
import t from 'tap';
import { CloseCode } from '../../src/protocol/close-codes.ts';
import { buildTestApp, eventually, TEST_ADMIN_TOKEN, type Backend } from '../helpers/build.ts';
import { TestClient } from '../helpers/ws-client.ts';
import { call, errorShape } from './http.ts';

/** Nobody times out during the suite; offline players are forgotten 1 s after their logout is written. */
const ENV = { HEARTBEAT_TIMEOUT_MS: '60000', WS_PING_INTERVAL_MS: '600000', PRESENCE_OFFLINE_TTL_S: '1' };
const ADMIN = TEST_ADMIN_TOKEN;

for (const backend of ['embedded', 'real'] as Backend[]) {
  t.test(`player status from the database (${backend})`, async (t) => {
    const h = await buildTestApp(t, backend, ENV);
    if (!h) return;
    const status = (userId: string) => call(h, 'GET', `/api/online/players/${userId}`, { token: ADMIN });

    const before = Date.now();
    const { client } = await TestClient.open(`${h.wsUrl}/ws?token=${h.token('frida', { name: 'Frida' })}`);
    const { client: other } = await TestClient.open(`${h.wsUrl}/ws?token=${h.token('gus')}`);
    t.teardown(() => Promise.all([client.terminate(), other.terminate()]));

    t.same((await call(h, 'POST', '/api/online/logout', { token: ADMIN, body: { userId: 'frida' } })).body, { loggedOut: true });
    t.equal((await client.closed).code, CloseCode.LOGGED_OUT);
    // Answered by the store until 1 s after the write (or already by the database: the same values).
    const written = await eventually(async () => {
      const s = await status('frida');
      return s.body.lastSpiritGainTime !== null ? s.body : undefined;
    });
    t.match(written, { status: 'offline', logoutReason: 'logout', nodeId: h.config.NODE_ID }, 'offline, logout written');

    // The logout is in the database: 1 s later the store forgets the player.
    await eventually(async () => (await h.app.presence.getPlayer('frida')) === null, 10_000);
    const fromDatabase = await status('frida');
    t.equal(fromDatabase.status, 200, 'not a 404: the database knows the player');
    const [row] = await h.app.players.listSessions('frida', 1);
    t.same(
      fromDatabase.body,
      {
        userId: 'frida',
        username: 'Frida',
        status: 'offline',
        graceUntil: null,
        nodeId: h.config.NODE_ID,
        sessions: 0,
        connectedAt: row?.connectedAt.getTime(),
        lastHeartbeat: null,
        logoutTime: written.logoutTime,
        logoutReason: 'logout',
        lastSpiritGainTime: written.lastSpiritGainTime,
      },
      'the last logical session as the database recorded it',
    );
    t.ok((fromDatabase.body.connectedAt as number) >= before - 5, 'connectedAt is the login time');
    t.equal(fromDatabase.body.logoutTime, row?.disconnectedAt?.getTime(), 'logoutTime is the PlayerSession row end');

    t.match((await status('gus')).body, { status: 'online', sessions: 1 }, 'an online player is still answered by the store');
    const missing = await status('never-seen');
    t.equal(missing.status, 404, 'a user the database never saw either: 404');
    t.match(missing.body, errorShape(404, 'GW_NOT_FOUND'));

    // Only the database knows this one, and its newest logical session is still open there (its
    // logout not written yet, e.g. the store lost it): offline, reason unknown, last written logout.
    const at = Date.UTC(2026, 0, 1);
    await h.app.players.recordLogouts([
      { userId: 'hal', username: 'Hal', logicalSessionId: 'hal-1', nodeId: 'gw-a', epoch: 1, connectedAt: at, logoutAt: at + 60_000, reason: 'timeout' },
    ]);
    await h.app.players.recordLogins([{ userId: 'hal', username: 'Hal', loginAt: at + 120_000, session: { id: 'hal-2', nodeId: 'gw-b', epoch: 2 } }]);
    t.match(
      (await status('hal')).body,
      {
        status: 'offline',
        nodeId: 'gw-b',
        connectedAt: at + 120_000,
        lastHeartbeat: null,
        logoutTime: at + 60_000,
        logoutReason: null,
        lastSpiritGainTime: at + 60_000,
      },
      'an open newest session: its node and start, the last written logout, no reason',
    );

    // Back again: the store knows the player, online, in a new logical session.
    const again = await TestClient.open(`${h.wsUrl}/ws?token=${h.token('frida', { name: 'Frida' })}`);
    t.teardown(() => again.client.terminate());
    t.match((await status('frida')).body, { status: 'online', sessions: 1, logoutTime: null, logoutReason: null });
  });
}
