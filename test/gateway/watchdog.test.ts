/**
 * The watchdog with a manual clock: timeouts on app frames only, node stalls credited, the
 * logout at the timeout (through a real gateway, memory store and embedded database), write
 * timeouts, WebSocket pings, one pass per tick.
 */
import t, { type Test } from 'tap';
import { CloseCode } from '../../src/protocol/close-codes.ts';
import { ConnectionManager } from '../../src/connection/connection-manager.ts';
import { Watchdog, type WatchdogOptions } from '../../src/gateway/watchdog.ts';
import { Gateway } from '../../src/gateway/gateway.ts';
import { LogoutPipeline } from '../../src/presence/logout-pipeline.ts';
import { openDatabase } from '../../src/database/database.ts';
import { PrismaPlayerRepository } from '../../src/database/prisma-player-repository.ts';
import { createMemoryStores } from '../../src/stores/memory/memory-stores.ts';
import { MemoryBus, MemoryBusHub } from '../../src/stores/memory/memory-bus.ts';
import type { Session } from '../../src/connection/session.ts';
import { collectingLogger, gatewaySettings, ManualClock, makeSession, RecordingSocket } from '../helpers/core.ts';
import { eventually } from '../helpers/build.ts';

function setup(options: Partial<WatchdogOptions> = {}) {
  const clock = new ManualClock();
  const connections = new ConnectionManager();
  const timedOut: Array<{ userId: string; at: number; silentFor: number }> = [];
  const watchdog = new Watchdog({
    sessions: () => connections.sessions(),
    heartbeatTimeoutMs: 10_000,
    writeTimeoutMs: 5_000,
    wsPingIntervalMs: 25_000,
    intervalMs: 1000,
    // Records, then does what the gateway does to the socket.
    onTimeout: (s, at, silentFor) => {
      timedOut.push({ userId: s.userId, at, silentFor });
      s.close(CloseCode.HEARTBEAT_TIMEOUT, 'heartbeat timeout', 'timeout');
    },
    // Every session's first ping at the start of its interval (the spread has its own test).
    random: () => 0,
    ...options,
  });
  return { clock, connections, watchdog, timedOut };
}

t.test('closes sessions silent for more than the timeout with 4000, and only those', async (t) => {
  const { clock, connections, watchdog, timedOut } = setup();
  const quiet = makeSession('quiet', clock);
  const chatty = makeSession('chatty', clock);
  const lastFrame = clock.now();
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
  t.same(timedOut, [{ userId: 'quiet', at: lastFrame + 10_000, silentFor: 10_001 }], 'handed over with the moment it timed out');
  watchdog.tick(clock.advance(1000));
  t.equal(watchdog.timeouts, 1, 'a closing session is not timed out twice');
});

t.test('without a handler the watchdog closes with 4000 itself', async (t) => {
  const { clock, connections, watchdog } = setup({ onTimeout: undefined });
  const quiet = makeSession('quiet', clock);
  connections.add(quiet.session);
  watchdog.tick(clock.advance(10_001));
  t.same(quiet.socket.closedWith, { code: CloseCode.HEARTBEAT_TIMEOUT, reason: 'heartbeat timeout' });
  t.equal(quiet.session.endReason, 'timeout');
});

t.test('answered WebSocket pings do not extend a session: only frames do', async (t) => {
  const { clock, connections, watchdog, timedOut } = setup({ wsPingIntervalMs: 2000 });
  const frozen = makeSession('frozen', clock);
  connections.add(frozen.session);
  const lastFrame = clock.now();
  // Its socket library answers every WebSocket ping at once (what the route's pong handler
  // does with it: the round trip, nothing else), but its game loop sends nothing.
  frozen.socket.ping = () => {
    frozen.socket.pings++;
    frozen.session.wsPingSentAt = 0;
  };
  for (let i = 0; i < 10; i++) watchdog.tick(clock.advance(1000));
  t.ok(frozen.socket.pings >= 5, `WebSocket pings were sent and answered (${frozen.socket.pings})`);
  t.equal(frozen.socket.closedWith, undefined, 'not before the timeout');
  watchdog.tick(clock.advance(1000));
  t.equal(frozen.socket.closedWith?.code, CloseCode.HEARTBEAT_TIMEOUT, 'timed out 10 s after its last frame');
  t.same(
    timedOut.map((x) => x.at),
    [lastFrame + 10_000],
  );
});

t.test('a late tick is a node stall: credited to every session, never a timeout', async (t) => {
  // The frozen-then-resumed node: timeout 1500, ticks every 250, the process stopped for 3 s.
  const stalls: number[] = [];
  const { clock, connections, watchdog, timedOut } = setup({ heartbeatTimeoutMs: 1500, intervalMs: 250, onStall: (late) => stalls.push(late) });
  const pingers = Array.from({ length: 4 }, (_, i) => makeSession(`pinger-${i}`, clock));
  for (const p of pingers) connections.add(p.session);
  // Each pinger's frame lands at its own phase of the second.
  const run = (ms: number) => {
    for (let elapsed = 0; elapsed < ms; elapsed += 250) {
      clock.advance(250);
      pingers.forEach((p, i) => {
        if ((clock.now() / 250 + i) % 4 === 0) p.session.lastHeartbeat = clock.now();
      });
      watchdog.tick(clock.now());
    }
  };
  run(3000);
  t.equal(watchdog.stalledMs, 0, 'ticks on time: no stall');
  // SIGSTOP: nothing runs for 3 s; the pings of that time wait in the kernel.
  clock.advance(3000);
  // SIGCONT: the overdue tick runs before the buffered pings are read.
  watchdog.tick(clock.now());
  t.equal(watchdog.stalledMs, 2750, 'the late part of the tick is counted');
  t.same(stalls, [2750], 'and reported (logged by the gateway)');
  t.same(timedOut, [], 'no pinger timed out for the time the node was stopped');
  for (const p of pingers) p.session.lastHeartbeat = clock.now(); // now the pings are read
  run(5000);
  t.same(timedOut, [], 'and none afterwards');
  t.ok(
    pingers.every((p) => p.socket.closedWith === undefined),
    'every pinger still open',
  );
});

t.test('a client that really stopped is still timed out: later by at most the node stall, stamped at its timeout', async (t) => {
  const { clock, connections, watchdog, timedOut } = setup({ heartbeatTimeoutMs: 1500, intervalMs: 250 });
  const quitter = makeSession('quitter', clock);
  connections.add(quitter.session);
  const lastFrame = clock.now();
  watchdog.tick(clock.advance(250));
  watchdog.tick(clock.advance(250));
  clock.advance(3000); // the node is stopped for 3 s (2750 ms late)
  watchdog.tick(clock.now());
  t.same(timedOut, [], 'the stall is credited to the quitter too');
  let timedOutAt = 0;
  while (timedOut.length === 0 && clock.now() < lastFrame + 60_000) {
    watchdog.tick(clock.advance(250));
    timedOutAt = clock.now();
  }
  t.equal(timedOut.length, 1, 'timed out');
  const lateBy = timedOutAt - (lastFrame + 1500);
  t.ok(lateBy <= 2750 + 250, `within the timeout + the node stall + one tick (${lateBy} ms past the timeout)`);
  t.equal(timedOut[0]!.at, lastFrame + 1500, 'stamped at last frame + timeout');
});

t.test('a stall is credited in the late tick only: once the node has read its sockets, silence is real again', async (t) => {
  const { clock, connections, watchdog, timedOut } = setup({ heartbeatTimeoutMs: 1500, intervalMs: 250 });
  const quiet = makeSession('quiet', clock);
  connections.add(quiet.session);
  const lastFrame = clock.now();
  watchdog.tick(clock.now());
  watchdog.tick(clock.advance(1000)); // 750 ms late: credited in this tick
  t.same(timedOut, [], 'not silent for long yet');
  watchdog.tick(clock.advance(4000)); // a long stall: silent 5 s, 3750 ms of it the node's
  t.same(timedOut, [], 'the late tick credits its own lateness');
  t.equal(watchdog.stalledMs, 750 + 3750, 'both stalls counted');
  watchdog.tick(clock.advance(250)); // on time: the node has polled its sockets since
  t.equal(timedOut.length, 1, 'the next tick on time times it out: no frame was waiting');
  t.equal(timedOut[0]!.at, lastFrame + 1500, 'stamped at last frame + timeout');
});

t.test('a starved node (3 s stalls, 50 ms runs): pingers stay, a vanished client goes within one stall of its timeout', async (t) => {
  const { clock, connections, watchdog, timedOut } = setup({ heartbeatTimeoutMs: 10_000, intervalMs: 1000 });
  const pinger = makeSession('pinger', clock);
  const vanished = makeSession('vanished', clock);
  connections.add(pinger.session);
  connections.add(vanished.session);
  watchdog.tick(clock.now());
  const lastFrame = clock.now();
  let timedOutAt = 0;
  for (let i = 0; i < 20; i++) {
    watchdog.tick(clock.advance(3000)); // the overdue tick runs first after each stall
    if (timedOut.length > 0 && timedOutAt === 0) timedOutAt = clock.now();
    pinger.session.lastHeartbeat = clock.advance(50); // then the buffered pings are read
  }
  t.same(
    timedOut.map((x) => x.userId),
    ['vanished'],
    'only the vanished client timed out',
  );
  const lateBy = timedOutAt - (lastFrame + 10_000);
  t.ok(lateBy <= 3000 + 1000, `at most one stall and one tick past its timeout (${lateBy} ms), not for as long as the node lags`);
  t.equal(timedOut[0]!.at, lastFrame + 10_000, 'stamped at last frame + timeout');
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

// ---- through the gateway: the logout runs at the timeout ----------------------------------

const flush = () => new Promise((resolve) => setImmediate(resolve));

async function gatewayNode(t: Test) {
  const clock = new ManualClock();
  const stores = createMemoryStores();
  const db = await openDatabase({ pgliteDir: 'memory://', poolMax: 1, migrate: true });
  t.teardown(() => db.close());
  const repository = new PrismaPlayerRepository(db.prisma);
  const log = collectingLogger();
  const logout = new LogoutPipeline({
    presence: stores.presence,
    outbox: stores.outbox,
    repository,
    nodeId: 'n1',
    log,
    now: clock.now,
    batchMax: 500,
    retryBaseMs: 20,
    retryMaxMs: 100,
  });
  t.teardown(() => logout.stop());
  const settings = gatewaySettings({ watchdogIntervalMs: 1000 });
  const bus = new MemoryBus(new MemoryBusHub());
  const gateway = new Gateway({ settings, store: stores.presence, repository, bus, logout, log, now: clock.now });
  await gateway.listen();
  t.teardown(async () => {
    gateway.replay.stop();
    await bus.close();
  });
  const connect = async (userId: string): Promise<{ session: Session; socket: RecordingSocket }> => {
    const socket = new RecordingSocket();
    const session = gateway.open(socket, { userId, username: userId });
    await flush();
    await flush();
    return { session, socket };
  };
  return { clock, stores, repository, log, gateway, connect };
}

t.test('a silent session is logged out at the timeout, stamped last frame + timeout, before its socket closes; the close ends nothing twice', async (t) => {
  const { clock, stores, repository, log, gateway, connect } = await gatewayNode(t);
  const quiet = await connect('quiet');
  const chatty = await connect('chatty');
  t.equal(quiet.session.state, 'open');
  clock.advance(2000);
  gateway.onFrame(quiet.session, '{"type":"ping","ts":1}', false); // its last frame
  const lastFrame = clock.now();
  let ticks = 0;
  while (gateway.connections.countOf('quiet') > 0 && ticks++ < 30) {
    clock.advance(1000);
    gateway.onFrame(chatty.session, '{"type":"ping"}', false);
    gateway.tick(clock.now());
  }
  const timedOutAt = clock.now();
  t.equal(timedOutAt - lastFrame, 11_000, 'at the first tick past 10 s of silence');
  t.equal(gateway.connections.countOf('quiet'), 0, 'the session left the node at once');
  t.equal(quiet.session.state, 'closed', 'and ended at once');
  await gateway.settled();
  const presence = await stores.presence.getPlayer('quiet');
  t.equal(presence?.status, 'offline', 'offline in the store before the socket closed');
  t.equal(presence?.logoutReason, 'timeout');
  t.equal(presence?.logoutTime, lastFrame + 10_000, 'stamped at last frame + timeout, not at the tick');
  await gateway.logins.flush();
  const rows = await (async () => {
    for (let i = 0; i < 100; i++) {
      const found = await repository.listSessions('quiet', 5);
      if (found[0]?.disconnectedAt) return found;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return [];
  })();
  t.equal(rows.length, 1);
  t.equal(rows[0]?.reason, 'timeout');
  t.equal(rows[0]?.disconnectedAt?.getTime(), lastFrame + 10_000, 'the database has the same stamp');
  // Its socket is closed once that logout is written (closing sockets must not delay the writes).
  t.equal(await eventually(() => quiet.socket.closedWith?.code), CloseCode.HEARTBEAT_TIMEOUT, 'the socket is closing with 4000');
  // The socket's close event comes later (close handshake or CLOSE_TIMEOUT_MS).
  clock.advance(5000);
  gateway.onClose(quiet.session, CloseCode.HEARTBEAT_TIMEOUT);
  await gateway.settled();
  t.equal(log.messages('user logged out').filter((l) => l.fields.userId === 'quiet').length, 1, 'logged out once');
  t.equal(log.messages('session closed').filter((l) => l.fields.userId === 'quiet').length, 1, 'ended once');
  t.equal((await stores.presence.getPlayer('quiet'))?.logoutTime, lastFrame + 10_000, 'the stamp did not move');
  t.equal((await stores.presence.getPlayer('chatty'))?.status, 'online', 'the pinging session is untouched');
  t.equal(chatty.socket.closedWith, undefined);
});

t.test('a node stall does not log out pinging sessions (through the gateway)', async (t) => {
  const { clock, stores, gateway, connect } = await gatewayNode(t);
  const players = await Promise.all(['p1', 'p2', 'p3'].map((u) => connect(u)));
  for (let i = 0; i < 5; i++) {
    clock.advance(1000);
    for (const p of players) gateway.onFrame(p.session, '{"type":"ping"}', false);
    gateway.tick(clock.now());
  }
  clock.advance(15_000); // stopped longer than the timeout
  gateway.tick(clock.now()); // the overdue tick first
  for (const p of players) gateway.onFrame(p.session, '{"type":"ping"}', false); // then the buffered pings
  clock.advance(1000);
  gateway.tick(clock.now());
  await gateway.settled();
  t.ok(
    players.every((p) => p.socket.closedWith === undefined),
    'no session closed',
  );
  for (const p of players) t.equal((await stores.presence.getPlayer(p.session.userId))?.status, 'online');
});
