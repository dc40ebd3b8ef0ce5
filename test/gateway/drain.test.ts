/**
 * drainSessions without sockets: the `reconnect` frame leaves before the 1012 close even when
 * the session's send queue is backed up, and sessions are closed in batches of `batchSize`
 * with a pause of `intervalMs` between them (driven by a fake sleep).
 */
import t from 'tap';
import { CloseCode } from '../../src/protocol/close-codes.ts';
import { ConnectionManager } from '../../src/connection/connection-manager.ts';
import { drainSessions } from '../../src/gateway/drain.ts';
import { FrameOut } from '../../src/gateway/gateway-counters.ts';
import { Session, sessionConfig } from '../../src/connection/session.ts';
import { LIMITS, makeSession, ManualClock, RecordingSocket } from '../helpers/core.ts';

/** A socket that records sends and closes in one timeline and never calls back (a stuck peer). */
class StuckSocket extends RecordingSocket {
  readonly timeline: string[] = [];
  override send(data: string): void {
    this.sent.push(data);
    this.timeline.push((JSON.parse(data) as { type: string }).type);
  }
  override close(code: number, reason: string): void {
    super.close(code, reason);
    this.timeline.push(`close ${code}`);
  }
}

t.test('the reconnect frame is written before the close, past a backed-up queue', async (t) => {
  const clock = new ManualClock();
  const socket = new StuckSocket();
  const framesOut = new Float64Array(12);
  const session = new Session({ id: 's1', userId: 'slow', username: 'slow', socket, config: sessionConfig({ limits: LIMITS, now: clock.now, framesOut }) });
  session.state = 'open';
  // The socket is far behind: the first message goes to the socket, the rest wait in the queue.
  socket.bufferedAmount = 200_000;
  for (let i = 0; i < 5; i++) t.ok(session.send(JSON.stringify({ type: 'message', id: `m${i}` })), `message ${i} accepted`);
  t.ok(session.queue.depth >= 4, `${session.queue.depth} messages waiting in the queue`);
  const connections = new ConnectionManager();
  connections.add(session);

  t.equal(await drainSessions({ connections, batchSize: 10, intervalMs: 0, sleep: async () => {} }), 1);
  t.same(socket.timeline.slice(-2), ['reconnect', `close ${CloseCode.RESTART}`], 'reconnect handed to the socket, then the close');
  t.match(JSON.parse(socket.sent.at(-1)!), { type: 'reconnect', reason: 'server restarting' });
  t.equal(session.queue.depth, 0, 'what was still queued is discarded (it could not follow a close)');
  t.equal(session.endReason, 'shutdown');
  t.equal(framesOut[FrameOut.Reconnect], 1, 'the reconnect frame counts as a frame out');
  t.equal(framesOut[FrameOut.Message], 5, 'and so did the accepted messages');
});

t.test('sessions close in batches of batchSize, with intervalMs between batches', async (t) => {
  const clock = new ManualClock();
  const connections = new ConnectionManager();
  const sockets: RecordingSocket[] = [];
  for (let i = 0; i < 7; i++) {
    const { session, socket } = makeSession(`u${i}`, clock, `s${i}`);
    connections.add(session);
    sockets.push(socket);
  }
  const waves: number[] = [];
  const sleeps: number[] = [];
  let closedSoFar = 0;
  const sleep = async (ms: number) => {
    sleeps.push(ms);
    const closed = sockets.filter((s) => s.closedWith).length;
    waves.push(closed - closedSoFar);
    closedSoFar = closed;
  };
  const closed = await drainSessions({ connections, batchSize: 3, intervalMs: 250, sleep });
  t.equal(closed, 7);
  t.same(waves, [3, 3, 1], 'three waves: 3, 3, then the last one');
  t.same(sleeps, [250, 250, 250], 'a pause of intervalMs after each wave');
  t.ok(
    sockets.every((s) => s.closedWith?.code === CloseCode.RESTART),
    'every session closed with 1012',
  );
  t.ok(
    sockets.every((s) => JSON.parse(s.sent[0]!).type === 'reconnect'),
    'each told to reconnect first',
  );
});

t.test('a session that closed by itself meanwhile is not counted again; one logging in gets no frame', async (t) => {
  const clock = new ManualClock();
  const connections = new ConnectionManager();
  const a = makeSession('a', clock, 'a');
  const b = makeSession('b', clock, 'b');
  b.session.state = 'opening';
  connections.add(a.session);
  connections.add(b.session);
  const closed = await drainSessions({ connections, batchSize: 1, intervalMs: 0, sleep: async () => {} });
  t.equal(closed, 2);
  t.same(
    a.socket.sent.map((f) => JSON.parse(f).type),
    ['reconnect'],
  );
  t.same(b.socket.sent, [], 'no reconnect frame before `connected`');
  t.equal(b.socket.closedWith?.code, CloseCode.RESTART);
});
