/**
 * Contract of the logout grace period (LOGOUT_GRACE_MS): the last connection's end leaves the
 * user `reconnecting`; a login within the grace resumes the same logical session and nothing is
 * logged out; otherwise expireGrace logs the user out stamped with the time the session ended.
 */
import type { StoreTest } from './online-store.contract-helpers.ts';
import { connect } from './online-store.contract-helpers.ts';

export function runOnlineGraceContract(test: StoreTest): void {
  test('grace: the last end leaves the user reconnecting, nothing queued', async (t, store) => {
    const login = await connect(store, 'g1', 'A', 1000);
    const end = await store.endSession({ userId: 'g1', nodeId: 'A', logicalSessionId: login.logicalSessionId, reason: 'closed', now: 2000, graceMs: 5000 });
    t.same(end, { stale: false, loggedOut: false, sessions: 0, graceUntil: 7000 });
    t.match(await store.getPlayer('g1'), { status: 'reconnecting', sessions: 0, graceUntil: 7000, nodes: {} });
    t.equal(await store.countPendingLogouts(), 0, 'no logout queued during the grace');
    t.same((await store.listOnline({ limit: 10 })).players.map((p) => [p.userId, p.status]), [['g1', 'reconnecting']], 'listed as reconnecting');
    t.same(await store.expireGrace(6999, 100), [], 'not before the deadline');
  });

  test('grace: a login within the grace resumes the same logical session', async (t, store) => {
    const first = await connect(store, 'g2', 'A', 1000);
    await store.endSession({ userId: 'g2', nodeId: 'A', logicalSessionId: first.logicalSessionId, reason: 'shutdown', now: 2000, graceMs: 5000 });
    const again = await store.login({ userId: 'g2', username: 'g2', nodeId: 'B', candidateLogicalSessionId: 'other', now: 3000 });
    t.equal(again.newLogicalSession, false, 'same logical session');
    t.equal(again.logicalSessionId, first.logicalSessionId);
    t.equal(again.epoch, first.epoch + 1, 'newer epoch');
    const player = await store.getPlayer('g2');
    t.match(player, { status: 'online', sessions: 1, nodes: { B: 1 }, connectedAt: 1000 });
    t.notOk(player && 'graceUntil' in player, 'grace cleared');
    t.same(await store.expireGrace(100_000, 100), [], 'the expired grace does nothing');
    t.equal(await store.countPendingLogouts(), 0, 'never logged out');
    t.equal((await store.getPlayer('g2'))?.status, 'online');
  });

  test('grace: expiry logs out stamped with the end time, exactly once', async (t, store) => {
    const login = await connect(store, 'g3', 'A', 1000);
    await store.endSession({ userId: 'g3', nodeId: 'A', logicalSessionId: login.logicalSessionId, reason: 'error', now: 2000, graceMs: 5000 });
    const [record, ...rest] = await store.expireGrace(9000, 100);
    t.same(rest, []);
    t.match(record, { userId: 'g3', logicalSessionId: login.logicalSessionId, nodeId: 'A', logoutAt: 2000, reason: 'error', connectedAt: 1000 });
    t.match(await store.getPlayer('g3'), { status: 'offline', logoutTime: 2000, logoutReason: 'error' });
    t.equal(await store.countOnline(), 0, 'off the online set');
    const [pending] = await store.claimPendingLogouts(10, 9000, 1000);
    t.match(pending?.record, { userId: 'g3', logoutAt: 2000 });
    t.same(await store.expireGrace(20_000, 100), [], 'a second run finds nothing');
  });

  test('grace: a REST logout during the grace logs out at once and cancels the expiry', async (t, store) => {
    const login = await connect(store, 'g4', 'A', 1000);
    await store.endSession({ userId: 'g4', nodeId: 'A', logicalSessionId: login.logicalSessionId, reason: 'closed', now: 2000, graceMs: 5000 });
    const forced = await store.forceLogout({ userId: 'g4', reason: 'logout', now: 3000 });
    t.equal(forced.loggedOut, true);
    t.match(forced.record, { logoutAt: 3000, reason: 'logout' });
    t.same(await store.expireGrace(100_000, 100), [], 'nothing left to expire');
    t.equal(await store.countPendingLogouts(), 1, 'one logout');
  });

  test('grace: expiry honours the limit and the order of deadlines', async (t, store) => {
    for (let i = 0; i < 5; i++) {
      const login = await connect(store, `gl${i}`, 'A', 1000);
      await store.endSession({ userId: `gl${i}`, nodeId: 'A', logicalSessionId: login.logicalSessionId, reason: 'closed', now: 2000 + i, graceMs: 100 });
    }
    t.same((await store.expireGrace(10_000, 2)).map((r) => r.userId), ['gl0', 'gl1']);
    t.same((await store.expireGrace(10_000, 10)).map((r) => r.userId), ['gl2', 'gl3', 'gl4']);
  });

  test('grace 0 logs out at once, as before', async (t, store) => {
    const login = await connect(store, 'g5', 'A', 1000);
    const end = await store.endSession({ userId: 'g5', nodeId: 'A', logicalSessionId: login.logicalSessionId, reason: 'closed', now: 2000, graceMs: 0 });
    t.equal(end.loggedOut, true);
    t.notOk('graceUntil' in end);
  });
}
