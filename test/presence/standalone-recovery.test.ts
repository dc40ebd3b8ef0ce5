/**
 * Crash safety of a node without Redis (src/presence/standalone-recovery.ts), on a real state file,
 * a real (embedded) database and the real logout pipeline: what a previous run left behind is
 * written at the next start, exactly as it would have been.
 */
import t, { type Test } from 'tap';
import { mkdtempSync, readFileSync, existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LogoutPipeline } from '../../src/presence/logout-pipeline.ts';
import { NodeStateInUseError, StandaloneRecovery } from '../../src/presence/standalone-recovery.ts';
import { openDatabase } from '../../src/database/database.ts';
import { NodeStateFile } from '../../src/database/node-state-file.ts';
import { PrismaPlayerRepository } from '../../src/database/prisma-player-repository.ts';
import { createMemoryStores } from '../../src/stores/memory/memory-stores.ts';
import type { LogoutRecord } from '../../src/presence/logout-outbox.ts';
import { collectingLogger, ManualClock } from '../helpers/core.ts';

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);

async function setup(t: Test, nodeId = 'node-new') {
  const db = await openDatabase({ pgliteDir: 'memory://', poolMax: 1, migrate: true });
  t.teardown(() => db.close());
  const repository = new PrismaPlayerRepository(db.prisma);
  const clock = new ManualClock(T0 + 60_000);
  const log = collectingLogger();
  const { presence, outbox } = createMemoryStores();
  const pipeline = new LogoutPipeline({ presence, outbox, repository, nodeId, log, now: clock.now, batchMax: 2, retryBaseMs: 20, retryMaxMs: 100 });
  const path = join(mkdtempSync(join(tmpdir(), 'gatehouse-state-')), 'node-state.json');
  const storage = new NodeStateFile(path);
  const sleeps: number[] = [];
  const recovery = (sleep?: (ms: number) => Promise<void>) =>
    new StandaloneRecovery({
      storage,
      nodeId,
      repository,
      logouts: pipeline,
      log,
      now: clock.now,
      intervalMs: 1000,
      batchMax: 2,
      sleep: sleep ?? (async (ms) => void sleeps.push(ms)),
    });
  return { repository, clock, log, pipeline, path, storage, recovery, sleeps };
}

const record = (userId: string, session: string, connectedAt: number, logoutAt: number): LogoutRecord => ({
  userId,
  username: userId,
  logicalSessionId: session,
  nodeId: 'node-old',
  epoch: 1,
  connectedAt,
  logoutAt,
  reason: 'closed',
});

t.test('no state: nothing to recover', async (t) => {
  const { recovery, path } = await setup(t);
  t.same(await recovery().recover(), { unwritten: 0, orphaned: 0 });
  t.notOk(existsSync(path), 'nothing written either');
});

t.test('a crashed run: its unwritten logouts land as they were, its open sessions end at its last-alive time', async (t) => {
  const { repository, path, recovery, log } = await setup(t);
  const lastAliveAt = T0 + 30_000;
  // What the previous run knew: five sessions opened; two ended, their logouts not yet written
  // (the database was down); three still open when it died. Another node's session is not its.
  for (const [i, user] of ['ann', 'bob', 'cat', 'dan', 'eve'].entries()) {
    await repository.recordLogins([{ userId: user, username: user, loginAt: T0 + i * 1000, session: { id: `s-${user}`, nodeId: 'node-old', epoch: 1 } }]);
  }
  await repository.recordLogins([{ userId: 'zed', username: 'zed', loginAt: T0, session: { id: 's-other', nodeId: 'node-elsewhere', epoch: 1 } }]);
  const unwritten = [record('ann', 's-ann', T0, T0 + 10_000), record('bob', 's-bob', T0 + 1000, T0 + 12_000)];
  writeFileSync(path, JSON.stringify({ version: 1, nodeId: 'node-old', lastAliveAt, unwritten }));

  const result = await recovery().recover();
  t.same(result, { previousNodeId: 'node-old', unwritten: 2, orphaned: 3 });

  for (const [user, at] of [
    ['ann', T0 + 10_000],
    ['bob', T0 + 12_000],
  ] as const) {
    const [session] = await repository.listSessions(user, 1);
    t.equal(session?.disconnectedAt?.getTime(), at, `${user}: the original logout time`);
    t.equal(session?.reason, 'closed');
    t.equal((await repository.getUser(user))?.lastSpiritGainTime?.getTime(), at);
  }
  for (const user of ['cat', 'dan', 'eve']) {
    const [session] = await repository.listSessions(user, 1);
    t.equal(session?.disconnectedAt?.getTime(), lastAliveAt, `${user}: ended when the run was last alive`);
    t.equal(session?.reason, 'node_lost');
    t.equal((await repository.getUser(user))?.lastLogoutAt?.getTime(), lastAliveAt);
  }
  t.equal((await repository.listSessions('zed', 1))[0]?.disconnectedAt, null, "another node's session is left alone");
  t.same(
    log.messages('user logged out').map((l) => [l.fields.userId, l.fields.reason]),
    [
      ['cat', 'node_lost'],
      ['dan', 'node_lost'],
      ['eve', 'node_lost'],
    ],
    'one logout line per orphaned session',
  );
  const state = JSON.parse(readFileSync(path, 'utf8'));
  t.equal(state.nodeId, 'node-new', 'the state is now this run’s');
  t.same(state.unwritten, [], 'and holds nothing: every recovered logout is written');

  t.same(await recovery().recover(), { previousNodeId: 'node-new', unwritten: 0, orphaned: 0 }, 'recovering again finds nothing more');
});

t.test('a clean stop removes the state; logouts the database does not have keep it', async (t) => {
  const { recovery, path, pipeline, storage } = await setup(t);
  const r = recovery();
  await r.save();
  t.ok(existsSync(path), 'refreshed while running');
  t.equal(await r.stop(), 0);
  t.notOk(existsSync(path), 'every logout written: nothing to keep');

  // A logout the pipeline produced but could not write (the database is down: report() does
  // not write, it only journals): the stop keeps it for the next start.
  const pending = record('fay', 's-fay', T0, T0 + 5000);
  await pipeline.report([{ ...pending, nodeId: 'node-new' }]);
  t.equal(await recovery().stop(), 1);
  const kept = JSON.parse((await storage.read())!);
  t.same(
    kept.unwritten.map((r: LogoutRecord) => r.logicalSessionId),
    ['s-fay'],
  );

  const next = await setup(t);
  writeFileSync(next.path, readFileSync(path));
  t.same(await next.recovery().recover(), { previousNodeId: 'node-new', unwritten: 1, orphaned: 0 });
  t.equal((await next.repository.listSessions('fay', 1))[0]?.disconnectedAt?.getTime(), T0 + 5000, 'written at the next start, original time');
});

t.test('a state refreshed moments ago: a quick restart recovers, a live owner is refused', async (t) => {
  const { recovery, path, clock, sleeps } = await setup(t);
  const fresh = () => writeFileSync(path, JSON.stringify({ version: 1, nodeId: 'node-old', lastAliveAt: clock.value - 100, unwritten: [] }));

  fresh();
  t.same(await recovery().recover(), { previousNodeId: 'node-old', unwritten: 0, orphaned: 0 }, 'unchanged after the wait: abandoned');
  t.same(sleeps, [2000], 'waited two intervals before judging');

  fresh();
  const liveOwner = async () => void writeFileSync(path, JSON.stringify({ version: 1, nodeId: 'node-old', lastAliveAt: clock.value + 900, unwritten: [] }));
  await t.rejects(recovery(liveOwner).recover(), NodeStateInUseError, 'refreshed during the wait: another process owns it');
});

t.test('an unreadable state is ignored with an error line', async (t) => {
  const { recovery, path, log } = await setup(t);
  writeFileSync(path, '{"version":1,"nodeId":');
  t.same(await recovery().recover(), { unwritten: 0, orphaned: 0 });
  t.equal(log.entries.filter((e) => e.level === 'error').length, 1);
});
