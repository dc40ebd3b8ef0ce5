/** The nearest-rank percentile behind /ws/stats sendQueueDepth. */
import t from 'tap';
import { percentile } from '../../src/gateway/node-stats.ts';

t.test('nearest-rank percentile', async (t) => {
  t.equal(percentile([], 50), 0, 'no sessions: 0');
  t.equal(percentile([7], 50), 7);
  t.equal(percentile([7], 99), 7);
  const hundred = Array.from({ length: 100 }, (_, i) => i + 1);
  t.equal(percentile(hundred, 50), 50);
  t.equal(percentile(hundred, 99), 99);
  t.equal(percentile(hundred, 100), 100);
  t.equal(percentile([0, 0, 0, 9], 50), 0);
  t.equal(percentile([0, 0, 0, 9], 99), 9, 'one deep queue shows in p99');
});
