/**
 * The OnlineStore contract: one suite that every implementation must pass, so the memory store
 * and the Redis store cannot drift apart. Times are passed explicitly (no sleeping).
 */
import type { Test } from 'tap';
import type { OnlineStore } from '../../src/presence/online-store.ts';
import { runOnlineClusterContract, type LoseData } from './online-store.contract-cluster.ts';
import { runOnlinePagingContract, runOnlinePrefixContract } from './online-store.contract-paging.ts';
import { runOnlineGraceContract } from './online-store.contract-grace.ts';
import { connect, type StoreTest } from './online-store.contract-helpers.ts';

/** Builds a fresh, empty store for one test (null: the backing service is unavailable). */
export type MakeStore = (t: Test) => Promise<OnlineStore | null>;

export type { LoseData };

export function runOnlineStoreContract(t: Test, name: string, makeStore: MakeStore, loseData: LoseData): void {
  const test: StoreTest = (title, body) =>
    t.test(`${name}: ${title}`, async (t) => {
      const store = await makeStore(t);
      if (!store) return;
      t.teardown(() => store.close());
      await body(t, store);
    });

  test('login starts a logical session and every login increments the epoch', async (t, store) => {
    t.equal(await store.getPlayer('u1'), null, 'never seen');
    const first = await store.login({ userId: 'u1', username: 'Ann', nodeId: 'A', candidateLogicalSessionId: 's1', now: 1000 });
    t.same(first, { epoch: 1, logicalSessionId: 's1', newLogicalSession: true, sessions: 1, previousNodes: {} });
    const second = await store.login({ userId: 'u1', username: 'Ann', nodeId: 'A', candidateLogicalSessionId: 's2', now: 2000 });
    t.same(second, { epoch: 2, logicalSessionId: 's1', newLogicalSession: false, sessions: 2, previousNodes: { A: 1 } });
    t.strictSame(await store.getPlayer('u1'), {
      userId: 'u1', status: 'online', username: 'Ann', nodeId: 'A', nodes: { A: 2 }, sessions: 2, epoch: 2,
      logicalSessionId: 's1', connectedAt: 1000, lastHeartbeat: 2000,
    });
    t.equal(await store.countOnline(), 1);

    await store.forceLogout({ userId: 'u1', reason: 'kick', now: 3000 });
    const third = await store.login({ userId: 'u1', username: 'Ann2', nodeId: 'B', candidateLogicalSessionId: 's3', now: 4000 });
    t.same(third, { epoch: 3, logicalSessionId: 's3', newLogicalSession: true, sessions: 1, previousNodes: {} });
    const player = await store.getPlayer('u1');
    t.match(player, { status: 'online', username: 'Ann2', connectedAt: 4000, nodes: { B: 1 }, logicalSessionId: 's3' });
    t.notOk(player && 'logoutTime' in player, 'logoutTime cleared by the new session');
    t.notOk(player && 'logoutReason' in player, 'logoutReason cleared by the new session');
  });

  test('connections are counted per node', async (t, store) => {
    const a1 = await connect(store, 'u1', 'A', 1000);
    await connect(store, 'u1', 'B', 1100);
    const third = await connect(store, 'u1', 'A', 1200);
    t.same(third.previousNodes, { A: 1, B: 1 });
    t.equal(third.sessions, 3);
    t.match(await store.getPlayer('u1'), { nodes: { A: 2, B: 1 }, sessions: 3, nodeId: 'A' });

    const sid = a1.logicalSessionId;
    const end = (nodeId: string, now: number) => store.endSession({ userId: 'u1', nodeId, logicalSessionId: sid, reason: 'close', now });
    t.same(await end('A', 2000), { stale: false, loggedOut: false, sessions: 2 });
    t.same(await end('B', 2100), { stale: false, loggedOut: false, sessions: 1 });
    t.same((await store.getPlayer('u1'))?.nodes, { A: 1 });
    t.same((await store.listOnline({ limit: 10, nodeId: 'B' })).players, [], 'no longer on B');
    t.same((await store.listOnline({ limit: 10, nodeId: 'A' })).players.map((p) => p.userId), ['u1']);
    t.match(await end('A', 2200), { stale: false, loggedOut: true, sessions: 0 });
    t.equal(await store.countOnline(), 0);
  });

  test('the last end goes offline and queues the logout record', async (t, store) => {
    const login = await connect(store, 'u1', 'A', 1000);
    await connect(store, 'u1', 'B', 1500);
    const sid = login.logicalSessionId;
    t.match(await store.endSession({ userId: 'u1', nodeId: 'A', logicalSessionId: sid, reason: 'x', now: 2000 }), { loggedOut: false });
    t.equal(await store.countPendingLogouts(), 0, 'nothing queued while a connection lives');
    const result = await store.endSession({ userId: 'u1', nodeId: 'B', logicalSessionId: sid, reason: 'client-close', now: 3000 });
    const record = {
      userId: 'u1', username: 'name-u1', logicalSessionId: sid, nodeId: 'B', epoch: 2, connectedAt: 1000, logoutAt: 3000,
      reason: 'client-close',
    };
    t.strictSame(result, { stale: false, loggedOut: true, sessions: 0, record });
    t.strictSame(await store.getPlayer('u1'), {
      userId: 'u1', status: 'offline', username: 'name-u1', nodeId: 'B', nodes: {}, sessions: 0, epoch: 2,
      logicalSessionId: sid, connectedAt: 1000, lastHeartbeat: 1500, logoutTime: 3000, logoutReason: 'client-close',
    });
    t.equal(await store.countOnline(), 0);
    t.same(await store.listOnline({ limit: 10 }), { players: [] });
    t.equal(await store.countPendingLogouts(), 1);
    t.strictSame(await store.claimPendingLogouts(10, 3000, 30_000), [{ id: sid, record, attempts: 0 }]);
  });

  test('a stale end never logs out a newer login', async (t, store) => {
    t.same(
      await store.endSession({ userId: 'ghost', nodeId: 'A', logicalSessionId: 'x', reason: 'close', now: 1 }),
      { stale: true, loggedOut: false, sessions: 0 },
    );
    t.equal(await store.getPlayer('ghost'), null, 'a stale end creates nothing');

    const old = await connect(store, 'u1', 'A', 1000);
    await store.forceLogout({ userId: 'u1', reason: 'kick', now: 2000 });
    const afterKick = await store.getPlayer('u1');
    const endOld = (now: number) =>
      store.endSession({ userId: 'u1', nodeId: 'A', logicalSessionId: old.logicalSessionId, reason: 'close', now });
    t.same(await endOld(2500), { stale: true, loggedOut: false, sessions: 0 }, 'late close after a kick');
    t.strictSame(await store.getPlayer('u1'), afterKick, 'nothing changed');

    const fresh = await connect(store, 'u1', 'A', 3000);
    t.not(fresh.logicalSessionId, old.logicalSessionId);
    const before = await store.getPlayer('u1');
    t.same(await endOld(3500), { stale: true, loggedOut: false, sessions: 1 }, 'late close of the previous session');
    t.strictSame(await store.getPlayer('u1'), before, 'the newer login is untouched');
    t.equal(await store.countOnline(), 1);
    t.equal(await store.countPendingLogouts(), 1, 'only the kick was queued');
  });

  test('ending the same connection twice cannot push counts negative', async (t, store) => {
    const login = await connect(store, 'u1', 'A', 1000);
    await connect(store, 'u1', 'B', 1000);
    const end = (nodeId: string) =>
      store.endSession({ userId: 'u1', nodeId, logicalSessionId: login.logicalSessionId, reason: 'close', now: 2000 });
    t.same(await end('A'), { stale: false, loggedOut: false, sessions: 1 });
    t.same(await end('A'), { stale: true, loggedOut: false, sessions: 1 }, 'A holds no connection any more');
    t.match(await store.getPlayer('u1'), { status: 'online', sessions: 1, nodes: { B: 1 } });
    t.match(await end('B'), { stale: false, loggedOut: true, sessions: 0 });
    t.same(await end('B'), { stale: true, loggedOut: false, sessions: 0 });
    t.match(await store.getPlayer('u1'), { status: 'offline', sessions: 0, nodes: {} });
    t.equal(await store.countPendingLogouts(), 1);
  });

  test('forceLogout ends every connection once', async (t, store) => {
    t.same(await store.forceLogout({ userId: 'ghost', reason: 'kick', now: 1 }), { loggedOut: false, nodes: {} });
    t.equal(await store.getPlayer('ghost'), null);
    const login = await connect(store, 'u1', 'A', 1000);
    await connect(store, 'u1', 'A', 1100);
    await connect(store, 'u1', 'B', 1200);
    await store.flushHeartbeats('A', new Map([['u1', 1300]]));
    const result = await store.forceLogout({ userId: 'u1', reason: 'rest-logout', now: 5000 });
    t.strictSame(result, {
      loggedOut: true,
      nodes: { A: 2, B: 1 },
      record: {
        userId: 'u1', username: 'name-u1', logicalSessionId: login.logicalSessionId, nodeId: 'B', epoch: 3,
        connectedAt: 1000, logoutAt: 5000, reason: 'rest-logout',
      },
    });
    t.match(await store.getPlayer('u1'), { status: 'offline', nodes: {}, sessions: 0, logoutTime: 5000, logoutReason: 'rest-logout' });
    t.same(await store.forceLogout({ userId: 'u1', reason: 'again', now: 6000 }), { loggedOut: false, nodes: {} });
    t.match(await store.getPlayer('u1'), { logoutTime: 5000, logoutReason: 'rest-logout' }, 'second call changes nothing');
    t.equal(await store.countPendingLogouts(), 1);
    t.same((await store.listOnline({ limit: 10, nodeId: 'A' })).players, []);
    t.equal(await store.countOnline(), 0);
  });

  test('pending logouts: claim, lease expiry, ack, retry', async (t, store) => {
    const sids: string[] = [];
    for (const [i, at] of [1000, 2000, 3000].entries()) {
      const login = await connect(store, `u${i}`, 'A', at - 500);
      sids.push(login.logicalSessionId);
      await store.endSession({ userId: `u${i}`, nodeId: 'A', logicalSessionId: login.logicalSessionId, reason: 'close', now: at });
    }
    const [s0, s1, s2] = sids as [string, string, string];
    const ids = (claimed: { id: string }[]) => claimed.map((c) => c.id);
    t.same(ids(await store.claimPendingLogouts(10, 1500, 10_000)), [s0], 'only the due one');
    t.same(ids(await store.claimPendingLogouts(10, 1500, 10_000)), [], 'leased: hidden');
    t.same(ids(await store.claimPendingLogouts(10, 2500, 10_000)), [s1]);
    // s0's lease ends at 11_500, s1's at 12_500; s2 has been due since 3000. Oldest due first.
    const again = await store.claimPendingLogouts(10, 11_600, 10_000);
    t.same(ids(again), [s2, s0], 'an unacked lease becomes due again');
    t.match(again[1], { attempts: 0, record: { userId: 'u0', logoutAt: 1000 } });
    t.equal(await store.countPendingLogouts(), 3, 'leased ones still count');

    await store.ackPendingLogouts([s0, 'unknown']);
    t.equal(await store.countPendingLogouts(), 2);
    await store.retryPendingLogouts([s2, 'unknown'], 50_000);
    t.same(ids(await store.claimPendingLogouts(10, 49_999, 1000)), [s1], 'retried one waits for retryAt');
    const retried = await store.claimPendingLogouts(1, 50_000, 1000);
    t.same(ids(retried), [s2]);
    t.match(retried[0], { attempts: 1, record: { userId: 'u2', logicalSessionId: s2, reason: 'close' } });
    await store.ackPendingLogouts([s1, s2]);
    t.equal(await store.countPendingLogouts(), 0);
    t.same(await store.claimPendingLogouts(10, 1e12, 1000), []);
  });

  test('heartbeats are reflected in getPlayer and listOnline', async (t, store) => {
    await store.flushHeartbeats('A', new Map());
    await connect(store, 'u1', 'A', 1000);
    await connect(store, 'u2', 'B', 1000);
    await store.flushHeartbeats('A', new Map([['u1', 5000]]));
    t.equal((await store.getPlayer('u1'))?.lastHeartbeat, 5000);
    await store.flushHeartbeats('B', new Map([['u1', 9000], ['u2', 7000]]));
    t.equal((await store.getPlayer('u1'))?.lastHeartbeat, 5000, 'only live nodes count');
    const page = await store.listOnline({ limit: 10 });
    t.same(page.players.map((p) => [p.userId, p.lastHeartbeat]), [['u1', 5000], ['u2', 7000]]);

    const u3 = await connect(store, 'u3', 'A', 1000);
    await store.flushHeartbeats('A', new Map([['u3', 8000]]));
    await store.endSession({ userId: 'u3', nodeId: 'A', logicalSessionId: u3.logicalSessionId, reason: 'close', now: 8500 });
    await connect(store, 'u3', 'A', 9000);
    t.equal((await store.getPlayer('u3'))?.lastHeartbeat, 9000, 'the ended connection left no heartbeat behind');
  });

  test('real timestamps survive the queue exactly', async (t, store) => {
    const at = 1_760_000_000_123;
    const login = await connect(store, 'u1', 'A', at);
    await store.endSession({ userId: 'u1', nodeId: 'A', logicalSessionId: login.logicalSessionId, reason: 'close', now: at + 1001 });
    await store.retryPendingLogouts([login.logicalSessionId], at + 5000);
    const [claimed] = await store.claimPendingLogouts(1, at + 5000, 60_000);
    t.match(claimed, { attempts: 1, record: { connectedAt: at, logoutAt: at + 1001 } });
    t.match(await store.getPlayer('u1'), { connectedAt: at, lastHeartbeat: at, logoutTime: at + 1001 });
  });

  test('input checks', async (t, store) => {
    await t.rejects(connect(store, 'u1', 'A', 1.5), RangeError, 'times are whole ms');
    await t.rejects(store.flushHeartbeats('A', new Map([['u1', Number.NaN]])), RangeError);
    await t.rejects(store.listOnline({ limit: 0 }), RangeError);
    await t.rejects(store.listOnline({ limit: 1001 }), RangeError);
    await t.rejects(store.listOnline({ limit: 10, cursor: '%%%' }), { code: 'GW_ERR_INVALID_CURSOR' });
    await t.rejects(store.claimPendingLogouts(0, 1, 1), RangeError);
    await t.resolves(store.ping());
  });

  runOnlinePagingContract(test);
  runOnlinePrefixContract(test);
  runOnlineClusterContract(test, loseData);
  runOnlineGraceContract(test);
}
