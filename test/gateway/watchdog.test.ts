/** The watchdog with a manual clock: timeouts, write timeouts, WebSocket pings, one pass per tick. */
import t from 'tap';
import { CloseCode } from '../../src/protocol/close-codes.ts';
import { ConnectionManager } from '../../src/connection/connection-manager.ts';
import { Watchdog } from '../../src/gateway/watchdog.ts';
import { ManualClock, makeSession } from '../helpers/core.ts';

function setup() {
  const clock = new ManualClock();
  const connections = new ConnectionManager();
  const timedOut: string[] = [];
  const watchdog = new Watchdog({
    sessions: () => connections.sessions(),
    heartbeatTimeoutMs: 10_000,
    writeTimeoutMs: 5_000,
    wsPingIntervalMs: 25_000,
    onTimeout: (s) => timedOut.push(s.userId),
    // Every session's first ping at the start of its interval (the spread has its own test).
    random: () => 0,
  });
  return { clock, connections, watchdog, timedOut };
}

t.test('closes sessions silent for more than the timeout with 4000, and only those', async (t) => {
  const { clock, connections, watchdog, timedOut } = setup();
  const quiet = makeSession('quiet', clock);
  const chatty = makeSession('chatty', clock);
  connections.add(quiet.session);
  connections.add(chatty.session);
  for (let second = 1; second <= 10; second++) {
    clock.advance(1000);
    chatty.session.lastHeartbeat = clock.now(); // pings every second
    watchdog.tick(clock.now());
  }
  t.equal(quiet.socket.closedWith, undefined, 'exactly 10 s of silence is not yet a timeout');
  clock.advance(1);
  watchdog.tick(clock.now());
  t.same(quiet.socket.closedWith, { code: CloseCode.HEARTBEAT_TIMEOUT, reason: 'heartbeat timeout' });
  t.equal(quiet.session.endReason, 'timeout');
  t.equal(chatty.socket.closedWith, undefined, 'the pinging session stays');
  t.same(timedOut, ['quiet']);
  watchdog.tick(clock.advance(1000));
  t.equal(watchdog.timeouts, 1, 'a closing session is not timed out twice');
});

t.test('sessions that are not open yet are left alone', async (t) => {
  const { clock, connections, watchdog } = setup();
  const opening = makeSession('opening', clock);
  opening.session.state = 'opening';
  connections.add(opening.session);
  watchdog.tick(clock.advance(60_000));
  t.equal(opening.socket.closedWith, undefined);
});

t.test('WebSocket pings every interval, not every tick', async (t) => {
  const { clock, connections, watchdog } = setup();
  const a = makeSession('a', clock);
  connections.add(a.session);
  watchdog.tick(clock.now());
  t.equal(a.socket.pings, 1, 'first tick pings');
  for (let i = 0; i < 24; i++) {
    a.session.lastHeartbeat = clock.advance(1000);
    watchdog.tick(clock.now());
  }
  t.equal(a.socket.pings, 1, 'no ping before the interval');
  a.session.lastHeartbeat = clock.advance(1000);
  watchdog.tick(clock.now());
  t.equal(a.socket.pings, 2);
});

t.test("each session's pings start at a random point of its first interval: a tick pings a share, not everyone", async (t) => {
  const clock = new ManualClock();
  const connections = new ConnectionManager();
  let draw = 0;
  const watchdog = new Watchdog({
    sessions: () => connections.sessions(),
    heartbeatTimeoutMs: 60_000,
    writeTimeoutMs: 5_000,
    wsPingIntervalMs: 25_000,
    // 100 phases evenly over the interval, as Math.random gives them on average.
    random: () => (draw++ % 100) / 100,
  });
  const sessions = Array.from({ length: 100 }, (_, i) => makeSession(`s${i}`, clock));
  for (const s of sessions) connections.add(s.session); // all at once: a reconnect storm
  const start = clock.now();
  const pingsPerTick: number[] = [];
  const pingedAt = sessions.map((): number[] => []);
  for (let second = 0; second < 75; second++) {
    const now = clock.now();
    for (const s of sessions) s.session.lastHeartbeat = now;
    const before = sessions.map((s) => s.socket.pings);
    watchdog.tick(now);
    let pinged = 0;
    sessions.forEach((s, i) => {
      if (s.socket.pings > before[i]!) {
        pinged++;
        pingedAt[i]!.push(now - start);
      }
    });
    pingsPerTick.push(pinged);
    clock.advance(1000);
  }
  t.ok(Math.max(...pingsPerTick) <= 4, `at most 4 of 100 sessions pinged in one tick (got ${Math.max(...pingsPerTick)})`);
  t.ok(
    pingedAt.every((times) => times[0]! <= 25_000),
    'every session pinged within its first interval (at the first tick after its phase)',
  );
  t.ok(
    pingedAt.every((times) => times.length >= 2 && times.every((at, k) => k === 0 || at - times[k - 1]! === 25_000)),
    'then exactly once per interval',
  );
});

t.test('write timeout terminates a socket whose buffer does not drain', async (t) => {
  const { clock, connections, watchdog } = setup();
  const stuck = makeSession('stuck', clock);
  // A socket that never writes out: its buffer keeps the messages, no callback ever comes.
  stuck.socket.send = (data: string) => {
    stuck.socket.sent.push(data);
    stuck.socket.bufferedAmount += data.length;
  };
  connections.add(stuck.session);
  stuck.session.send('{"type":"broadcast"}'); // sent without a callback (the buffer was empty)
  stuck.session.send('{"type":"broadcast"}'); // tracked
  for (let i = 0; i < 5; i++) {
    stuck.session.lastHeartbeat = clock.advance(1000);
    watchdog.tick(clock.now());
  }
  t.notOk(stuck.socket.terminated, 'not before the write timeout');
  stuck.session.lastHeartbeat = clock.advance(1000);
  watchdog.tick(clock.now());
  t.ok(stuck.socket.terminated, 'terminated');
  t.equal(stuck.session.endReason, 'slow');
  t.equal(watchdog.writeTimeouts, 1);
});
