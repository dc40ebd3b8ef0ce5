import t from 'tap';
import { RateLimiter, type RateVerdict } from '../../src/connection/rate-limiter.ts';

function setup(maxPerSecond: number, strikesToClose: number, start = 0) {
  const clock = { now: start };
  const limiter = new RateLimiter({ maxPerSecond, strikesToClose, now: () => clock.now });
  const burst = (n: number): RateVerdict[] => Array.from({ length: n }, () => limiter.hit());
  return { clock, limiter, burst };
}

t.test('more than maxPerSecond frames in a window are limited', async (t) => {
  const { clock, burst, limiter } = setup(3, 5);
  t.same(burst(5), ['ok', 'ok', 'ok', 'limited', 'limited']);
  clock.now = 999;
  t.same(burst(1), ['limited'], 'same window until 1000 ms');
  t.equal(limiter.count, 6);
  clock.now = 1000;
  t.same(burst(4), ['ok', 'ok', 'ok', 'limited'], 'a new window starts at 1000');
});

t.test('windows are anchored at creation', async (t) => {
  const { clock, burst } = setup(1, 5, 500);
  t.same(burst(2), ['ok', 'limited']);
  clock.now = 1499;
  t.same(burst(1), ['limited']);
  clock.now = 1500;
  t.same(burst(2), ['ok', 'limited']);
  clock.now = 3700; // window [3500, 4500)
  t.same(burst(1), ['ok']);
  clock.now = 4499;
  t.same(burst(1), ['limited']);
});

t.test('strikesToClose limited windows in a row: close on the first extra frame of the last one', async (t) => {
  const { clock, burst, limiter } = setup(2, 3);
  t.same(burst(3), ['ok', 'ok', 'limited']);
  t.equal(limiter.strikes, 1);
  clock.now = 1000;
  t.same(burst(4), ['ok', 'ok', 'limited', 'limited']);
  t.equal(limiter.strikes, 2);
  clock.now = 2000;
  t.same(burst(4), ['ok', 'ok', 'close', 'limited'], "'close' once, on the frame completing the strikes");
  clock.now = 3000;
  t.same(burst(3), ['ok', 'ok', 'limited'], 'never a second close');
});

t.test('strikesToClose = 1 closes on the first over-limit frame', async (t) => {
  const { burst } = setup(2, 1);
  t.same(burst(4), ['ok', 'ok', 'close', 'limited']);
});

t.test('a window without limited frames resets the strikes', async (t) => {
  const { clock, burst, limiter } = setup(2, 3);
  burst(3);
  clock.now = 1000;
  burst(3);
  t.equal(limiter.strikes, 2);
  clock.now = 2000;
  t.same(burst(2), ['ok', 'ok'], 'a clean window');
  clock.now = 3000;
  t.same(burst(3), ['ok', 'ok', 'limited'], 'no close: the streak restarted');
  t.equal(limiter.strikes, 1);
});

t.test('an empty window resets the strikes too', async (t) => {
  const { clock, burst, limiter } = setup(2, 3);
  burst(3);
  clock.now = 1000;
  burst(3);
  clock.now = 3000; // window [2000, 3000) had no frames
  t.same(burst(3), ['ok', 'ok', 'limited']);
  t.equal(limiter.strikes, 1);
});

t.test('a clock going backwards re-anchors the window and resets the strikes', async (t) => {
  const { clock, burst, limiter } = setup(1, 2, 10_000);
  t.same(burst(2), ['ok', 'limited']);
  clock.now = 5_000;
  t.same(burst(2), ['ok', 'limited'], 'not stuck in a window far in the future, not closed');
  t.equal(limiter.strikes, 1);
  clock.now = 5_999;
  t.same(burst(1), ['limited']);
  clock.now = 6_000;
  t.same(burst(2), ['ok', 'close']);
});

t.test('default config: 51 frames in each of 5 seconds closes on the 51st of the 5th', async (t) => {
  const { clock, limiter } = setup(50, 5);
  const verdicts: RateVerdict[] = [];
  for (let s = 0; s < 5; s++) {
    clock.now = s * 1000 + 10;
    for (let i = 0; i < 51; i++) verdicts.push(limiter.hit());
  }
  t.equal(verdicts.filter((v) => v === 'close').length, 1);
  t.equal(verdicts.indexOf('close'), 4 * 51 + 50);
  t.equal(verdicts.filter((v) => v === 'limited').length, 4);
});

t.test('bytes: frames pass while the window is below the budget; the crossing one passes, later ones are limited', async (t) => {
  const clock = { now: 0 };
  const limiter = new RateLimiter({ maxPerSecond: 1000, maxBytesPerSecond: 1000, strikesToClose: 3, now: () => clock.now });
  t.equal(limiter.hit(0, 400), 'ok');
  t.equal(limiter.hit(0, 599), 'ok');
  t.equal(limiter.bytes, 999);
  t.equal(limiter.hit(0, 5000), 'ok', 'below the budget when it came: passes, whatever its size');
  t.equal(limiter.hit(0, 1), 'limited');
  t.equal(limiter.hit(0, 0), 'limited', 'even an empty frame, once the budget is spent');
  t.equal(limiter.bytes, 5999, 'refused frames count no bytes');
  t.equal(limiter.refused, 2);
  t.equal(limiter.strikes, 1, 'a bytes-limited window is a strike');
  t.equal(limiter.windowEndsAt, 1000);
  clock.now = 1000;
  t.equal(limiter.hit(1000, 999), 'ok', 'a new window, a new budget');
  t.equal(limiter.refused, 0);
  t.equal(limiter.hit(1000, 1), 'ok');
  t.equal(limiter.hit(1000, 1), 'limited');
  clock.now = 2000;
  t.equal(limiter.hit(2000, 2000), 'ok');
  t.equal(limiter.hit(2000, 1), 'close', 'strikes from bytes and frames alike close the session');
});

t.test('bytes unlimited by default', async (t) => {
  const limiter = new RateLimiter({ maxPerSecond: 10, strikesToClose: 1, now: () => 0 });
  for (let i = 0; i < 10; i++) t.equal(limiter.hit(0, 1 << 30), 'ok');
  t.equal(limiter.hit(0, 1), 'close');
});
