/**
 * Retention rounds: one node at a time (the lock), the cutoff and the count handed to the store,
 * batches until one comes back short (at most ten a round), a failure logged and not thrown.
 * The deletes themselves are test/chat/message-store.test.ts (prune).
 */
import t from 'tap';
import { RetentionSweeper } from '../../src/chat/retention-sweeper.ts';
import { MemoryLocks } from '../../src/stores/memory/memory-locks.ts';
import { collectingLogger, ManualClock } from '../helpers/core.ts';

t.test('one node per interval prunes, in batches until one is short, at most ten a round', async (t) => {
  const clock = new ManualClock();
  const locks = new MemoryLocks();
  const calls: Array<[number, number, number]> = [];
  let rows = 12_000;
  const messages = {
    prune: async (cutoffMs: number, keep: number, limit: number) => {
      calls.push([cutoffMs, keep, limit]);
      const gone = Math.min(rows, limit);
      rows -= gone;
      return gone;
    },
  };
  const make = (nodeId: string) =>
    new RetentionSweeper({
      messages,
      locks,
      nodeId,
      intervalMs: 1000,
      retentionMs: 86_400_000,
      keepPerConversation: 50,
      now: clock.now,
      log: collectingLogger(),
    });
  const [a, b] = [make('a'), make('b')];
  t.equal(await a.round(), 12_000);
  t.same(
    calls.map((c) => c[2]),
    [5000, 5000, 5000],
    'until a batch came back short',
  );
  t.same(calls[0]!.slice(0, 2), [clock.value - 86_400_000, 50], 'cutoff = now - retention; the count kept');
  t.equal(await b.round(), undefined, 'b waits: a holds the lock for the interval');
  t.equal(calls.length, 3);
  rows = 1_000_000;
  clock.advance(1000);
  calls.length = 0;
  t.equal(await b.round(), 50_000, 'ten batches at most; the rest at the next round');
  t.equal(calls.length, 10);
});

t.test('a failing round is logged and retried at the next one', async (t) => {
  const clock = new ManualClock();
  const log = collectingLogger();
  const messages = { prune: () => Promise.reject(new Error('database down')) };
  const sweeper = new RetentionSweeper({
    messages,
    locks: new MemoryLocks(),
    nodeId: 'a',
    intervalMs: 1000,
    retentionMs: 1,
    keepPerConversation: 1,
    now: clock.now,
    log,
  });
  t.equal(await sweeper.round(), undefined);
  t.match(log.entries, [{ level: 'warn', fields: { err: 'database down' } }]);
});
