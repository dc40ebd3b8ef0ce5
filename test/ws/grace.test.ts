/**
 * The logout grace period (LOGOUT_GRACE_MS): after a client close the player shows
 * `reconnecting`; a reconnect within the grace touches nothing (no logout, no database write);
 * otherwise one logout, stamped with the time the connection ended. Heartbeat timeouts and REST
 * logouts never wait.
 */
import t from 'tap';
import { CloseCode } from '../../src/protocol/close-codes.ts';
import { buildTestApp, eventually, logLines, TEST_ADMIN_TOKEN, type Backend } from '../helpers/build.ts';
import { TestClient } from '../helpers/ws-client.ts';

for (const backend of ['embedded', 'real'] as Backend[]) {
  t.test(`grace period (${backend})`, async (t) => {
    const h = await buildTestApp(t, backend, {
      LOGOUT_GRACE_MS: '2500',
      HEARTBEAT_TIMEOUT_MS: '1500',
      WATCHDOG_INTERVAL_MS: '50',
      WS_PING_INTERVAL_MS: '600000',
    });
    if (!h) return;
    const url = (u: string) => `${h.wsUrl}/ws?token=${h.token(u)}`;
    const status = async (u: string) => {
      const res = await fetch(`${h.baseUrl}/api/online/players/${u}`, { headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` } });
      return (await res.json()) as { status: string; graceUntil: number | null; logoutTime: number | null; lastSpiritGainTime: number | null };
    };
    const logouts = (u: string) => logLines(h.logs, 'user logged out').filter((l) => l.userId === u);

    await t.test('a reconnect within the grace: no logout, database untouched', async (t) => {
      const { client } = await TestClient.open(url('blip'));
      client.startPing(100);
      const closedAt = Date.now();
      await client.close();
      const during = await eventually(async () => {
        const s = await status('blip');
        return s.status === 'reconnecting' ? s : undefined;
      });
      t.ok(during.graceUntil! >= closedAt + 2500 - 50, 'graceUntil = end + grace');
      const { client: again } = await TestClient.open(url('blip'));
      again.startPing(100);
      t.equal((await status('blip')).status, 'online');
      await new Promise((resolve) => setTimeout(resolve, 3500)); // well past the first grace
      t.equal((await status('blip')).status, 'online', 'still online');
      t.equal(logouts('blip').length, 0, 'no logout');
      const sessions = await h.app.players.listSessions('blip', 10);
      t.equal(sessions.length, 1, 'one logical session');
      t.equal(sessions[0]!.disconnectedAt, null, 'never closed');
      t.equal((await h.app.players.getUser('blip'))?.lastLogoutAt, null, 'never stamped');
      await again.close();
    });

    await t.test('no reconnect: one logout after the grace, stamped with the disconnect time', async (t) => {
      const { client } = await TestClient.open(url('gone'));
      const closedAt = Date.now();
      await client.close();
      await eventually(async () => (await status('gone')).status === 'reconnecting');
      // No row yet is fine too: a login's row is written in a batch a few milliseconds later.
      t.equal((await h.app.players.getUser('gone'))?.lastSpiritGainTime ?? null, null, 'not stamped during the grace');
      const after = await eventually(async () => {
        const s = await status('gone');
        return s.status === 'offline' && s.lastSpiritGainTime ? s : undefined;
      }, 10_000);
      t.ok(
        after.lastSpiritGainTime! >= closedAt - 20 && after.lastSpiritGainTime! < closedAt + 1000,
        'stamped with the time the connection ended, not the grace end',
      );
      t.equal(logouts('gone').length, 1);
      t.equal(logouts('gone')[0]!.reason, 'closed');
    });

    await t.test('a heartbeat timeout does not wait', async (t) => {
      const { client } = await TestClient.open(url('silent'), { autoPong: false });
      t.equal((await client.closed).code, CloseCode.HEARTBEAT_TIMEOUT);
      const s = await eventually(async () => {
        const st = await status('silent');
        return st.status !== 'online' ? st : undefined;
      });
      t.equal(s.status, 'offline', 'straight to offline, never reconnecting');
    });

    await t.test('a REST logout does not wait', async (t) => {
      const { client } = await TestClient.open(url('ejected'));
      client.startPing(100);
      const res = await fetch(`${h.baseUrl}/api/online/logout`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ userId: 'ejected' }),
      });
      t.same(await res.json(), { loggedOut: true });
      t.equal((await client.closed).code, CloseCode.LOGGED_OUT);
      t.equal((await status('ejected')).status, 'offline');
    });
  });
}
