/**
 * KnownUsers (who may be queued for): presence first, then the database; answers cached (known
 * long, unknown briefly, bounded LRU); one batched database query per tick; concurrent questions
 * about one id share a lookup; each sender's cache misses are budgeted. Pure: fake presence and
 * repository that count their calls, a manual clock.
 */
import t from 'tap';
import { KnownUsers } from '../../src/delivery/known-users.ts';
import { ManualClock } from '../helpers/core.ts';

function setup(options: { online?: string[]; rows?: string[]; lookupsPerSender?: number; cacheMax?: number } = {}) {
  const clock = new ManualClock();
  const online = new Set(options.online ?? []);
  const rows = new Set(options.rows ?? []);
  const presenceCalls: string[] = [];
  const queries: string[][] = [];
  let failing = false;
  const known = new KnownUsers({
    presence: {
      getPlayer: async (userId: string) => {
        presenceCalls.push(userId);
        return online.has(userId) ? ({ userId } as never) : null;
      },
    },
    players: {
      existingUsers: async (ids: readonly string[]) => {
        queries.push([...ids]);
        if (failing) throw new Error('database down');
        return new Set(ids.filter((id) => rows.has(id)));
      },
    },
    now: clock.now,
    knownTtlMs: 60_000,
    unknownTtlMs: 1000,
    lookupsPerSender: options.lookupsPerSender ?? 100,
    lookupWindowMs: 10_000,
    ...(options.cacheMax === undefined ? {} : { cacheMax: options.cacheMax }),
  });
  return { known, clock, rows, presenceCalls, queries, fail: (on: boolean) => (failing = on) };
}

t.test('presence or a user row makes a user known; neither: unknown', async (t) => {
  const { known, presenceCalls, queries } = setup({ online: ['on'], rows: ['row'] });
  t.equal(await known.check('on', 's'), 'known', 'presence entry');
  t.equal(queries.length, 0, 'no database query when presence answers');
  t.equal(await known.check('row', 's'), 'known', 'user row');
  t.equal(await known.check('ghost', 's'), 'unknown');
  t.same(presenceCalls, ['on', 'row', 'ghost']);
});

t.test('answers are cached: known for long, unknown briefly', async (t) => {
  const { known, clock, rows, queries } = setup({ rows: ['row'] });
  await known.check('row');
  await known.check('ghost');
  const sent = queries.length;
  clock.advance(999);
  t.equal(await known.check('row'), 'known');
  t.equal(await known.check('ghost'), 'unknown');
  t.equal(queries.length, sent, 'both from the cache');
  rows.add('ghost'); // logged in for the first time
  clock.advance(1);
  t.equal(await known.check('ghost'), 'known', 'an unknown answer is forgotten after unknownTtlMs');
  clock.advance(59_000);
  t.equal(await known.check('row'), 'known');
  t.equal(queries.length, sent + 2, 'the known answer expired after knownTtlMs and was looked up again');
});

t.test("a flood of ids: one query per tick, one lookup per id, the sender's budget caps the misses", async (t) => {
  const { known, queries, presenceCalls } = setup({ lookupsPerSender: 50 });
  const verdicts = await Promise.all(Array.from({ length: 200 }, (_, i) => known.check(`ghost-${i % 60}`, 'mallory')));
  // ids 0..49 got the budget (their repeats join the lookup in flight); 50..59 found it spent.
  t.equal(verdicts.filter((v) => v === 'unknown').length, 170, 'every call about ghost-0..49: unknown');
  t.equal(verdicts.filter((v) => v === 'busy').length, 30, 'every call about ghost-50..59: busy');
  t.equal(new Set(presenceCalls).size, presenceCalls.length, 'each id looked up once');
  t.equal(presenceCalls.length, 50, 'the budget: 50 lookups');
  t.equal(queries.length, 1, 'one database query for all of them');
  t.equal(queries[0]!.length, 50);
  t.equal(await known.check('ghost-0', 'mallory'), 'unknown', 'a cached id costs no budget');
  t.equal(await known.check('ghost-59', 'mallory'), 'busy', 'a new id does, and it is spent');
  t.equal(await known.check('ghost-59', 'alice'), 'unknown', "another sender's budget is its own");
  t.equal(await known.check('ghost-58'), 'unknown', 'the admin API (no sender) has no budget');
});

t.test('the budget refills after its window', async (t) => {
  const { known, clock } = setup({ lookupsPerSender: 1 });
  t.equal(await known.check('a', 's'), 'unknown');
  t.equal(await known.check('b', 's'), 'busy');
  clock.advance(10_000);
  t.equal(await known.check('b', 's'), 'unknown');
});

t.test('the cache is bounded (least recently used go first)', async (t) => {
  const { known, queries } = setup({ rows: ['a', 'b', 'c'], cacheMax: 2 });
  await known.check('a');
  await known.check('b');
  await known.check('a'); // a is now the most recent
  await known.check('c'); // evicts b
  const sent = queries.length;
  await known.check('a');
  t.equal(queries.length, sent, 'a still cached');
  await known.check('b');
  t.equal(queries.length, sent + 1, 'b was evicted and looked up again');
});

t.test('a database failure rejects (the caller answers NOT_AVAILABLE) and is not cached', async (t) => {
  const { known, fail, rows } = setup();
  fail(true);
  await t.rejects(known.check('x', 's'), /database down/);
  fail(false);
  rows.add('x');
  t.equal(await known.check('x', 's'), 'known');
});
