/**
 * The LogoutOutbox contract: claim, lease expiry, ack and retry of the pending logouts the
 * presence store queues. Every implementation (memory, Redis) runs it; times are explicit.
 */
import { connect, type StoreTest } from './contract-helpers.ts';

export function runLogoutOutboxContract(test: StoreTest): void {
  test('pending logouts: claim, lease expiry, ack, retry', async (t, { presence, outbox }) => {
    const sids: string[] = [];
    for (const [i, at] of [1000, 2000, 3000].entries()) {
      const login = await connect(presence, `u${i}`, 'A', at - 500);
      sids.push(login.logicalSessionId);
      await presence.endSession({ userId: `u${i}`, nodeId: 'A', logicalSessionId: login.logicalSessionId, reason: 'close', now: at });
    }
    const [s0, s1, s2] = sids as [string, string, string];
    const ids = (claimed: { id: string }[]) => claimed.map((c) => c.id);
    const written = (id: string, userId: string) => ({ id, record: { userId, nodeId: 'A' } });
    t.same(ids(await outbox.claimPendingLogouts(10, 1500, 10_000)), [s0], 'only the due one');
    t.same(ids(await outbox.claimPendingLogouts(10, 1500, 10_000)), [], 'leased: hidden');
    t.same(ids(await outbox.claimPendingLogouts(10, 2500, 10_000)), [s1]);
    // s0's lease ends at 11_500, s1's at 12_500; s2 has been due since 3000. Oldest due first.
    const again = await outbox.claimPendingLogouts(10, 11_600, 10_000);
    t.same(ids(again), [s2, s0], 'an unacked lease becomes due again');
    t.match(again[1], { attempts: 0, record: { userId: 'u0', logoutAt: 1000 } });
    t.equal(await outbox.countPendingLogouts(), 3, 'leased ones still count');

    await outbox.ackPendingLogouts([written(s0, 'u0'), written('unknown', 'nobody')]);
    t.equal(await outbox.countPendingLogouts(), 2);
    await outbox.retryPendingLogouts([s2, 'unknown'], 50_000);
    t.same(ids(await outbox.claimPendingLogouts(10, 49_999, 1000)), [s1], 'retried one waits for retryAt');
    const retried = await outbox.claimPendingLogouts(1, 50_000, 1000);
    t.same(ids(retried), [s2]);
    t.match(retried[0], { attempts: 1, record: { userId: 'u2', logicalSessionId: s2, reason: 'close' } });
    await outbox.ackPendingLogouts([written(s1, 'u1'), written(s2, 'u2')]);
    t.equal(await outbox.countPendingLogouts(), 0);
    t.same(await outbox.claimPendingLogouts(10, 1e12, 1000), []);
  });

  test('real timestamps survive the queue exactly', async (t, { presence, outbox }) => {
    const at = 1_760_000_000_123;
    const login = await connect(presence, 'u1', 'A', at);
    await presence.endSession({ userId: 'u1', nodeId: 'A', logicalSessionId: login.logicalSessionId, reason: 'close', now: at + 1001 });
    await outbox.retryPendingLogouts([login.logicalSessionId], at + 5000);
    const [claimed] = await outbox.claimPendingLogouts(1, at + 5000, 60_000);
    t.match(claimed, { attempts: 1, record: { connectedAt: at, logoutAt: at + 1001 } });
    t.match(await presence.getPlayer('u1'), { connectedAt: at, lastHeartbeat: at, logoutTime: at + 1001 });
  });
}
