/**
 * Lease generations name their process and count, so that a renewal can tell a store that went
 * back to one of its own earlier generations from another process holding the node id.
 */
import t from 'tap';
import { LeaseGenerations, supersedes } from '../../src/cluster/lease-generation.ts';

t.test('a later generation of the same process supersedes an earlier one, nothing else does', async (t) => {
  const mine = new LeaseGenerations();
  const other = new LeaseGenerations();
  const [g1, g2] = [mine.next(), mine.next()];
  const o1 = other.next();
  t.ok(supersedes(g2, g1), 'own later over own earlier');
  t.notOk(supersedes(g1, g2), 'an earlier one never replaces a later one (a stale renewal in flight)');
  t.notOk(supersedes(g1, g1), 'not itself');
  t.notOk(supersedes(g2, o1), "never another process's");
  t.notOk(supersedes(g2, 'a1b2c3d4-0000-4000-8000-000000000000'), 'nor a generation without a count (an older release)');
  t.notOk(supersedes(g2, `${g2.split('/')[0]}/x`), 'nor a malformed one');
});
