/**
 * Drain on a backed-up session: the `reconnect` frame must reach the client before the 1012
 * close even when the session's send queue is full of older frames (it used to be queued behind
 * them and discarded with the queue at the close, so the client saw a bare 1012).
 */
import t from 'tap';
import { CloseCode } from '../../src/protocol/close-codes.ts';
import { drainSessions } from '../../src/gateway/drain.ts';
import { buildTestApp, eventually } from '../helpers/build.ts';
import { TestClient, tcpOf as tcp } from '../helpers/ws-client.ts';

t.test('a client that stopped reading still gets the reconnect frame, then 1012', async (t) => {
  const h = await buildTestApp(t, 'embedded', {
    SEND_QUEUE_MAX: '16',
    SEND_QUEUE_MAX_BYTES: String(8 * 1024 * 1024),
    HEARTBEAT_TIMEOUT_MS: '60000',
    WS_PING_INTERVAL_MS: '600000',
    WRITE_TIMEOUT_MS: '600000',
  });
  if (!h) return;
  const { client: slow } = await TestClient.open(`${h.wsUrl}/ws?token=${h.token('slow')}`);
  const { client: fine } = await TestClient.open(`${h.wsUrl}/ws?token=${h.token('fine')}`);
  // Their replays are over (the stored-message recovery read included): frames go straight to the send queue.
  await eventually(() => h.app.gateway.replay.gated === 0, 20_000);
  const session = [...h.app.gateway.connections.sessionsOf('slow')!][0]!;

  tcp(slow).pause(); // the kernel buffers fill, then ws's, then the session's queue
  const pad = 'p'.repeat(64 * 1024);
  let pushed = 0;
  while (session.queue.depth < 8 && pushed < 5000) {
    h.app.gateway.router.deliverLocal('slow', JSON.stringify({ type: 'message', from: 'x', content: { seq: pushed, pad }, id: `m${pushed}`, ts: 1 }));
    pushed++;
  }
  t.ok(session.queue.depth >= 8, `${session.queue.depth} frames waiting in the send queue behind the socket (${pushed} pushed)`);
  t.equal(session.queue.dropped, 0, 'nothing dropped: the reconnect frame is not lost to a full queue either');

  h.app.gateway.draining = true;
  await drainSessions({ connections: h.app.gateway.connections, batchSize: 10, intervalMs: 0, sleep: async () => {} });
  t.match(await fine.next('reconnect', 5000), { type: 'reconnect', reason: 'server restarting' }, 'a client keeping up gets it');
  t.equal((await fine.closed).code, CloseCode.RESTART);

  tcp(slow).resume();
  const closed = await slow.closed;
  t.equal(closed.code, CloseCode.RESTART, 'the slow client is closed with 1012');
  const last = slow.frames.at(-1);
  t.match(last, { type: 'reconnect', reason: 'server restarting' }, 'and the last frame it read before the close is the reconnect frame');
  const messages = slow.frames.filter((f) => f.type === 'message');
  t.ok(messages.length < pushed, `${messages.length} of ${pushed} messages got out before; the queued rest was discarded`);
  await eventually(() => h.app.gateway.connections.size === 0);
  h.app.gateway.draining = false;
});
