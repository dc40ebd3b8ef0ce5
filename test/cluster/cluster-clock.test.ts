/**
 * ClusterClock on fake clocks: a monotonic clock, a server clock and a wall clock that the test
 * moves independently. The cluster clock follows the server whatever the wall clock does, prefers
 * samples with a short round trip, and follows a server clock that really jumped.
 */
import t from 'tap';
import { ClusterClock, DRIFT, redisTimeMs } from '../../src/cluster/cluster-clock.ts';

const SERVER_START = 1_800_000_000_000;

/** Fake clocks: `mono` only moves forward; the server runs with the monotonic clock; the wall clock is off by `skew`. */
function fakeClocks(skew: number) {
  const c = { mono: 1000, skew, serverAtMono0: SERVER_START - 1000 };
  const server = () => c.serverAtMono0 + c.mono;
  const clock = new ClusterClock({ monotonic: () => c.mono, wall: () => server() + c.skew });
  /** One sample taking `rtt` ms, with the server reading its clock `readAt` of the way through. */
  const sample = (rtt: number, readAt = 0.5) => {
    const sentAt = c.mono;
    const serverTime = server() + rtt * readAt;
    c.mono += rtt;
    return clock.addSample({ sentAt, receivedAt: c.mono, serverTime });
  };
  return { c, clock, server, sample };
}

t.test('without a sample (memory mode) it is the local wall clock', async (t) => {
  const { clock, server } = fakeClocks(-60_000);
  t.equal(clock.now(), server() - 60_000);
  t.equal(clock.offsetMs(), 0);
  t.equal(clock.synced, false);
  t.equal(clock.errorMs(), Number.POSITIVE_INFINITY);
});

for (const skew of [-60_000, 60_000, 0]) {
  t.test(`a host clock off by ${skew} ms reads server time`, async (t) => {
    const { c, clock, server, sample } = fakeClocks(skew);
    t.equal(sample(2), true, 'first sample kept');
    t.equal(clock.synced, true);
    t.equal(clock.now(), server(), 'server time (read at the midpoint of the round trip)');
    t.equal(clock.offsetMs(), -skew, 'offset: cluster minus local');
    c.mono += 10_000;
    t.equal(clock.now(), server(), 'monotonic time elapsed since the sample is added');
    // The wall clock is stepped at runtime: nothing changes.
    c.skew += 3_600_000;
    t.equal(clock.now(), server(), 'a stepped host clock does not move the cluster clock');
    t.equal(clock.offsetMs(), -skew - 3_600_000);
  });
}

t.test('low round trips win; a slow sample is used only when the kept one has aged', async (t) => {
  const { c, clock, server, sample } = fakeClocks(0);
  t.equal(sample(2, 0.5), true);
  t.ok(Math.abs(clock.errorMs() - 1) < 0.01, 'error bound: half the round trip (plus drift since)');
  // A sample delayed by a busy loop: the server answered at once, the reply waited 400 ms.
  t.equal(sample(400, 0), false, 'a 400 ms round trip does not replace a 2 ms one');
  t.equal(clock.now(), server(), 'still exact');
  t.equal(sample(1, 0.5), true, 'a better one does');
  t.ok(Math.abs(clock.errorMs() - 0.5) < 0.01);
  // Much later the kept sample's error has grown past a mediocre sample's.
  c.mono += 100_000;
  t.ok(clock.errorMs() > 0.5 + DRIFT * 100_000 - 0.001);
  t.equal(sample(80, 0.5), true, 'after 100 s, an 80 ms round trip (error 40 ms < 0.5 + 50) is taken');
  t.equal(clock.now(), server());
  t.equal(clock.samples, 4);
  t.equal(clock.accepted, 3);
});

t.test('a server clock that jumped (another Redis primary) is followed at once', async (t) => {
  const { c, clock, server, sample } = fakeClocks(0);
  sample(1);
  c.serverAtMono0 += 30_000;
  t.equal(sample(50), true, 'contradicts the kept sample beyond both errors: taken despite its round trip');
  t.ok(Math.abs(clock.now() - server()) <= 25, 'within the new sample error');
});

t.test('nonsense samples are ignored', async (t) => {
  const { clock, sample } = fakeClocks(0);
  t.equal(clock.addSample({ sentAt: 10, receivedAt: 5, serverTime: SERVER_START }), false, 'negative round trip');
  t.equal(clock.addSample({ sentAt: 10, receivedAt: 12, serverTime: Number.NaN }), false);
  t.equal(clock.synced, false);
  t.equal(sample(1), true);
});

t.test('sync() brackets the server read with the monotonic clock', async (t) => {
  const { c, clock, server } = fakeClocks(12_345);
  t.equal(
    await clock.sync(async () => {
      c.mono += 3;
      const at = server();
      c.mono += 3;
      return at;
    }),
    true,
  );
  t.equal(clock.now(), server());
  t.ok(Math.abs(clock.errorMs() - 3) < 0.01);
});

t.test('redisTimeMs reads TIME [seconds, microseconds]', async (t) => {
  t.equal(redisTimeMs(['1800000000', '123456']), 1_800_000_000_123.456);
  t.equal(redisTimeMs([1, 0]), 1000);
});
