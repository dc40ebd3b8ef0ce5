/** The Locks contract, run against every implementation (memory, Redis). Times are explicit. */
import type { StoreTest } from './contract-helpers.ts';

export function runLocksContract(test: StoreTest): void {
  test('the lock is exclusive until it expires and only its owner releases it', async (t, { locks }) => {
    t.equal(await locks.tryLock('reaper', 'n1', 30_000, 1000), true);
    t.equal(await locks.tryLock('reaper', 'n2', 30_000, 2000), false, 'held by n1');
    t.equal(await locks.tryLock('other', 'n2', 30_000, 2000), true, 'names are independent');
    t.equal(await locks.tryLock('reaper', 'n1', 30_000, 10_000), true, 'the owner extends it (to 40,000)');
    t.equal(await locks.tryLock('reaper', 'n2', 30_000, 39_999), false, 'still held');
    t.equal(await locks.tryLock('reaper', 'n2', 30_000, 40_000), true, 'expired: taken over');
    t.equal(await locks.tryLock('reaper', 'n1', 30_000, 40_001), false, 'the old owner lost it');
    t.equal(await locks.unlock('reaper', 'n1'), false, 'only the owner releases');
    t.equal(await locks.tryLock('reaper', 'n1', 30_000, 40_002), false, 'still held by n2');
    t.equal(await locks.unlock('reaper', 'n2'), true);
    t.equal(await locks.unlock('reaper', 'n2'), false, 'already released');
    t.equal(await locks.tryLock('reaper', 'n1', 30_000, 40_003), true, 'free again');
    t.equal(await locks.unlock('nothing', 'n1'), false);
  });
}
