/** Heartbeats reach the store coalesced: one store call per interval, only what moved. */
import t from 'tap';
import { ConnectionManager } from '../../src/connection/connection-manager.ts';
import { HeartbeatFlusher } from '../../src/presence/heartbeat-flusher.ts';
import { MemoryPresenceStore } from '../../src/stores/memory/memory-presence-store.ts';
import { collectingLogger, ManualClock, makeSession } from '../helpers/core.ts';

t.test('one flush per interval carrying every moved heartbeat', async (t) => {
  const clock = new ManualClock();
  const store = new MemoryPresenceStore();
  const calls: Array<Map<string, number>> = [];
  const flushHeartbeats = store.flushHeartbeats.bind(store);
  store.flushHeartbeats = async (nodeId, beats) => {
    calls.push(new Map(beats));
    return flushHeartbeats(nodeId, beats);
  };
  const connections = new ConnectionManager();
  const flusher = new HeartbeatFlusher({ store, nodeId: 'n1', sessions: () => connections.sessions(), intervalMs: 1000, log: collectingLogger() });
  const sessions = ['a', 'b', 'c'].map((u) => makeSession(u, clock).session);
  for (const s of sessions) {
    connections.add(s);
    await store.login({ userId: s.userId, username: s.userId, nodeId: 'n1', candidateLogicalSessionId: `l-${s.userId}`, now: clock.now() });
  }
  // Ten pings per session within one interval: one store call (the first tick's).
  for (let i = 0; i < 10; i++) {
    clock.advance(90);
    for (const s of sessions) s.lastHeartbeat = clock.now();
    flusher.maybeFlush(clock.now());
    await Promise.resolve();
  }
  t.equal(calls.length, 1, 'one store call for 30 pings in one interval');
  t.same([...calls[0]!.keys()].sort(), ['a', 'b', 'c']);
  // The next interval carries the newest heartbeat of each.
  clock.advance(200);
  flusher.maybeFlush(clock.now());
  await flusher.flush(clock.now());
  t.equal(calls.length, 2);
  t.same([...calls[1]!.values()], [clock.now() - 200, clock.now() - 200, clock.now() - 200], 'latest heartbeats');
  // Only b pings during the next interval.
  clock.advance(1000);
  sessions[1]!.lastHeartbeat = clock.now();
  flusher.maybeFlush(clock.now());
  await flusher.flush(clock.now());
  t.equal(calls.length, 3);
  t.same([...calls[2]!.entries()], [['b', clock.now()]], 'only the moved heartbeat');
  t.equal((await store.getPlayer('b'))?.lastHeartbeat, clock.now(), 'visible in the store');
  clock.advance(1000);
  flusher.maybeFlush(clock.now());
  await flusher.flush(clock.now());
  t.equal(calls.length, 3, 'nothing moved: no store call');
});
