/** The two scheduling helpers: a task deferred to the end of the turn, and bounded waits. */
import t from 'tap';
import { EndOfTurnTask } from '../../src/util/end-of-turn.ts';
import { within, withTimeout } from '../../src/util/promise-timeout.ts';

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

t.test('EndOfTurnTask: once per turn however often scheduled, after the microtasks, cancellable', async (t) => {
  let runs = 0;
  const task = new EndOfTurnTask(() => void runs++);
  task.schedule();
  task.schedule();
  await Promise.resolve();
  t.equal(runs, 0, 'not in a microtask');
  await nextTurn();
  t.equal(runs, 1, 'one run for two requests');
  task.schedule();
  task.cancel();
  await nextTurn();
  t.equal(runs, 1, 'cancelled');
  task.schedule();
  await nextTurn();
  t.equal(runs, 2, 'schedulable again after a cancel');
});

t.test('withTimeout / within', async (t) => {
  const never = new Promise<number>(() => {});
  t.equal(await withTimeout(Promise.resolve(1), 50), 1);
  await t.rejects(withTimeout(never, 5), { message: 'timed out after 5 ms' });
  await t.rejects(withTimeout(Promise.reject(new Error('boom')), 50), { message: 'boom' });
  t.equal(await withTimeout(Promise.resolve(2), Infinity), 2, 'no deadline');
  t.equal(await within(Promise.resolve(3), 50), 3);
  t.equal(await within(never, 5), undefined, 'timed out: undefined');
  t.equal(await within(Promise.reject(new Error('boom')), 50), undefined, 'rejected: undefined');
});
