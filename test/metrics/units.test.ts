/**
 * The pieces of src/metrics without an app: the strict exposition checker itself (it must
 * reject what Prometheus rejects, or the route tests prove nothing), the fixed-bucket
 * histogram, the timing proxy, the history ring buffer, and the watchdog's ping stamp.
 */
import t from 'tap';
import { Registry } from 'prom-client';
import { BucketHistogram, LabeledHistograms, registerHistogram } from '../../src/metrics/bucket-histogram.ts';
import { instrument } from '../../src/metrics/instrument.ts';
import { StatsHistory } from '../../src/metrics/history.ts';
import { counterFrom, gaugeFrom, labeledCounterFrom } from '../../src/metrics/read-at-scrape.ts';
import { Watchdog } from '../../src/gateway/watchdog.ts';
import { ConnectionManager } from '../../src/connection/connection-manager.ts';
import { ManualClock, makeSession } from '../helpers/core.ts';
import { parseExposition, sampleValue } from './exposition.ts';

t.test('the exposition checker accepts the format and rejects what Prometheus would not read', async (t) => {
  const valid = [
    '# HELP up_total Things, with a \\\\ backslash and a \\n newline',
    '# TYPE up_total counter',
    'up_total{code="1000"} 3',
    'up_total{code="4000",path="a\\"b\\\\c\\nd"} 1.5e+3',
    '# a plain comment',
    '',
    '# TYPE lat histogram',
    'lat_bucket{le="0.1"} 1',
    'lat_bucket{le="1"} 2',
    'lat_bucket{le="+Inf"} 2',
    'lat_sum 0.6',
    'lat_count 2',
    'temp -3.25 1700000000000',
    'nan_gauge NaN',
    'nan_too Nan',
    'inf_gauge +Inf',
    '',
  ].join('\n');
  const families = parseExposition(valid);
  t.equal(families.get('up_total')?.type, 'counter');
  t.equal(families.get('up_total')?.help, 'Things, with a \\ backslash and a \n newline');
  t.equal(sampleValue(families, 'up_total', { code: '4000', path: 'a"b\\c\nd' }), 1500);
  t.equal(sampleValue(families, 'lat_count'), 2);
  t.equal(families.get('temp')?.type, 'untyped');

  const bad: Array<[string, RegExp]> = [
    ['x 1', /newline/],
    ['x  1\n', /single spaces/],
    ['x{a="1"}1\n', /one space/],
    ['x{a=1} 1\n', /not quoted/],
    ['x{a="\\t"} 1\n', /bad escape/],
    ['x{1a="b"} 1\n', /bad label name/],
    ['x{__name__="b"} 1\n', /reserved/],
    ['x{a="1",a="2"} 1\n', /duplicate label/],
    ['x one\n', /bad value/],
    ['x 0x1p-2\n', /bad value/],
    ['x 1_000\n', /bad value/],
    ['x 1 1.5\n', /bad timestamp/],
    ['x 1\nx 2\n', /duplicate series/],
    ['x 1\ny 1\nx{a="b"} 1\n', /not contiguous/],
    ['x 1\n# TYPE x gauge\n', /TYPE after/],
    ['# TYPE x gauge\n# TYPE x gauge\n', /second TYPE/],
    ['# TYPE x widget\n', /unknown type/],
    ['# TYPE x counter\nx -1\n', /negative/],
    ['# HELP x bad \\t escape\n', /bad escape in HELP/],
    ['# TYPE h histogram\nh_bucket{le="1"} 1\nh_sum 1\nh_count 1\n', /\+Inf/],
    ['# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n', /cumulative/],
    ['# TYPE h histogram\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 3\n', /_count/],
    ['# TYPE h histogram\nh_bucket{le="2"} 1\nh_bucket{le="1"} 1\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n', /ascending/],
    ['# TYPE h histogram\nh_bucket 1\n', /without le/],
    ['# TYPE h histogram\nh_bucket{le="+Inf"} 1\nh_count 1\n', /_sum/],
  ];
  for (const [text, why] of bad) t.throws(() => parseExposition(text), why, JSON.stringify(text));
});

t.test('BucketHistogram: le buckets, cumulative counts, registered as a family', async (t) => {
  const h = new BucketHistogram([0.1, 1, 10]);
  for (const v of [0.05, 0.1, 0.5, 1, 5, 50]) h.observe(v);
  t.same(h.cumulative(), [2, 4, 5, 6], 'value == bound lands in that bucket (le)');
  t.equal(h.count, 6);
  t.ok(Math.abs(h.sum - 56.65) < 1e-9);
  t.throws(() => new BucketHistogram([1, 1]), /ascending/);

  const registry = new Registry();
  const byMethod = new LabeledHistograms('method', [0.001, 0.01]);
  byMethod.child('login').observe(0.002);
  byMethod.child('login').observe(0.5);
  byMethod.child('ping').observe(0.0001);
  registerHistogram(registry, {
    name: 'op_seconds',
    help: 'Operation time',
    series: function* () {
      for (const [method, histogram] of byMethod.entries()) yield [{ method }, histogram];
    },
  });
  const families = parseExposition(await registry.metrics());
  t.equal(families.get('op_seconds')?.type, 'histogram');
  t.equal(sampleValue(families, 'op_seconds_bucket', { method: 'login', le: '0.01' }), 1);
  t.equal(sampleValue(families, 'op_seconds_bucket', { method: 'login', le: '+Inf' }), 2);
  t.equal(sampleValue(families, 'op_seconds_count', { method: 'ping' }), 1);
  registry.resetMetrics();
  t.equal(sampleValue(parseExposition(await registry.metrics()), 'op_seconds_count', { method: 'login' }), 0, 'reset');
});

t.test('counters and gauges read their source at scrape time', async (t) => {
  const registry = new Registry();
  const source = { n: 0, byCode: new Map<number, number>(), gauge: undefined as number | undefined };
  counterFrom(registry, 'things_total', 'Things', () => source.n);
  labeledCounterFrom(registry, 'closed_total', 'Closed', 'code', () => source.byCode);
  gaugeFrom(registry, 'level', 'Level', async () => source.gauge);
  let families = parseExposition(await registry.metrics());
  t.equal(sampleValue(families, 'things_total'), 0);
  t.equal(families.get('closed_total')?.samples.length, 0, 'no code yet: no series');
  t.equal(families.get('level')?.samples.length, 0, 'an unreadable gauge has no sample (not 0, not NaN)');
  source.n = 7;
  source.byCode.set(1000, 3).set(4002, 1);
  source.gauge = 12.5;
  families = parseExposition(await registry.metrics());
  t.equal(sampleValue(families, 'things_total'), 7);
  t.equal(sampleValue(families, 'closed_total', { code: '1000' }), 3);
  t.equal(sampleValue(families, 'closed_total', { code: '4002' }), 1);
  t.equal(sampleValue(families, 'level'), 12.5);
});

t.test('instrument: times async calls, keeps `this`, the promise and sync methods as they were', async (t) => {
  class Store {
    #secret = 41;
    calls = 0;
    async get(x: number): Promise<number> {
      this.calls++;
      await new Promise((resolve) => setTimeout(resolve, 20));
      return this.#secret + x;
    }
    async fail(): Promise<never> {
      throw new Error('down');
    }
    sync(): number {
      return this.#secret;
    }
  }
  const seen: Array<{ method: string; seconds: number; ok: boolean; args: readonly unknown[] }> = [];
  const store = new Store();
  const proxy = instrument(store, (method, seconds, ok, args) => seen.push({ method, seconds, ok, args }));
  t.equal(await proxy.get(1), 42, '#private fields work (called on the real object)');
  t.equal(store.calls, 1);
  await t.rejects(proxy.fail(), /down/, 'the rejection reaches the caller');
  t.equal(proxy.sync(), 41, 'sync methods pass through');
  t.ok(proxy instanceof Store);
  t.equal(proxy.get, proxy.get, 'one wrapper per method, cached');
  await new Promise((resolve) => setImmediate(resolve));
  t.match(seen, [
    { method: 'get', ok: true, args: [1] },
    { method: 'fail', ok: false },
  ]);
  t.equal(seen.length, 2, 'the sync call is not measured');
  t.ok(seen[0]!.seconds >= 0.015 && seen[0]!.seconds < 1, `duration in seconds (${seen[0]!.seconds})`);
});

t.test('StatsHistory keeps the last hour in a ring, oldest first', async (t) => {
  let n = 0;
  let now = 1_000_000;
  const history = new StatsHistory({
    intervalMs: 10_000,
    now: () => now,
    sample: async () => {
      n++;
      if (n === 3) throw new Error('store down');
      return { connections: n, onlineUsers: n * 2 };
    },
  });
  t.equal(history.capacity, 360, 'one hour of 10 s points');
  for (let i = 0; i < 365; i++) {
    await history.sampleNow();
    now += 10_000;
  }
  const points = history.points();
  t.equal(points.length, 360);
  t.same(points[0], { t: 1_000_000 + 5 * 10_000, connections: 6, onlineUsers: 12 }, 'the oldest kept point');
  t.same(points.at(-1), { t: 1_000_000 + 364 * 10_000, connections: 365, onlineUsers: 730 });
  t.ok(
    points.every((p, i) => i === 0 || p.t > points[i - 1]!.t),
    'in time order',
  );
});

t.test('the watchdog stamps each WebSocket ping for the round-trip measurement', async (t) => {
  const clock = new ManualClock();
  const connections = new ConnectionManager();
  let hr = 500;
  const watchdog = new Watchdog({
    sessions: () => connections.sessions(),
    heartbeatTimeoutMs: 10_000,
    writeTimeoutMs: 5_000,
    wsPingIntervalMs: 5_000,
    pingClock: () => hr,
    random: () => 0,
  });
  const a = makeSession('a', clock);
  connections.add(a.session);
  t.equal(a.session.wsPingSentAt, 0, 'nothing outstanding before the first ping');
  watchdog.tick(clock.now());
  t.equal(a.socket.pings, 1);
  t.equal(a.session.wsPingSentAt, 500, 'stamped with the ping clock');
  hr = 900;
  a.session.lastHeartbeat = clock.advance(1000);
  watchdog.tick(clock.now());
  t.equal(a.session.wsPingSentAt, 500, 'no ping, no new stamp');
  a.session.lastHeartbeat = clock.advance(4000);
  watchdog.tick(clock.now());
  t.equal(a.socket.pings, 2);
  t.equal(a.session.wsPingSentAt, 900);
});
