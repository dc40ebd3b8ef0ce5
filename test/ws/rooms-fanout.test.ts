/**
 * A 1,000-member room on one node, real sockets: each message reaches each member exactly once
 * (the publishing session excluded), and the publisher is acked without waiting for the sockets.
 */
import t from 'tap';
import { buildTestApp, eventually, TEST_ADMIN_TOKEN } from '../helpers/build.ts';
import type { TestClient } from '../helpers/ws-client.ts';
import { call, connectPlayers } from '../api/http.ts';

const MEMBERS = 1000;
const MESSAGES = 5;

t.test('1k-member room fan-out: each message once to each member', async (t) => {
  // The test clients do not ping: connecting 1,000 of them on a busy machine may take longer than
  // the default 10 s heartbeat timeout.
  const h = await buildTestApp(t, 'real', { MAX_CONNECTIONS: '5000', HEARTBEAT_TIMEOUT_MS: '120000' });
  if (!h) return;
  const userIds = Array.from({ length: MEMBERS }, (_, i) => `m${String(i).padStart(4, '0')}`);
  const started = Date.now();
  const clients = await connectPlayers((u) => `${h.wsUrl}/ws?token=${h.token(u)}`, userIds);
  t.teardown(() => Promise.all([...clients.values()].map((c) => c.terminate())));
  for (const c of clients.values()) c.send({ type: 'join', room: 'arena' });
  await Promise.all(
    [...clients.values()].map((c) =>
      c.next('joined', 30_000).catch((error: Error) => {
        const rooms = h.app.gateway.rooms as unknown as { subscriptions: Map<string, Promise<boolean>> };
        const bus = h.app.bus as unknown as { subscriber: { status: string } };
        throw new Error(
          `${error.message}; frames: ${JSON.stringify(c.frames)}; members ${h.app.gateway.rooms.registry.localCount('arena')}; ` +
            `subscriptions ${[...rooms.subscriptions.keys()]}; subscriber ${bus.subscriber.status}; logs ${h.logs
              .filter((l) => /warn|error|room/.test(l))
              .slice(0, 5)
              .join(' | ')}`,
        );
      }),
    ),
  );
  t.comment(`${MEMBERS} sessions connected and joined in ${Date.now() - started} ms`);
  t.equal(h.app.gateway.rooms.registry.localCount('arena'), MEMBERS);

  const publisher = clients.get('m0000')!;
  const fanoutStarted = Date.now();
  for (let i = 0; i < MESSAGES; i++) publisher.send({ type: 'room', room: 'arena', content: { seq: i }, id: `p${i}` });
  for (let i = 0; i < MESSAGES; i++) await publisher.next('ack', 10_000, (f) => f.id === `p${i}`);
  const push = await call<{ localSessions: number }>(h, 'POST', '/api/rooms/arena/messages', { token: TEST_ADMIN_TOKEN, body: { content: { seq: 'push' } } });
  t.equal(push.body.localSessions, MEMBERS, 'the push reached every member session');

  const count = (c: TestClient) => c.frames.filter((f) => f.type === 'room').length;
  await eventually(() => [...clients.entries()].every(([u, c]) => count(c) === (u === 'm0000' ? 1 : MESSAGES + 1)), 20_000);
  t.comment(`${MESSAGES} messages + 1 push to ${MEMBERS} members delivered in ${Date.now() - fanoutStarted} ms`);
  // A barrier on a sample: anything duplicated would have arrived before the pong.
  await Promise.all([...clients.values()].slice(0, 50).map((c) => c.ping()));
  let wrong = 0;
  for (const [userId, client] of clients) {
    const seqs = client.frames.filter((f) => f.type === 'room').map((f) => (f.content as { seq: unknown }).seq);
    const expected = userId === 'm0000' ? ['push'] : [0, 1, 2, 3, 4, 'push'];
    if (JSON.stringify(seqs) !== JSON.stringify(expected)) wrong++;
  }
  t.equal(wrong, 0, 'every member got every message exactly once, in order (the publisher only the push)');
  t.equal(h.app.gateway.counters.dropped, 0, 'nothing dropped');
});
