/**
 * RecentIds, the SDK's de-duplication window: an id seen among the last `capacity` is refused,
 * older ones are forgotten in arrival order, memory stays bounded, 0 turns it off.
 */
import t from 'tap';
import { RecentIds } from '../../src/client/recent-ids.ts';

t.test('an id is new once, until it leaves the window', async (t) => {
  const recent = new RecentIds(3);
  t.equal(recent.addIfNew('a'), true);
  t.equal(recent.addIfNew('a'), false, 'a repeat is refused');
  t.equal(recent.addIfNew('b'), true);
  t.equal(recent.addIfNew('c'), true);
  t.equal(recent.addIfNew('a'), false, 'still within the last 3');
  t.equal(recent.addIfNew('d'), true, 'the window is full: the oldest (a) is forgotten');
  t.equal(recent.size, 3);
  t.equal(recent.addIfNew('b'), false, 'b is still remembered');
  t.equal(recent.addIfNew('a'), true, 'a was forgotten: new again');
  t.equal(recent.addIfNew('b'), true, 'a took the place of the oldest, b');
  t.equal(recent.addIfNew('c'), true, 'and b took the place of c');
  t.equal(recent.addIfNew('a'), false, 'a, b and c are the last 3');
  t.equal(recent.addIfNew('d'), true, 'd was the oldest, forgotten');
});

t.test('memory stays bounded by the capacity over many ids', async (t) => {
  const recent = new RecentIds(1000);
  for (let n = 0; n < 50_000; n++) recent.addIfNew(`m-${n}`);
  t.equal(recent.size, 1000);
  t.equal(recent.addIfNew('m-49000'), false, 'the last 1000 are remembered');
  t.equal(recent.addIfNew('m-48999'), true, 'the one before them is not');
});

t.test('capacity 0: de-duplication off; a capacity that is not an integer >= 0 is refused', async (t) => {
  const off = new RecentIds(0);
  t.equal(off.addIfNew('a'), true);
  t.equal(off.addIfNew('a'), true);
  t.equal(off.size, 0);
  for (const bad of [-1, 1.5, Number.POSITIVE_INFINITY, Number.NaN]) {
    t.throws(() => new RecentIds(bad), RangeError, `capacity ${bad}`);
  }
});
