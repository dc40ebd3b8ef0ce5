/** The watchdog with a manual clock: timeouts, write timeouts, WebSocket pings, one pass per tick. */
import t from 'tap';
import { CloseCode } from '../../src/core/close-codes.ts';
import { ConnectionManager } from '../../src/core/connection-manager.ts';
import { Watchdog } from '../../src/core/watchdog.ts';
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
