/**
 * Contract of the logout grace period (LOGOUT_GRACE_MS): the last connection's end leaves the
 * user `reconnecting`; a login within the grace resumes the same logical session and nothing is
 * logged out; otherwise expireGrace logs the user out stamped with the time the session ended.
 */
import { connect, type StoreTest } from './contract-helpers.ts';

export function runPresenceGraceContract(test: StoreTest): void {
  test('grace: the last end leaves the user reconnecting, nothing queued', async (t, { presence, outbox }) => {
    const login = await connect(presence, 'g1', 'A', 1000);
    const end = await presence.endSession({ userId: 'g1', nodeId: 'A', logicalSessionId: login.logicalSessionId, reason: 'closed', now: 2000, graceMs: 5000 });
    t.same(end, { stale: false, loggedOut: false, sessions: 0, graceUntil: 7000 });
    t.match(await presence.getPlayer('g1'), { status: 'reconnecting', sessions: 0, graceUntil: 7000, nodes: {} });
    t.equal(await outbox.countPendingLogouts(), 0, 'no logout queued during the grace');
    t.same(
      (await presence.listOnline({ limit: 10 })).players.map((p) => [p.userId, p.status]),
      [['g1', 'reconnecting']],
      'listed as reconnecting',
    );
    t.same(await presence.expireGrace(6999, 100), [], 'not before the deadline');
  });

  test('grace: a login within the grace resumes the same logical session', async (t, { presence, outbox }) => {
    const first = await connect(presence, 'g2', 'A', 1000);
    await presence.endSession({ userId: 'g2', nodeId: 'A', logicalSessionId: first.logicalSessionId, reason: 'shutdown', now: 2000, graceMs: 5000 });
    const again = await presence.login({ userId: 'g2', username: 'g2', nodeId: 'B', candidateLogicalSessionId: 'other', now: 3000 });
    t.equal(again.newLogicalSession, false, 'same logical session');
    t.equal(again.logicalSessionId, first.logicalSessionId);
    t.equal(again.epoch, first.epoch + 1, 'newer epoch');
    const player = await presence.getPlayer('g2');
    t.match(player, { status: 'online', sessions: 1, nodes: { B: 1 }, connectedAt: 1000 });
    t.notOk(player && 'graceUntil' in player, 'grace cleared');
    t.same(await presence.expireGrace(100_000, 100), [], 'the expired grace does nothing');
    t.equal(await outbox.countPendingLogouts(), 0, 'never logged out');
    t.equal((await presence.getPlayer('g2'))?.status, 'online');
  });

  test('grace: expiry logs out stamped with the end time, exactly once', async (t, { presence, outbox }) => {
    const login = await connect(presence, 'g3', 'A', 1000);
    await presence.endSession({ userId: 'g3', nodeId: 'A', logicalSessionId: login.logicalSessionId, reason: 'error', now: 2000, graceMs: 5000 });
    const [record, ...rest] = await presence.expireGrace(9000, 100);
    t.same(rest, []);
    t.match(record, { userId: 'g3', logicalSessionId: login.logicalSessionId, nodeId: 'A', logoutAt: 2000, reason: 'error', connectedAt: 1000 });
    t.match(await presence.getPlayer('g3'), { status: 'offline', logoutTime: 2000, logoutReason: 'error' });
    t.equal(await presence.countOnline(), 0, 'off the online set');
    const [pending] = await outbox.claimPendingLogouts(10, 9000, 1000);
    t.match(pending?.record, { userId: 'g3', logoutAt: 2000 });
    t.same(await presence.expireGrace(20_000, 100), [], 'a second run finds nothing');
  });

  test('grace: a REST logout during the grace logs out at once and cancels the expiry', async (t, { presence, outbox }) => {
    const login = await connect(presence, 'g4', 'A', 1000);
    await presence.endSession({ userId: 'g4', nodeId: 'A', logicalSessionId: login.logicalSessionId, reason: 'closed', now: 2000, graceMs: 5000 });
    const forced = await presence.forceLogout({ userId: 'g4', reason: 'logout', now: 3000 });
    t.equal(forced.loggedOut, true);
    t.match(forced.record, { logoutAt: 3000, reason: 'logout' });
    t.same(await presence.expireGrace(100_000, 100), [], 'nothing left to expire');
    t.equal(await outbox.countPendingLogouts(), 1, 'one logout');
  });

  test('grace: expiry honours the limit and the order of deadlines', async (t, { presence }) => {
    for (let i = 0; i < 5; i++) {
      const login = await connect(presence, `gl${i}`, 'A', 1000);
      await presence.endSession({ userId: `gl${i}`, nodeId: 'A', logicalSessionId: login.logicalSessionId, reason: 'closed', now: 2000 + i, graceMs: 100 });
    }
    t.same(
      (await presence.expireGrace(10_000, 2)).map((r) => r.userId),
      ['gl0', 'gl1'],
    );
    t.same(
      (await presence.expireGrace(10_000, 10)).map((r) => r.userId),
      ['gl2', 'gl3', 'gl4'],
    );
  });

  test('grace 0 logs out at once, as before', async (t, { presence }) => {
    const login = await connect(presence, 'g5', 'A', 1000);
    const end = await presence.endSession({ userId: 'g5', nodeId: 'A', logicalSessionId: login.logicalSessionId, reason: 'closed', now: 2000, graceMs: 0 });
    t.equal(end.loggedOut, true);
    t.notOk('graceUntil' in end);
  });
}
