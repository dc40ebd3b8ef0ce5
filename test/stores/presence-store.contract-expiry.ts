/**
 * Contract of bounded presence storage (PRESENCE_OFFLINE_TTL_S): an offline user's presence
 * entry starts to expire when their logout is acked (written to the database), never before; a
 * login cancels it; the ack of a logical session the user has left since (they logged in again)
 * sets nothing. Memory runs it on a fake clock, Redis on real time with a short TTL
 * (presence-expiry.test.ts).
 */
import type { LogoutOutbox, PendingLogout } from '../../src/presence/logout-outbox.ts';
import type { PresenceStore } from '../../src/presence/presence-store.ts';
import { connect, type ExpiryTest } from './contract-helpers.ts';

/** Claims every due pending logout (the writer's step before the database write). */
const claimAll = (outbox: LogoutOutbox): Promise<PendingLogout[]> => outbox.claimPendingLogouts(1000, 10_000_000, 60_000);

/** One connection of the user on node A from `at`, ended at `at + 1000`: offline, logout queued. */
async function session(presence: PresenceStore, userId: string, at: number) {
  const login = await connect(presence, userId, 'A', at);
  const end = await presence.endSession({ userId, nodeId: 'A', logicalSessionId: login.logicalSessionId, reason: 'closed', now: at + 1000 });
  if (!end.loggedOut) throw new Error(`${userId} was not logged out`);
  return login;
}

export function runPresenceExpiryContract(test: ExpiryTest): void {
  test('offline expiry: set when the logout is acked, never before', async (t, { stores: { presence, outbox }, ttlOf, wait, ttlMs }) => {
    await connect(presence, 'stays', 'A', 1000);
    await session(presence, 'leaves', 1000);
    t.equal(await ttlOf('leaves'), null, 'offline, logout not written: no expiry');
    const claimed = await claimAll(outbox);
    t.same(
      claimed.map((p) => p.record.userId),
      ['leaves'],
    );
    t.equal(await ttlOf('leaves'), null, 'claimed, being written: no expiry');
    await wait(ttlMs + 50);
    t.match(await presence.getPlayer('leaves'), { status: 'offline', logoutReason: 'closed' }, 'kept while the logout is not in the database');

    await outbox.ackPendingLogouts(claimed);
    const ttl = await ttlOf('leaves');
    t.ok(typeof ttl === 'number' && ttl > 0 && ttl <= ttlMs, `acked: expires within the TTL (${ttl} of ${ttlMs} ms)`);
    t.equal(await ttlOf('stays'), null, 'an online user: no expiry');

    await wait(ttlMs + 50);
    t.equal(await presence.getPlayer('leaves'), null, 'gone after the TTL: the store no longer knows the player');
    t.equal(await ttlOf('leaves'), undefined);
    t.match(await presence.getPlayer('stays'), { status: 'online', sessions: 1 }, 'the online user is untouched');
    t.equal(await presence.countOnline(), 1);
    t.equal(await outbox.countPendingLogouts(), 0);
  });

  test('offline expiry: a login cancels it; the next logout starts it again', async (t, { stores: { presence, outbox }, ttlOf, wait, ttlMs }) => {
    const first = await session(presence, 'u1', 1000);
    await outbox.ackPendingLogouts(await claimAll(outbox));
    t.type(await ttlOf('u1'), 'number', 'expiring');

    const back = await presence.login({ userId: 'u1', username: 'u1', nodeId: 'B', candidateLogicalSessionId: 'second', now: 5000 });
    t.equal(back.newLogicalSession, true);
    t.equal(back.epoch, first.epoch + 1, 'the entry was kept: the epoch goes on');
    t.equal(await ttlOf('u1'), null, 'the login cancelled the expiry');
    await wait(ttlMs + 50);
    t.match(await presence.getPlayer('u1'), { status: 'online', logicalSessionId: 'second', nodes: { B: 1 } }, 'still there after the TTL');

    await presence.endSession({ userId: 'u1', nodeId: 'B', logicalSessionId: 'second', reason: 'timeout', now: 6000 });
    t.equal(await ttlOf('u1'), null, 'offline again, not yet written');
    await outbox.ackPendingLogouts(await claimAll(outbox));
    t.type(await ttlOf('u1'), 'number', 'the second logout, acked, starts the expiry again');
    await wait(ttlMs + 50);
    t.equal(await presence.getPlayer('u1'), null, 'gone');

    // After the removal the user starts over like one never seen.
    const fresh = await presence.login({ userId: 'u1', username: 'u1', nodeId: 'A', candidateLogicalSessionId: 'third', now: 9000 });
    t.match(fresh, { newLogicalSession: true, logicalSessionId: 'third', epoch: 1, sessions: 1 });
    t.equal(await ttlOf('u1'), null);
  });

  test('offline expiry: not set for a user who logged in again before the ack', async (t, { stores: { presence, outbox }, ttlOf, wait, ttlMs }) => {
    await session(presence, 'quick', 1000);
    const firstClaim = await claimAll(outbox);
    // Back while the first logout is being written.
    await presence.login({ userId: 'quick', username: 'quick', nodeId: 'A', candidateLogicalSessionId: 'quick-2', now: 3000 });
    await outbox.ackPendingLogouts(firstClaim);
    t.equal(await ttlOf('quick'), null, 'online in a newer logical session: no expiry');
    await wait(ttlMs + 50);
    t.match(await presence.getPlayer('quick'), { status: 'online', logicalSessionId: 'quick-2' });

    // Offline again, in the newer session: a late second ack of the old one still sets nothing.
    await presence.endSession({ userId: 'quick', nodeId: 'A', logicalSessionId: 'quick-2', reason: 'closed', now: 4000 });
    await outbox.ackPendingLogouts(firstClaim);
    t.equal(await ttlOf('quick'), null, "another logical session's ack does not expire this one");
    await outbox.ackPendingLogouts(await claimAll(outbox));
    t.type(await ttlOf('quick'), 'number', 'its own ack does');

    // Reconnecting (grace) is not offline: the old session's ack leaves it alone too.
    await session(presence, 'blip', 1000);
    const blipClaim = await claimAll(outbox);
    const again = await presence.login({ userId: 'blip', username: 'blip', nodeId: 'A', candidateLogicalSessionId: 'blip-2', now: 3000 });
    await presence.endSession({ userId: 'blip', nodeId: 'A', logicalSessionId: again.logicalSessionId, reason: 'closed', now: 3500, graceMs: 5000 });
    await outbox.ackPendingLogouts(blipClaim);
    t.equal(await ttlOf('blip'), null, 'reconnecting: no expiry');
    t.match(await presence.getPlayer('blip'), { status: 'reconnecting' });
  });

  test('offline expiry: every way of going offline expires once written', async (t, { stores: { presence, outbox }, ttlOf, wait, ttlMs }) => {
    await session(presence, 'ended', 1000);
    await connect(presence, 'forced', 'A', 1000);
    await connect(presence, 'forced', 'B', 1000);
    await presence.forceLogout({ userId: 'forced', reason: 'logout', now: 2000 });
    const graced = await connect(presence, 'graced', 'A', 1000);
    await presence.endSession({ userId: 'graced', nodeId: 'A', logicalSessionId: graced.logicalSessionId, reason: 'closed', now: 2000, graceMs: 100 });
    t.equal((await presence.expireGrace(2100, 10)).length, 1);
    const users = ['ended', 'forced', 'graced'];
    for (const userId of users) t.equal(await ttlOf(userId), null, `${userId}: offline, not yet written`);
    const claimed = await claimAll(outbox);
    t.same(claimed.map((p) => p.record.userId).sort(), users);
    await outbox.ackPendingLogouts(claimed);
    for (const userId of users) t.type(await ttlOf(userId), 'number', `${userId}: expiring`);
    await wait(ttlMs + 50);
    for (const userId of users) t.equal(await presence.getPlayer(userId), null, `${userId}: gone`);
  });

  test('offline expiry: the ack drops a heartbeat a racing flush left, and creates nothing', async (t, {
    stores: { presence, outbox },
    ttlOf,
    hasHeartbeat,
  }) => {
    await session(presence, 'late', 1000);
    // The node's flush collected the heartbeat before the end and wrote it after.
    await presence.flushHeartbeats('A', new Map([['late', 1900]]));
    t.equal(await hasHeartbeat('A', 'late'), true, 'a stray heartbeat of an offline user');
    const online = await connect(presence, 'live', 'A', 1000);
    await presence.flushHeartbeats('A', new Map([['live', 1900]]));

    await outbox.ackPendingLogouts(await claimAll(outbox));
    t.equal(await hasHeartbeat('A', 'late'), false, 'removed with the ack');
    // Acks naming users they do not match: an online user, and one never seen.
    await outbox.ackPendingLogouts([
      { id: 'an-old-session', record: { userId: 'live', nodeId: 'A' } },
      { id: 'nope', record: { userId: 'ghost', nodeId: 'A' } },
    ]);
    t.equal(await hasHeartbeat('A', 'live'), true, "an online user's heartbeat stays");
    t.equal(await ttlOf('live'), null);
    t.match(await presence.getPlayer('live'), { status: 'online', logicalSessionId: online.logicalSessionId, lastHeartbeat: 1900 });
    t.equal(await ttlOf('ghost'), undefined, 'no entry created for an unknown user');
    t.equal(await presence.getPlayer('ghost'), null);
  });
}
