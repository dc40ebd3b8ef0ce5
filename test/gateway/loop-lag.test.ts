/** The event-loop lateness probe of admission control, on a fake clock. */
import t from 'tap';
import { LoopLag } from '../../src/gateway/loop-lag.ts';

t.test('a sample later than the threshold marks the loop overloaded for the hold, then not', async (t) => {
  let now = 1000;
  const lag = new LoopLag(50, () => now, 20, 250);
  lag.start();
  t.teardown(() => lag.stop());
  now += 20;
  lag.sample(now);
  t.notOk(lag.overloaded(), 'on time');
  now += 20 + 49;
  lag.sample(now);
  t.notOk(lag.overloaded(), '49 ms late: under the threshold');
  now += 20 + 51;
  lag.sample(now);
  t.ok(lag.overloaded(), '51 ms late: overloaded');
  t.equal(lag.lateSamples, 1);
  t.ok(lag.overloaded(now + 249), 'held for 250 ms');
  t.notOk(lag.overloaded(now + 250), 'then not');
  // Samples on time during the hold do not end it early, a later late one extends it.
  now += 20;
  lag.sample(now);
  t.ok(lag.overloaded(), 'still held');
  now += 20 + 200;
  lag.sample(now);
  t.ok(lag.overloaded(now + 249), 'extended by the next late sample');
});

t.test('threshold 0: off', async (t) => {
  let now = 0;
  const lag = new LoopLag(0, () => now, 20, 250);
  lag.start();
  now += 10_000;
  lag.sample(now);
  t.notOk(lag.overloaded(), 'never overloaded');
  lag.stop();
});
