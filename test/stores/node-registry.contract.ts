/**
 * The NodeRegistry contract: node leases, crash cleanup (reapNode) and re-assertion after data
 * loss, run against every implementation. Reaping and re-assertion change presence and queue
 * logouts, so the tests look at those stores too. Times are explicit.
 */
import { NodeIdInUseError, type NodeRegistry } from '../../src/cluster/node-registry.ts';
import type { LogoutRecord } from '../../src/presence/logout-outbox.ts';
import type { PresenceStore } from '../../src/presence/presence-store.ts';
import type { LoseData } from './backends.ts';
import { connect, type StoreTest } from './contract-helpers.ts';

const DEAD_AFTER = 10_000;

const byUser = (records: readonly LogoutRecord[]) => [...records].sort((a, b) => (a.userId < b.userId ? -1 : 1));

/** One tracked connection (with a connection id). */
function open(presence: PresenceStore, userId: string, nodeId: string, connectionId: string, now: number) {
  return presence.login({ userId, username: `name-${userId}`, nodeId, candidateLogicalSessionId: `sid-${userId}-${now}`, now, connectionId });
}

/** Reaps a node to the end, `limit` users per call; returns every record and the call count. */
async function reapAll(nodes: NodeRegistry, nodeId: string, at: number, limit: number) {
  const records: LogoutRecord[] = [];
  let calls = 0;
  for (;;) {
    const result = await nodes.reapNode(nodeId, at, limit);
    calls += 1;
    records.push(...result.records);
    if (result.remaining === 0) return { records, calls };
    if (calls > 10_000) throw new Error('reaping does not terminate');
  }
}

export function runNodeRegistryContract(test: StoreTest, loseData: LoseData): void {
  test('registerNode refuses a live id and takes over a dead one', async (t, { nodes }) => {
    const gw1 = await nodes.registerNode('gw-1', 1000, DEAD_AFTER);
    t.same(gw1.reaped, []);
    t.match(gw1.generation, /^.{8,}$/, 'the lease has a generation');
    t.same(await nodes.listNodes(), [{ nodeId: 'gw-1', lastRenewal: 1000 }]);
    const inUse = nodes.registerNode('gw-1', 5000, DEAD_AFTER);
    await t.rejects(inUse, NodeIdInUseError);
    await t.rejects(inUse, { name: 'NodeIdInUseError', nodeId: 'gw-1', message: 'NODE_ID gw-1 is already used by a live node' });
    await t.rejects(nodes.registerNode('gw-1', 1000 + DEAD_AFTER - 1, DEAD_AFTER), NodeIdInUseError, 'live until deadAfter has passed');
    t.same(await nodes.listNodes(), [{ nodeId: 'gw-1', lastRenewal: 1000 }], 'a refused registration changes nothing');
    t.same((await nodes.registerNode('gw-2', 2000, DEAD_AFTER)).reaped, [], 'other ids are independent');

    t.same(await nodes.renewLease('gw-1', 8000, gw1.generation), { fenced: false, previous: 1000 });
    await t.rejects(nodes.registerNode('gw-1', 8000 + DEAD_AFTER - 1, DEAD_AFTER), NodeIdInUseError, 'a renewal keeps it live');
    const again = await nodes.registerNode('gw-1', 8000 + DEAD_AFTER, DEAD_AFTER);
    t.same(again.reaped, [], 'dead exactly deadAfter after its last renewal');
    t.not(again.generation, gw1.generation, 'a new generation');
    t.same(await nodes.renewLease('gw-1', 18_500, gw1.generation), { fenced: true, previous: 18_000 }, 'the old process is fenced out');
    t.same(await nodes.listNodes(), [
      { nodeId: 'gw-2', lastRenewal: 2000 },
      { nodeId: 'gw-1', lastRenewal: 18_000 },
    ]);
  });

  test('a restarted node id first reaps the users its dead predecessor left', async (t, { presence, outbox, nodes }) => {
    const { generation } = await nodes.registerNode('gw-1', 1000, DEAD_AFTER);
    const u1 = await connect(presence, 'u1', 'gw-1', 1100);
    await connect(presence, 'u1', 'gw-1', 1200);
    const u2 = await connect(presence, 'u2', 'gw-1', 1300);
    await connect(presence, 'u2', 'gw-2', 1400);
    await presence.flushHeartbeats(
      'gw-1',
      new Map([
        ['u1', 1900],
        ['u2', 1900],
      ]),
    );
    await nodes.renewLease('gw-1', 2000, generation);

    const { reaped } = await nodes.registerNode('gw-1', 2000 + DEAD_AFTER, DEAD_AFTER);
    t.strictSame(
      reaped,
      [
        {
          userId: 'u1',
          username: 'name-u1',
          logicalSessionId: u1.logicalSessionId,
          nodeId: 'gw-1',
          epoch: 2,
          connectedAt: 1100,
          logoutAt: 2000,
          reason: 'node_lost',
        },
      ],
      'logged out at the last lease of the dead holder, never adopted',
    );
    t.match(await presence.getPlayer('u1'), { status: 'offline', nodes: {}, sessions: 0, logoutTime: 2000, logoutReason: 'node_lost' });
    t.match(await presence.getPlayer('u2'), { status: 'online', nodes: { 'gw-2': 1 }, sessions: 1, logicalSessionId: u2.logicalSessionId });
    t.equal((await presence.getPlayer('u2'))?.lastHeartbeat, 1400, "the dead holder's heartbeat is gone");
    t.same((await presence.listOnline({ limit: 10, nodeId: 'gw-1' })).players, []);
    t.same(await nodes.listNodes(), [{ nodeId: 'gw-1', lastRenewal: 12_000 }]);
    t.equal(await outbox.countPendingLogouts(), 1);

    const fresh = await connect(presence, 'u1', 'gw-1', 12_100);
    t.match(fresh, { newLogicalSession: true, sessions: 1, epoch: 3 });
    t.same(await nodes.reapNode('gw-1', 2000, 500), { records: [], remaining: 0, alive: true }, 'a late reaper leaves the new holder alone');
    t.match(await presence.getPlayer('u1'), { status: 'online', nodes: { 'gw-1': 1 } });
  });

  test('renewLease, listNodes and removeNode', async (t, { presence, nodes }) => {
    t.same(await nodes.renewLease('A', 1000, 'gA'), { fenced: false, previous: null }, 'no previous lease: the node should re-assert');
    t.same(await nodes.renewLease('A', 2000, 'gA'), { fenced: false, previous: 1000 }, 'the previous renewal');
    await nodes.registerNode('C', 1500, DEAD_AFTER);
    t.same(await nodes.renewLease('B', 1500, 'gB'), { fenced: false, previous: null });
    t.same(
      await nodes.listNodes(),
      [
        { nodeId: 'B', lastRenewal: 1500 },
        { nodeId: 'C', lastRenewal: 1500 },
        { nodeId: 'A', lastRenewal: 2000 },
      ],
      'oldest renewal first, ties by nodeId',
    );

    const login = await connect(presence, 'u1', 'A', 2100);
    await presence.flushHeartbeats('A', new Map([['u1', 2200]]));
    t.equal(await nodes.removeNode('A'), false, 'users left: refused');
    t.same(
      (await nodes.listNodes()).map((n) => n.nodeId),
      ['B', 'C', 'A'],
      'the lease stays, so a reaper finds the users',
    );
    await presence.endSession({ userId: 'u1', nodeId: 'A', logicalSessionId: login.logicalSessionId, reason: 'shutdown', now: 2300 });
    t.equal(await nodes.removeNode('A'), true);
    t.same(
      (await nodes.listNodes()).map((n) => n.nodeId),
      ['B', 'C'],
    );
    t.equal(await nodes.removeNode('A'), true, 'idempotent');
    t.equal(await nodes.removeNode('never'), true);
    t.same(await nodes.renewLease('A', 3000, 'gA'), { fenced: false, previous: null }, 'a removed node that renews learns it was gone (not fenced)');
  });

  test('reaping 2,000 users in batches of 500 logs each out exactly once, with reapers racing', async (t, { presence, outbox, nodes }) => {
    await nodes.registerNode('dead', 1000, DEAD_AFTER);
    await nodes.registerNode('live', 1000, DEAD_AFTER);
    const userIds = Array.from({ length: 2000 }, (_, i) => `r${String(i).padStart(4, '0')}`);
    const sids = new Map<string, string>();
    for (let i = 0; i < userIds.length; i += 250) {
      const batch = userIds.slice(i, i + 250);
      const logins = await Promise.all(batch.map((id) => connect(presence, id, 'dead', 900)));
      batch.forEach((id, j) => sids.set(id, logins[j]!.logicalSessionId));
    }
    // Every tenth user has a second connection on the dead node: a node's whole count goes.
    await Promise.all(userIds.filter((_, i) => i % 10 === 0).map((id) => connect(presence, id, 'dead', 950)));
    for (const id of ['l1', 'l2', 'l3']) await connect(presence, id, 'live', 950);
    await presence.flushHeartbeats('dead', new Map(userIds.map((id) => [id, 990])));
    t.equal(await presence.countOnline(), 2003);

    const [lease] = (await nodes.listNodes()).filter((n) => n.nodeId === 'dead');
    const at = lease!.lastRenewal;
    const records: LogoutRecord[] = [];
    const remaining: number[] = [];
    let calls = 0;
    // Two reapers interleave their batches; each call is atomic.
    for (let round = 0; round < 10; round++) {
      const results = await Promise.all([nodes.reapNode('dead', at, 500), nodes.reapNode('dead', at, 500)]);
      calls += 2;
      for (const result of results) {
        t.equal(result.alive, false);
        records.push(...result.records);
        remaining.push(result.remaining);
      }
      if (results.some((r) => r.remaining === 0)) break;
    }
    // One store counts exactly: 1500 and 1000, then 500 and 0, in two rounds. A store split in
    // buckets sums each bucket's count as the batch passed it, so a reaper may still count users
    // the other one took after it passed their bucket: never fewer than are left, and both racing
    // reapers of round 2 may count some left (one more round, which claims nothing).
    const firstRound = remaining.slice(0, 2).sort((a, b) => b - a);
    t.ok(firstRound[0]! >= 1000 && firstRound[0]! <= 1500 && firstRound[1]! >= 1000, `round 1: at least the 1,000 left, at most 1,500 (${firstRound})`);
    t.ok(calls === 4 || calls === 6, `two rounds of two batches of 500 (or a third that finds them gone): ${calls} calls`);
    t.equal(remaining.at(-1) === 0 || remaining.at(-2) === 0, true, 'the last round finishes the node');
    t.equal(records.length, 2000, 'one record per user');
    t.equal(new Set(records.map((r) => r.userId)).size, 2000, 'no user twice');
    t.ok(
      records.every((r) => r.logoutAt === 1000 && r.reason === 'node_lost' && r.nodeId === 'dead' && r.logicalSessionId === sids.get(r.userId)),
      'logoutAt = at, reason node_lost, the dead node, the user session',
    );
    t.same(await nodes.reapNode('dead', at, 500), { records: [], remaining: 0, alive: false }, 'a third reaper finds nothing');

    t.equal(await presence.countOnline(), 3, 'only the live node users are left');
    t.same(
      (await presence.listOnline({ limit: 10 })).players.map((p) => p.userId),
      ['l1', 'l2', 'l3'],
    );
    t.match(await presence.getPlayer('r0000'), { status: 'offline', sessions: 0, nodes: {}, logoutTime: 1000, logoutReason: 'node_lost' });
    t.same(await nodes.listNodes(), [{ nodeId: 'live', lastRenewal: 1000 }], 'the dead lease is gone');
    t.equal(await outbox.countPendingLogouts(), 2000, 'queued exactly once each');
    const claimed = await outbox.claimPendingLogouts(1000, 1000, 60_000);
    claimed.push(...(await outbox.claimPendingLogouts(1000, 1000, 60_000)));
    t.equal(new Set(claimed.map((c) => c.id)).size, 2000);
    t.ok(
      claimed.every((c) => c.record.logoutAt === 1000 && c.record.reason === 'node_lost'),
      'the queued records',
    );
  });

  test('a user on the dead node and on a live node stays online', async (t, { presence, outbox, nodes }) => {
    await nodes.registerNode('dead', 1000, DEAD_AFTER);
    const login = await connect(presence, 'u1', 'dead', 1000);
    await connect(presence, 'u1', 'dead', 1100);
    await connect(presence, 'u1', 'live', 1200);
    await presence.flushHeartbeats('dead', new Map([['u1', 1900]]));
    await presence.flushHeartbeats('live', new Map([['u1', 1500]]));

    t.same(await reapAll(nodes, 'dead', 1000, 500), { records: [], calls: 1 });
    t.match(await presence.getPlayer('u1'), {
      status: 'online',
      sessions: 1,
      nodes: { live: 1 },
      logicalSessionId: login.logicalSessionId,
      lastHeartbeat: 1500,
    });
    t.same((await presence.getPlayer('u1'))?.nodes, { live: 1 });
    t.same((await presence.listOnline({ limit: 10, nodeId: 'dead' })).players, []);
    t.equal(await outbox.countPendingLogouts(), 0);
    t.same(
      await presence.endSession({ userId: 'u1', nodeId: 'dead', logicalSessionId: login.logicalSessionId, reason: 'closed', now: 3000 }),
      { stale: true, loggedOut: false, sessions: 1 },
      'a late end from the dead node changes nothing',
    );
    t.match(await presence.endSession({ userId: 'u1', nodeId: 'live', logicalSessionId: login.logicalSessionId, reason: 'closed', now: 3100 }), {
      loggedOut: true,
      record: { reason: 'closed', logoutAt: 3100, nodeId: 'live' },
    });
  });

  test('a user who reconnected elsewhere after the crash is not logged out by the late reaper', async (t, { presence, outbox, nodes }) => {
    await nodes.registerNode('dead', 1000, DEAD_AFTER);
    const old = await connect(presence, 'u1', 'dead', 1000);
    const kicked = await connect(presence, 'u2', 'dead', 1000);
    const ended = await connect(presence, 'u3', 'dead', 1000);
    await presence.endSession({ userId: 'u3', nodeId: 'dead', logicalSessionId: ended.logicalSessionId, reason: 'closed', now: 1500 });
    // After the crash: u1 connects again (its dead connection still counts), u2 is kicked and
    // logs in again elsewhere.
    const again = await connect(presence, 'u1', 'live', 5000);
    t.match(again, { newLogicalSession: false, sessions: 2, logicalSessionId: old.logicalSessionId });
    await presence.forceLogout({ userId: 'u2', reason: 'kicked', now: 5100 });
    const u2Again = await connect(presence, 'u2', 'live', 5200);
    t.not(u2Again.logicalSessionId, kicked.logicalSessionId);

    t.same(await reapAll(nodes, 'dead', 1000, 500), { records: [], calls: 1 });
    t.match(await presence.getPlayer('u1'), { status: 'online', sessions: 1, nodes: { live: 1 }, logicalSessionId: old.logicalSessionId });
    t.match(await presence.getPlayer('u2'), { status: 'online', sessions: 1, nodes: { live: 1 }, logicalSessionId: u2Again.logicalSessionId });
    t.match(await presence.getPlayer('u3'), { status: 'offline', logoutReason: 'closed' });
    t.equal(await presence.countOnline(), 2);
    t.equal(await outbox.countPendingLogouts(), 2, 'only the normal end and the kick');
  });

  test('a node that renews its lease during the reap is left alone', async (t, { presence, nodes }) => {
    const { generation } = await nodes.registerNode('slow', 1000, DEAD_AFTER);
    for (const id of ['u1', 'u2', 'u3']) await connect(presence, id, 'slow', 1000);
    t.same(await nodes.renewLease('slow', 1500, generation), { fenced: false, previous: 1000 }, 'renewed before any reap');
    const first = await nodes.reapNode('slow', 1500, 1);
    t.match(first, { records: [{ reason: 'node_lost' }], remaining: 2, alive: false });
    t.same(
      await nodes.renewLease('slow', 15_000, generation),
      { fenced: true, previous: 1500 },
      'the reaper fenced the generation: the slow node learns it was reaped',
    );
    t.same(await nodes.listNodes(), [{ nodeId: 'slow', lastRenewal: 1500 }], 'a fenced renewal changes nothing');
    const rest = await nodes.registerNode('slow', 16_000, DEAD_AFTER);
    t.same(
      rest.reaped.map((r) => `${r.reason}:${r.logoutAt}`),
      ['node_lost:1500', 'node_lost:1500'],
      'registering anew finishes the reaping, once, at the last lease',
    );
    t.same(await nodes.reapNode('slow', 1500, 1), { records: [], remaining: 0, alive: true }, 'the late reaper leaves the new generation alone');
    t.equal(await presence.countOnline(), 0);
    t.same(await nodes.renewLease('slow', 16_500, rest.generation), { fenced: false, previous: 16_000 });
    t.same(await nodes.listNodes(), [{ nodeId: 'slow', lastRenewal: 16_500 }]);
  });

  test("without connection ids a repeated end takes another connection's count (documented risk)", async (t, { presence }) => {
    const login = await connect(presence, 'u1', 'A', 1000);
    await connect(presence, 'u1', 'A', 1100);
    const end = () => presence.endSession({ userId: 'u1', nodeId: 'A', logicalSessionId: login.logicalSessionId, reason: 'closed', now: 2000 });
    t.same(await end(), { stale: false, loggedOut: false, sessions: 1 });
    t.match(await end(), { stale: false, loggedOut: true, sessions: 0 }, 'the same connection ended twice: the other one is gone too');
    t.match(await presence.getPlayer('u1'), { status: 'offline', nodes: {} });
  });

  test('with connection ids a repeated end of the same connection is stale', async (t, { presence, outbox, nodes }) => {
    const login = await open(presence, 'u1', 'A', 'c1', 1000);
    await open(presence, 'u1', 'A', 'c2', 1100);
    await open(presence, 'u1', 'B', 'c3', 1200);
    const end = (nodeId: string, connectionId: string) =>
      presence.endSession({ userId: 'u1', nodeId, logicalSessionId: login.logicalSessionId, reason: 'closed', now: 2000, connectionId });
    t.same(await end('A', 'c1'), { stale: false, loggedOut: false, sessions: 2 });
    t.same(await end('A', 'c1'), { stale: true, loggedOut: false, sessions: 2 }, 'c1 already ended');
    t.same(await end('A', 'c3'), { stale: true, loggedOut: false, sessions: 2 }, 'c3 is not on A');
    t.same(await end('A', 'nope'), { stale: true, loggedOut: false, sessions: 2 });
    t.match(await presence.getPlayer('u1'), { status: 'online', sessions: 2, nodes: { A: 1, B: 1 } });
    t.same(await end('A', 'c2'), { stale: false, loggedOut: false, sessions: 1 });
    t.same(await end('A', 'c2'), { stale: true, loggedOut: false, sessions: 1 });
    t.match(await end('B', 'c3'), { stale: false, loggedOut: true, sessions: 0 });
    t.same(await end('B', 'c3'), { stale: true, loggedOut: false, sessions: 0 });
    t.equal(await outbox.countPendingLogouts(), 1);

    // A new logical session starts with clean lists; a reap or a kick drops a node's list.
    const next = await open(presence, 'u1', 'A', 'c1', 3000);
    await open(presence, 'u1', 'dead', 'c9', 3000);
    await nodes.reapNode('dead', 3000, 500);
    const endNext = (nodeId: string, connectionId: string) =>
      presence.endSession({ userId: 'u1', nodeId, logicalSessionId: next.logicalSessionId, reason: 'closed', now: 4000, connectionId });
    t.same(await endNext('dead', 'c9'), { stale: true, loggedOut: false, sessions: 1 }, 'reaped');
    await presence.forceLogout({ userId: 'u1', reason: 'kicked', now: 4100 });
    const third = await open(presence, 'u1', 'A', 'c5', 5000);
    await open(presence, 'u1', 'A', 'c6', 5000);
    t.same(
      await presence.endSession({ userId: 'u1', nodeId: 'A', logicalSessionId: third.logicalSessionId, reason: 'closed', now: 6000, connectionId: 'c1' }),
      { stale: true, loggedOut: false, sessions: 2 },
      'an id of an earlier session is unknown',
    );
  });

  test('reassert after the store lost its data restores presence and reports stale sessions', async (t, before) => {
    // Before the loss: node A holds u1 (2 connections), u2, u3, u5; node B holds u1 and u4.
    const u1 = await connect(before.presence, 'u1', 'A', 1000);
    await connect(before.presence, 'u1', 'A', 1100);
    await connect(before.presence, 'u1', 'B', 1200);
    const u2 = await connect(before.presence, 'u2', 'A', 1300);
    const u3 = await connect(before.presence, 'u3', 'A', 1400);
    const u4 = await connect(before.presence, 'u4', 'B', 1500);
    const u5 = await connect(before.presence, 'u5', 'A', 1600);
    const session = (userId: string, login: { logicalSessionId: string; epoch: number }, connectedAt: number, connections = 1) => ({
      userId,
      username: `name-${userId}`,
      logicalSessionId: login.logicalSessionId,
      epoch: login.epoch,
      connectedAt,
      connections,
    });
    const onA = [session('u1', { ...u1, epoch: 2 }, 1000, 2), session('u2', u2, 1300), session('u3', u3, 1400), session('u5', u5, 1600)];
    const onB = [session('u1', { ...u1, epoch: 3 }, 1000), session('u4', u4, 1500)];

    const { presence, nodes } = await loseData(before);
    t.equal(await presence.countOnline(), 0, 'everything is gone');
    t.same(await nodes.listNodes(), []);
    // Before A re-asserts, u3 logs in again on B (a new logical session) and u5's session ends.
    const u3New = await connect(presence, 'u3', 'B', 9000);
    t.match(u3New, { newLogicalSession: true, epoch: 1 });
    await nodes.reassert('A', 9500, [onA[3]!]);
    await presence.forceLogout({ userId: 'u5', reason: 'kicked', now: 9600 });

    t.same(await nodes.reassert('A', 10_000, onA), { restored: 2, stale: ['u3', 'u5'] });
    t.strictSame(await presence.getPlayer('u1'), {
      userId: 'u1',
      status: 'online',
      username: 'name-u1',
      nodeId: 'A',
      nodes: { A: 2 },
      sessions: 2,
      epoch: 2,
      logicalSessionId: u1.logicalSessionId,
      connectedAt: 1000,
      lastHeartbeat: 10_000,
    });
    t.match(await presence.getPlayer('u3'), { logicalSessionId: u3New.logicalSessionId, nodes: { B: 1 }, sessions: 1 }, 'the newer session is untouched');
    t.same(await nodes.reassert('B', 10_100, onB), { restored: 2, stale: [] });
    t.match(await presence.getPlayer('u1'), { sessions: 3, nodes: { A: 2, B: 1 }, epoch: 3, logicalSessionId: u1.logicalSessionId });
    t.same(await nodes.reassert('A', 10_200, onA), { restored: 0, stale: ['u3', 'u5'] }, 'idempotent');
    t.same(await nodes.reassert('A', 10_300, [{ ...onA[0]!, connections: 1 }]), { restored: 1, stale: [] }, 'a count correction');
    t.match(await presence.getPlayer('u1'), { sessions: 2, nodes: { A: 1, B: 1 } });

    t.equal(await presence.countOnline(), 4);
    t.same(
      (await presence.listOnline({ limit: 10 })).players.map((p) => p.userId),
      ['u1', 'u2', 'u3', 'u4'],
    );
    t.same(
      (await presence.listOnline({ limit: 10, nodeId: 'A' })).players.map((p) => p.userId),
      ['u1', 'u2'],
    );
    t.same(
      await nodes.listNodes(),
      [
        { nodeId: 'B', lastRenewal: 10_100 },
        { nodeId: 'A', lastRenewal: 10_300 },
      ],
      'leases re-registered',
    );

    // The restored sessions behave like any other.
    t.match(await presence.endSession({ userId: 'u2', nodeId: 'A', logicalSessionId: u2.logicalSessionId, reason: 'closed', now: 11_000 }), {
      loggedOut: true,
      record: { logicalSessionId: u2.logicalSessionId, connectedAt: 1300, logoutAt: 11_000 },
    });
    t.match(await connect(presence, 'u1', 'B', 11_100), { epoch: 4, newLogicalSession: false, sessions: 3 }, 'epochs keep increasing');
    t.match(await nodes.reapNode('A', 10_300, 500), { remaining: 0, alive: false });
    t.match(await presence.getPlayer('u1'), { status: 'online', sessions: 2, nodes: { B: 2 } }, 'a reap after reassert subtracts the re-asserted count');
  });

  test('reassert restores a login the store never saw, not a session ended after it', async (t, { presence, nodes }) => {
    // 'lost': the store's newest session is an older, ended one (epoch 1); the node holds epoch 2:
    // its login was lost (a failover to a replica behind the primary). 'ended': the node's session
    // is older than the one the store ended since (epoch 2 > 1): truly stale.
    const old = await connect(presence, 'lost', 'B', 1000);
    await presence.endSession({ userId: 'lost', nodeId: 'B', logicalSessionId: old.logicalSessionId, reason: 'closed', now: 1100 });
    const first = await connect(presence, 'ended', 'A', 1000);
    await presence.forceLogout({ userId: 'ended', reason: 'kicked', now: 1100 });
    const second = await connect(presence, 'ended', 'B', 1200); // a newer logical session, ended too
    await presence.forceLogout({ userId: 'ended', reason: 'kicked', now: 1300 });
    t.not(second.logicalSessionId, first.logicalSessionId);
    const held = (userId: string, logicalSessionId: string, epoch: number) => ({
      userId,
      username: `name-${userId}`,
      logicalSessionId,
      epoch,
      connectedAt: 1050,
      connections: 1,
    });
    t.same(await nodes.reassert('A', 2000, [held('lost', 'sid-never-seen', 2), held('ended', first.logicalSessionId, first.epoch)]), {
      restored: 1,
      stale: ['ended'],
    });
    t.match(await presence.getPlayer('lost'), { status: 'online', logicalSessionId: 'sid-never-seen', epoch: 2, sessions: 1, nodes: { A: 1 } });
    t.match(await presence.getPlayer('ended'), { status: 'offline', logicalSessionId: second.logicalSessionId }, 'the newer ended session stays ended');
    t.same(
      (await presence.listOnline({ limit: 10, nodeId: 'A' })).players.map((p) => p.userId),
      ['lost'],
    );
  });

  test('reassertGraces gives back the ends a store lost: any node expires them, a reconnect resumes them', async (t, before) => {
    // Before the loss: u1's last connection on A ended at 2000 with a 5 s grace.
    const u1 = await connect(before.presence, 'u1', 'A', 1000);
    t.match(
      await before.presence.endSession({ userId: 'u1', nodeId: 'A', logicalSessionId: u1.logicalSessionId, reason: 'closed', now: 2000, graceMs: 5000 }),
      {
        graceUntil: 7000,
      },
    );
    const grace = (userId: string, logicalSessionId: string, epoch: number, endedAt: number, endReason: string, graceUntil: number) => ({
      userId,
      username: `name-${userId}`,
      logicalSessionId,
      epoch,
      connectedAt: 1000,
      endedAt,
      endReason,
      graceUntil,
    });
    const { presence, outbox, nodes } = await loseData(before);
    // After it: 'newer' logged in again on B (a logical session the store knows now), 'ended'
    // logged in and was kicked (its newer session is over): both are somebody else's to end.
    const newer = await connect(presence, 'newer', 'B', 3000);
    await connect(presence, 'ended', 'B', 3000);
    await presence.forceLogout({ userId: 'ended', reason: 'kicked', now: 3100 });
    t.equal(await outbox.countPendingLogouts(), 1, "the kick's logout");
    const graces = [
      grace('u1', u1.logicalSessionId, u1.epoch, 2000, 'closed', 7000),
      grace('stale-end', 'sid-stale', 1, 2500, 'error', 2500), // ended with no grace: due at once
      grace('back', 'sid-back', 1, 2600, 'closed', 7600),
      grace('newer', 'sid-newer-old', 1, 2700, 'closed', 7700),
      grace('ended', 'sid-ended-old', 1, 2800, 'closed', 7800),
    ];
    t.equal(await nodes.reassertGraces('A', graces), 3, 'u1, stale-end and back recreated');
    t.match(await presence.getPlayer('u1'), { status: 'reconnecting', logicalSessionId: u1.logicalSessionId, epoch: u1.epoch, sessions: 0, graceUntil: 7000 });
    t.match(
      await presence.getPlayer('newer'),
      { status: 'online', logicalSessionId: newer.logicalSessionId, nodes: { B: 1 } },
      'the newer session is untouched',
    );
    t.match(await presence.getPlayer('ended'), { status: 'offline' }, 'the newer ended session stays ended');
    t.notMatch(await presence.getPlayer('ended'), { logicalSessionId: 'sid-ended-old' });
    t.equal(await nodes.reassertGraces('A', graces), 0, 'idempotent');

    // 'back' reconnects within its grace (on another node): the same logical session goes on.
    const resumed = await connect(presence, 'back', 'C', 5000);
    t.match(resumed, { logicalSessionId: 'sid-back', newLogicalSession: false });

    // Any node expires the rest, stamped when and why the connection ended, on the node it ended on.
    t.same(
      (await presence.expireGrace(6999, 10)).map((r) => [r.userId, r.logicalSessionId, r.logoutAt, r.reason, r.nodeId]),
      [['stale-end', 'sid-stale', 2500, 'error', 'A']],
    );
    t.same(
      (await presence.expireGrace(8000, 10)).map((r) => [r.userId, r.logicalSessionId, r.logoutAt, r.reason, r.nodeId, r.connectedAt]),
      [['u1', u1.logicalSessionId, 2000, 'closed', 'A', 1000]],
    );
    t.equal(await outbox.countPendingLogouts(), 3, 'both queued for the database');
    t.equal(await nodes.reassertGraces('A', graces), 0, 'an ended one is not brought back');
    t.match(await presence.getPlayer('u1'), { status: 'offline' });
    t.same(
      (await presence.listOnline({ limit: 10 })).players.map((p) => p.userId),
      ['back', 'newer'],
    );
    await t.rejects(nodes.reassertGraces('A', [{ ...graces[0]!, graceUntil: 1999 }]), RangeError, 'a grace before its end');
    await t.rejects(nodes.reassertGraces('A', [{ ...graces[0]!, endedAt: 1.5 }]), RangeError);
  });

  test('renewLease with lapseAfterMs records the last lapse in the store for every renewer', async (t, { nodes }) => {
    const { generation } = await nodes.registerNode('A', 1000, DEAD_AFTER);
    t.same(await nodes.renewLease('A', 2000, generation, 2500), { fenced: false, previous: 1000, lapsedAt: null }, 'no lapse yet');
    t.same(await nodes.renewLease('A', 6000, generation, 2500), { fenced: false, previous: 2000, lapsedAt: 6000 }, '4 s after the previous one: a lapse');
    t.same(await nodes.renewLease('A', 7000, generation, 2500), { fenced: false, previous: 6000, lapsedAt: 6000 }, 'reported to the next renewal too');
    t.same(await nodes.renewLease('A', 8000, generation), { fenced: false, previous: 7000 }, 'without lapseAfterMs: as before');
    t.same(await nodes.renewLease('B', 8000, 'gB', 2500), { fenced: false, previous: null, lapsedAt: 8000 }, 'no previous lease: a lapse');
    await t.rejects(nodes.renewLease('A', 9000, generation, Number.NaN), RangeError);
  });

  test('releaseAbsent ends what the node no longer holds, once, and leaves the rest', async (t, { presence, outbox, nodes }) => {
    await nodes.registerNode('A', 1000, DEAD_AFTER);
    // On A: gone (left, but the store went back in time), held, shared (also on B), opening.
    const gone = await connect(presence, 'gone', 'A', 1000);
    await connect(presence, 'held', 'A', 1100);
    await connect(presence, 'shared', 'A', 1200);
    await connect(presence, 'shared', 'B', 1300);
    await connect(presence, 'opening', 'A', 1400);
    const pendingBefore = await outbox.countPendingLogouts();
    const asked: string[] = [];
    const holds = (userId: string) => {
      asked.push(userId);
      return userId === 'held' || userId === 'opening';
    };
    const records = await nodes.releaseAbsent('A', 5000, holds);
    t.same(asked.sort(), ['gone', 'held', 'opening', 'shared'], 'asked about every user recorded on A');
    t.match(records, [{ userId: 'gone', logicalSessionId: gone.logicalSessionId, nodeId: 'A', reason: 'node_lost', logoutAt: 5000 }]);
    t.equal(records.length, 1, 'one logout: the user held nowhere');
    t.equal(await outbox.countPendingLogouts(), pendingBefore + 1, 'queued for the database');
    t.match(await presence.getPlayer('gone'), { status: 'offline' });
    t.match(await presence.getPlayer('shared'), { status: 'online', sessions: 1, nodes: { B: 1 } }, "only A's share removed");
    t.match(await presence.getPlayer('held'), { status: 'online', nodes: { A: 1 } });
    t.match(await presence.getPlayer('opening'), { status: 'online', nodes: { A: 1 } });
    t.same(await nodes.releaseAbsent('A', 6000, holds), [], 'a second call finds nothing to end');
    t.same(
      (await presence.listOnline({ limit: 10, nodeId: 'A' })).players.map((p) => p.userId),
      ['held', 'opening'],
    );
    t.same(await nodes.listNodes(), [{ nodeId: 'A', lastRenewal: 1000 }], 'the lease is untouched');
  });

  test('reassert with connection ids keeps repeated ends harmless', async (t, before) => {
    const login = await open(before.presence, 'u1', 'A', 'c1', 1000);
    await open(before.presence, 'u1', 'A', 'c2', 1000);
    const { presence, nodes } = await loseData(before);
    const entry = {
      userId: 'u1',
      username: 'name-u1',
      logicalSessionId: login.logicalSessionId,
      epoch: 2,
      connectedAt: 1000,
      connections: 2,
      connectionIds: ['c1', 'c2'],
    };
    t.same(await nodes.reassert('A', 5000, [entry]), { restored: 1, stale: [] });
    const end = (connectionId: string) =>
      presence.endSession({ userId: 'u1', nodeId: 'A', logicalSessionId: login.logicalSessionId, reason: 'closed', now: 6000, connectionId });
    t.same(await end('c1'), { stale: false, loggedOut: false, sessions: 1 });
    t.same(await end('c1'), { stale: true, loggedOut: false, sessions: 1 });
    t.match(await end('c2'), { loggedOut: true });
  });

  test('reassert of 1,200 sessions in one call', async (t, { presence, nodes }) => {
    const sessions = Array.from({ length: 1200 }, (_, i) => ({
      userId: `m${String(i).padStart(4, '0')}`,
      username: `n${i}`,
      logicalSessionId: `s${i}`,
      epoch: 1 + (i % 7),
      connectedAt: 500 + i,
      connections: 1 + (i % 3),
    }));
    t.same(await nodes.reassert('A', 2000, sessions), { restored: 1200, stale: [] });
    t.equal(await presence.countOnline(), 1200);
    t.match(await presence.getPlayer('m1199'), { status: 'online', sessions: 3, nodes: { A: 3 }, epoch: 3, connectedAt: 1699, username: 'n1199' });
    t.same(await nodes.reassert('B', 2100, []), { restored: 0, stale: [] });
    t.same(
      await nodes.listNodes(),
      [
        { nodeId: 'A', lastRenewal: 2000 },
        { nodeId: 'B', lastRenewal: 2100 },
      ],
      'an empty list still renews',
    );
    const { records, calls } = await reapAll(nodes, 'A', 2000, 500);
    t.equal(calls, 3);
    t.equal(byUser(records).length, 1200);
    t.equal(await presence.countOnline(), 0);
  });

  test('cluster input checks', async (t, { presence, nodes, locks }) => {
    await t.rejects(nodes.registerNode('A', 1.5, 1000), RangeError);
    await t.rejects(nodes.renewLease('A', Number.NaN, 'gA'), RangeError);
    await t.rejects(locks.tryLock('l', 'o', 0, 1), RangeError, 'a lock needs a positive ttl');
    await t.rejects(nodes.reapNode('A', 1, 0), RangeError);
    await t.rejects(nodes.reapNode('A', 1.5, 10), RangeError);
    const entry = { userId: 'u', username: 'u', logicalSessionId: 's', epoch: 1, connectedAt: 1, connections: 1 };
    await t.rejects(nodes.reassert('A', 1, [{ ...entry, connections: 0 }]), RangeError);
    await t.rejects(nodes.reassert('A', 1, [{ ...entry, connectionIds: ['a', 'b'] }]), RangeError);
    t.same(await nodes.listNodes(), [], 'nothing was written');
    t.equal(await presence.countOnline(), 0);
  });
}
