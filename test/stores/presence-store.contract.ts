/**
 * The PresenceStore contract: one suite that every implementation must pass, so the memory store
 * and the Redis store cannot drift apart. Times are passed explicitly (no sleeping). Paging,
 * prefixes and the grace period are in presence-store.contract-*.ts.
 */
import { runPresencePagingContract, runPresencePrefixContract } from './presence-store.contract-paging.ts';
import { runPresenceGraceContract } from './presence-store.contract-grace.ts';
import { connect, type StoreTest } from './contract-helpers.ts';
import type { LoginResult } from '../../src/presence/presence-store.ts';

/** A login result without `offlineQueueEmpty`, which a store may leave out (presence-store.ts). */
function withoutQueueHint(result: LoginResult): Omit<LoginResult, 'offlineQueueEmpty'> {
  const { offlineQueueEmpty: _hint, ...rest } = result;
  return rest;
}

export function runPresenceStoreContract(test: StoreTest): void {
  test('login starts a logical session and every login increments the epoch', async (t, { presence }) => {
    t.equal(await presence.getPlayer('u1'), null, 'never seen');
    const first = await presence.login({ userId: 'u1', username: 'Ann', nodeId: 'A', candidateLogicalSessionId: 's1', now: 1000 });
    t.same(withoutQueueHint(first), { epoch: 1, logicalSessionId: 's1', newLogicalSession: true, sessions: 1, previousNodes: {} });
    const second = await presence.login({ userId: 'u1', username: 'Ann', nodeId: 'A', candidateLogicalSessionId: 's2', now: 2000 });
    t.same(withoutQueueHint(second), { epoch: 2, logicalSessionId: 's1', newLogicalSession: false, sessions: 2, previousNodes: { A: 1 } });
    t.strictSame(await presence.getPlayer('u1'), {
      userId: 'u1',
      status: 'online',
      username: 'Ann',
      nodeId: 'A',
      nodes: { A: 2 },
      sessions: 2,
      epoch: 2,
      logicalSessionId: 's1',
      connectedAt: 1000,
      lastHeartbeat: 2000,
    });
    t.equal(await presence.countOnline(), 1);

    await presence.forceLogout({ userId: 'u1', reason: 'kick', now: 3000 });
    const third = await presence.login({ userId: 'u1', username: 'Ann2', nodeId: 'B', candidateLogicalSessionId: 's3', now: 4000 });
    t.same(withoutQueueHint(third), { epoch: 3, logicalSessionId: 's3', newLogicalSession: true, sessions: 1, previousNodes: {} });
    const player = await presence.getPlayer('u1');
    t.match(player, { status: 'online', username: 'Ann2', connectedAt: 4000, nodes: { B: 1 }, logicalSessionId: 's3' });
    t.notOk(player && 'logoutTime' in player, 'logoutTime cleared by the new session');
    t.notOk(player && 'logoutReason' in player, 'logoutReason cleared by the new session');
  });

  test('connections are counted per node', async (t, { presence }) => {
    const a1 = await connect(presence, 'u1', 'A', 1000);
    await connect(presence, 'u1', 'B', 1100);
    const third = await connect(presence, 'u1', 'A', 1200);
    t.same(third.previousNodes, { A: 1, B: 1 });
    t.equal(third.sessions, 3);
    t.match(await presence.getPlayer('u1'), { nodes: { A: 2, B: 1 }, sessions: 3, nodeId: 'A' });

    const sid = a1.logicalSessionId;
    const end = (nodeId: string, now: number) => presence.endSession({ userId: 'u1', nodeId, logicalSessionId: sid, reason: 'close', now });
    t.same(await end('A', 2000), { stale: false, loggedOut: false, sessions: 2 });
    t.same(await end('B', 2100), { stale: false, loggedOut: false, sessions: 1 });
    t.same((await presence.getPlayer('u1'))?.nodes, { A: 1 });
    t.same((await presence.listOnline({ limit: 10, nodeId: 'B' })).players, [], 'no longer on B');
    t.same(
      (await presence.listOnline({ limit: 10, nodeId: 'A' })).players.map((p) => p.userId),
      ['u1'],
    );
    t.match(await end('A', 2200), { stale: false, loggedOut: true, sessions: 0 });
    t.equal(await presence.countOnline(), 0);
  });

  test('the last end goes offline and queues the logout record', async (t, { presence, outbox }) => {
    const login = await connect(presence, 'u1', 'A', 1000);
    await connect(presence, 'u1', 'B', 1500);
    const sid = login.logicalSessionId;
    t.match(await presence.endSession({ userId: 'u1', nodeId: 'A', logicalSessionId: sid, reason: 'x', now: 2000 }), { loggedOut: false });
    t.equal(await outbox.countPendingLogouts(), 0, 'nothing queued while a connection lives');
    const result = await presence.endSession({ userId: 'u1', nodeId: 'B', logicalSessionId: sid, reason: 'client-close', now: 3000 });
    const record = {
      userId: 'u1',
      username: 'name-u1',
      logicalSessionId: sid,
      nodeId: 'B',
      epoch: 2,
      connectedAt: 1000,
      logoutAt: 3000,
      reason: 'client-close',
    };
    t.strictSame(result, { stale: false, loggedOut: true, sessions: 0, record });
    t.strictSame(await presence.getPlayer('u1'), {
      userId: 'u1',
      status: 'offline',
      username: 'name-u1',
      nodeId: 'B',
      nodes: {},
      sessions: 0,
      epoch: 2,
      logicalSessionId: sid,
      connectedAt: 1000,
      lastHeartbeat: 1500,
      logoutTime: 3000,
      logoutReason: 'client-close',
    });
    t.equal(await presence.countOnline(), 0);
    t.same(await presence.listOnline({ limit: 10 }), { players: [] });
    t.equal(await outbox.countPendingLogouts(), 1);
    t.strictSame(await outbox.claimPendingLogouts(10, 3000, 30_000), [{ id: sid, record, attempts: 0 }]);
  });

  test('a stale end never logs out a newer login', async (t, { presence, outbox }) => {
    t.same(await presence.endSession({ userId: 'ghost', nodeId: 'A', logicalSessionId: 'x', reason: 'close', now: 1 }), {
      stale: true,
      loggedOut: false,
      sessions: 0,
    });
    t.equal(await presence.getPlayer('ghost'), null, 'a stale end creates nothing');

    const old = await connect(presence, 'u1', 'A', 1000);
    await presence.forceLogout({ userId: 'u1', reason: 'kick', now: 2000 });
    const afterKick = await presence.getPlayer('u1');
    const endOld = (now: number) => presence.endSession({ userId: 'u1', nodeId: 'A', logicalSessionId: old.logicalSessionId, reason: 'close', now });
    t.same(await endOld(2500), { stale: true, loggedOut: false, sessions: 0 }, 'late close after a kick');
    t.strictSame(await presence.getPlayer('u1'), afterKick, 'nothing changed');

    const fresh = await connect(presence, 'u1', 'A', 3000);
    t.not(fresh.logicalSessionId, old.logicalSessionId);
    const before = await presence.getPlayer('u1');
    t.same(await endOld(3500), { stale: true, loggedOut: false, sessions: 1 }, 'late close of the previous session');
    t.strictSame(await presence.getPlayer('u1'), before, 'the newer login is untouched');
    t.equal(await presence.countOnline(), 1);
    t.equal(await outbox.countPendingLogouts(), 1, 'only the kick was queued');
  });

  test('ending the same connection twice cannot push counts negative', async (t, { presence, outbox }) => {
    const login = await connect(presence, 'u1', 'A', 1000);
    await connect(presence, 'u1', 'B', 1000);
    const end = (nodeId: string) => presence.endSession({ userId: 'u1', nodeId, logicalSessionId: login.logicalSessionId, reason: 'close', now: 2000 });
    t.same(await end('A'), { stale: false, loggedOut: false, sessions: 1 });
    t.same(await end('A'), { stale: true, loggedOut: false, sessions: 1 }, 'A holds no connection any more');
    t.match(await presence.getPlayer('u1'), { status: 'online', sessions: 1, nodes: { B: 1 } });
    t.match(await end('B'), { stale: false, loggedOut: true, sessions: 0 });
    t.same(await end('B'), { stale: true, loggedOut: false, sessions: 0 });
    t.match(await presence.getPlayer('u1'), { status: 'offline', sessions: 0, nodes: {} });
    t.equal(await outbox.countPendingLogouts(), 1);
  });

  test('endSessions ends each connection exactly as endSession would, in order, in one call', async (t, { presence, outbox }) => {
    const open = (userId: string, nodeId: string, connectionId: string) =>
      presence.login({ userId, username: `name-${userId}`, nodeId, candidateLogicalSessionId: `sid-${userId}`, connectionId, now: 1000 });
    await open('u1', 'A', 'c1');
    await open('u2', 'A', 'c2');
    await open('u2', 'B', 'c3'); // u2 stays online through its connection on B
    await open('u3', 'A', 'c4');
    await open('u4', 'A', 'c5');
    const end = (userId: string, connectionId: string, now: number, extra: { logicalSessionId?: string; graceMs?: number } = {}) => ({
      userId,
      nodeId: 'A',
      logicalSessionId: extra.logicalSessionId ?? `sid-${userId}`,
      connectionId,
      reason: 'timeout',
      now,
      ...(extra.graceMs === undefined ? {} : { graceMs: extra.graceMs }),
    });
    const results = await presence.endSessions([
      end('u1', 'c1', 2000),
      end('u2', 'c2', 2100),
      end('u1', 'c1', 2200), // the same connection again, in the same batch: stale
      end('u3', 'c4', 2300, { logicalSessionId: 'an-older-session' }), // compare-and-set: stale, u3 untouched
      end('u4', 'c5', 2400, { graceMs: 500 }),
      end('ghost', 'c9', 2500),
    ]);
    const record = (userId: string, logoutAt: number) => ({
      userId,
      username: `name-${userId}`,
      logicalSessionId: `sid-${userId}`,
      nodeId: 'A',
      epoch: 1,
      connectedAt: 1000,
      logoutAt,
      reason: 'timeout',
    });
    t.strictSame(results, [
      { stale: false, loggedOut: true, sessions: 0, record: record('u1', 2000) },
      { stale: false, loggedOut: false, sessions: 1 },
      { stale: true, loggedOut: false, sessions: 0 },
      { stale: true, loggedOut: false, sessions: 1 },
      { stale: false, loggedOut: false, sessions: 0, graceUntil: 2900 },
      { stale: true, loggedOut: false, sessions: 0 },
    ]);
    t.match(await presence.getPlayer('u1'), { status: 'offline', logoutTime: 2000, logoutReason: 'timeout', nodes: {} });
    t.match(await presence.getPlayer('u2'), { status: 'online', sessions: 1, nodes: { B: 1 } });
    t.match(await presence.getPlayer('u3'), { status: 'online', sessions: 1, nodes: { A: 1 } });
    t.match(await presence.getPlayer('u4'), { status: 'reconnecting', graceUntil: 2900 });
    t.equal(await presence.getPlayer('ghost'), null, 'a stale end creates nothing');
    t.strictSame(await outbox.claimPendingLogouts(10, 3000, 30_000), [{ id: 'sid-u1', record: record('u1', 2000), attempts: 0 }], 'one logout queued');
    t.same(await presence.endSessions([]), [], 'an empty batch is a no-op');

    // A bad input fails the whole call before anything changes.
    await t.rejects(presence.endSessions([end('u2', 'c3', 3000), end('u3', 'c4', Number.NaN)]), RangeError);
    t.match(await presence.getPlayer('u2'), { status: 'online', sessions: 1 }, 'nothing applied');
  });

  test('forceLogout ends every connection once', async (t, { presence, outbox }) => {
    t.same(await presence.forceLogout({ userId: 'ghost', reason: 'kick', now: 1 }), { loggedOut: false, nodes: {} });
    t.equal(await presence.getPlayer('ghost'), null);
    const login = await connect(presence, 'u1', 'A', 1000);
    await connect(presence, 'u1', 'A', 1100);
    await connect(presence, 'u1', 'B', 1200);
    await presence.flushHeartbeats('A', new Map([['u1', 1300]]));
    const result = await presence.forceLogout({ userId: 'u1', reason: 'rest-logout', now: 5000 });
    t.strictSame(result, {
      loggedOut: true,
      nodes: { A: 2, B: 1 },
      record: {
        userId: 'u1',
        username: 'name-u1',
        logicalSessionId: login.logicalSessionId,
        nodeId: 'B',
        epoch: 3,
        connectedAt: 1000,
        logoutAt: 5000,
        reason: 'rest-logout',
      },
    });
    t.match(await presence.getPlayer('u1'), { status: 'offline', nodes: {}, sessions: 0, logoutTime: 5000, logoutReason: 'rest-logout' });
    t.same(await presence.forceLogout({ userId: 'u1', reason: 'again', now: 6000 }), { loggedOut: false, nodes: {} });
    t.match(await presence.getPlayer('u1'), { logoutTime: 5000, logoutReason: 'rest-logout' }, 'second call changes nothing');
    t.equal(await outbox.countPendingLogouts(), 1);
    t.same((await presence.listOnline({ limit: 10, nodeId: 'A' })).players, []);
    t.equal(await presence.countOnline(), 0);
  });

  test('heartbeats are reflected in getPlayer and listOnline', async (t, { presence }) => {
    await presence.flushHeartbeats('A', new Map());
    await connect(presence, 'u1', 'A', 1000);
    await connect(presence, 'u2', 'B', 1000);
    await presence.flushHeartbeats('A', new Map([['u1', 5000]]));
    t.equal((await presence.getPlayer('u1'))?.lastHeartbeat, 5000);
    await presence.flushHeartbeats(
      'B',
      new Map([
        ['u1', 9000],
        ['u2', 7000],
      ]),
    );
    t.equal((await presence.getPlayer('u1'))?.lastHeartbeat, 5000, 'only live nodes count');
    const page = await presence.listOnline({ limit: 10 });
    t.same(
      page.players.map((p) => [p.userId, p.lastHeartbeat]),
      [
        ['u1', 5000],
        ['u2', 7000],
      ],
    );

    const u3 = await connect(presence, 'u3', 'A', 1000);
    await presence.flushHeartbeats('A', new Map([['u3', 8000]]));
    await presence.endSession({ userId: 'u3', nodeId: 'A', logicalSessionId: u3.logicalSessionId, reason: 'close', now: 8500 });
    await connect(presence, 'u3', 'A', 9000);
    t.equal((await presence.getPlayer('u3'))?.lastHeartbeat, 9000, 'the ended connection left no heartbeat behind');
  });

  test('input checks', async (t, { presence, outbox }) => {
    await t.rejects(connect(presence, 'u1', 'A', 1.5), RangeError, 'times are whole ms');
    await t.rejects(presence.flushHeartbeats('A', new Map([['u1', Number.NaN]])), RangeError);
    await t.rejects(presence.listOnline({ limit: 0 }), RangeError);
    await t.rejects(presence.listOnline({ limit: 1001 }), RangeError);
    await t.rejects(presence.listOnline({ limit: 10, cursor: '%%%' }), { code: 'GW_ERR_INVALID_CURSOR' });
    await t.rejects(outbox.claimPendingLogouts(0, 1, 1), RangeError);
    await t.resolves(presence.ping());
  });

  runPresencePagingContract(test);
  runPresencePrefixContract(test);
  runPresenceGraceContract(test);
}
