/**
 * The lease keeper's stall bound on a fake clock: renewals go on while the main loop's progress
 * counter moves within NODE_STALL_LIMIT_MS (a slow loop), and stop once it has not moved for
 * longer (a stuck loop). The same bound on real processes: test/cluster/loop-stall.test.ts.
 */
import t from 'tap';
import { StallGuard } from '../../src/cluster/lease-keeper.ts';

t.test('renewals continue while the counter moves within the bound, stop past it, resume when it moves', async (t) => {
  const guard = new StallGuard(3000);
  t.equal(guard.progressing(0, 0), true, 'first look');
  // A loop lagging 2.5 s at a time (below the bound): it still moves between renewals.
  let counter = 0;
  for (let at = 0; at <= 20_000; at += 250) {
    if (at % 2500 === 0) counter++;
    t.equal(guard.progressing(counter, at), true, `lagging loop at ${at} ms`);
  }
  // Stuck from 20 s on.
  t.equal(guard.progressing(counter, 23_000), true, 'exactly the bound: still renewing');
  t.equal(guard.progressing(counter, 23_001), false, 'past the bound: no renewal');
  t.equal(guard.stalledFor(26_000), 6000);
  t.equal(guard.progressing(counter, 40_000), false);
  t.equal(guard.progressing(counter + 1, 40_100), true, 'the loop moved again: renewals resume (and meet the fence if reaped)');
});
