/**
 * gatehouse_frames_in_total and gatehouse_frames_out_total by type, with real traffic: each kind
 * of inbound frame moves its own `type` series; every frame a session's send queue accepts is
 * counted out by its type (connected, pong, error, joined, left, room, ack, message, broadcast,
 * reconnect); a direct message kept in the offline queue is not counted out until a session is
 * actually handed its replay; a frame dropped on a full queue is not counted.
 */
import t from 'tap';
import type { Socket } from 'node:net';
import { drainSessions } from '../../src/gateway/drain.ts';
import { buildTestApp, eventually, TEST_ADMIN_TOKEN, type TestApp } from '../helpers/build.ts';
import { TestClient } from '../helpers/ws-client.ts';
import { call } from '../api/http.ts';
import { parseExposition, sampleValue, type Family } from './exposition.ts';

const ENV = { HEARTBEAT_TIMEOUT_MS: '60000', WS_PING_INTERVAL_MS: '600000', MAX_MESSAGES_PER_SEC: '100000' };

async function scrape(h: TestApp): Promise<Map<string, Family>> {
  const res = await h.app.inject({ url: '/metrics', headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` } });
  if (res.statusCode !== 200) throw new Error(`/metrics answered ${res.statusCode}`);
  return parseExposition(res.body);
}

type Counts = Record<string, number>;
const IN_TYPES = ['ping', 'message', 'join', 'leave', 'room', 'ack', 'invalid', 'rate_limited', 'dropped'];
const OUT_TYPES = ['connected', 'pong', 'message', 'ack', 'error', 'joined', 'left', 'room', 'broadcast', 'kicked', 'reconnect', 'other'];

async function frames(h: TestApp): Promise<{ in: Counts; out: Counts }> {
  const m = await scrape(h);
  const read = (name: string, types: string[]) => Object.fromEntries(types.map((type) => [type, sampleValue(m, name, { type }) ?? 0]));
  return { in: read('gatehouse_frames_in_total', IN_TYPES), out: read('gatehouse_frames_out_total', OUT_TYPES) };
}

/** What changed between two readings (types that did not move are left out). */
function delta(before: Counts, after: Counts): Counts {
  return Object.fromEntries(
    Object.keys(after)
      .filter((k) => after[k] !== before[k])
      .map((k) => [k, after[k]! - before[k]!]),
  );
}

t.test('frames in and out by type move with the traffic that makes them', async (t) => {
  const h = await buildTestApp(t, 'embedded', ENV);
  if (!h) return;
  const clients: TestClient[] = [];
  t.teardown(() => Promise.all(clients.map((c) => c.terminate())));
  const open = async (userId: string) => {
    const { client } = await TestClient.open(`${h.wsUrl}/ws?token=${h.token(userId)}`);
    clients.push(client);
    return client;
  };
  /** Runs `traffic` and returns the change of both families. */
  const step = async (traffic: () => Promise<unknown>) => {
    const before = await frames(h);
    await traffic();
    const after = await frames(h);
    return { in: delta(before.in, after.in), out: delta(before.out, after.out) };
  };

  let alice!: TestClient;
  let bob!: TestClient;
  await t.test('connected', async (t) => {
    const d = await step(async () => {
      alice = await open('alice');
      bob = await open('bob');
    });
    t.same(d, { in: {}, out: { connected: 2 } });
  });

  await t.test('ping -> pong', async (t) => {
    t.same(await step(() => alice.ping()), { in: { ping: 1 }, out: { pong: 1 } });
  });

  await t.test('bad JSON and a binary frame -> invalid in, error out', async (t) => {
    const d = await step(async () => {
      alice.send('{not json');
      await alice.next('error');
      alice.sendBinary(Buffer.from([1, 2, 3]));
      await alice.next('error');
    });
    t.same(d, { in: { invalid: 2 }, out: { error: 2 } });
  });

  await t.test('join -> joined, room -> room (to the other member) + ack, leave -> left', async (t) => {
    t.same(
      await step(async () => {
        alice.send({ type: 'join', room: 'lobby' });
        await alice.next('joined');
        bob.send({ type: 'join', room: 'lobby' });
        await bob.next('joined');
      }),
      { in: { join: 2 }, out: { joined: 2 } },
    );
    t.same(
      await step(async () => {
        alice.send({ type: 'room', room: 'lobby', content: 'hello room', id: 'r1' });
        await bob.next('room');
        await alice.next('ack', 5000, (f) => f.id === 'r1');
      }),
      { in: { room: 1 }, out: { room: 1, ack: 1 } },
    );
    t.same(
      await step(async () => {
        alice.send({ type: 'leave', room: 'lobby' });
        await alice.next('left');
      }),
      { in: { leave: 1 }, out: { left: 1 } },
    );
  });

  await t.test('a direct message to a live user: message out to the recipient, ack out to the sender', async (t) => {
    const d = await step(async () => {
      alice.send({ type: 'message', to: 'bob', content: 'hi', id: 'm1' });
      await bob.next('message');
      await alice.next('ack', 5000, (f) => f.id === 'm1');
    });
    t.same(d, { in: { message: 1 }, out: { message: 1, ack: 1 } });
  });

  let queuedId = '';
  await t.test('a message queued for an offline user is not a frame out', async (t) => {
    await h.app.players.recordLogins([{ userId: 'carol', username: 'carol', loginAt: Date.now() }]); // only known users are queued for
    const statsBefore = (await call<{ messagesOut: number }>(h, 'GET', '/ws/stats', { token: TEST_ADMIN_TOKEN })).body.messagesOut;
    const d = await step(async () => {
      alice.send({ type: 'message', to: 'carol', content: 'while you were away', id: 'm2' });
      const ack = await alice.next('ack', 5000, (f) => f.id === 'm2');
      t.equal(ack.status, 'queued', 'kept in the offline queue');
    });
    t.same(d, { in: { message: 1 }, out: { ack: 1 } }, 'only the ack went out: no message frame reached any session');
    const statsAfter = (await call<{ messagesOut: number }>(h, 'GET', '/ws/stats', { token: TEST_ADMIN_TOKEN })).body.messagesOut;
    t.equal(statsAfter, statsBefore, '/ws/stats messagesOut (delivered) does not count it either');
    t.equal(await h.app.offlineQueue.length('carol'), 1);
  });

  let carol!: TestClient;
  await t.test('its replay to the next session is a frame out; the client ack is a frame in', async (t) => {
    const d = await step(async () => {
      carol = await open('carol');
      const replayed = await carol.next('message', 5000, (f) => f.offline === true);
      queuedId = replayed.id as string;
      carol.send({ type: 'ack', id: queuedId });
      await carol.ping(); // a barrier: the ack was handled before the pong
    });
    t.same(d, { in: { ack: 1, ping: 1 }, out: { connected: 1, message: 1, pong: 1 } });
  });

  await t.test('a broadcast: one frame out per live session', async (t) => {
    const d = await step(async () => {
      const r = await call(h, 'POST', '/api/broadcast', { token: TEST_ADMIN_TOKEN, body: { content: 'maintenance' } });
      t.equal(r.status, 200);
      await Promise.all([alice, bob, carol].map((c) => c.next('broadcast')));
    });
    t.same(d, { in: {}, out: { broadcast: 3 } });
  });

  await t.test('a frame dropped on a full send queue is not counted out', async (t) => {
    const stuck = await open('stuck');
    // Its login's replay is over (the stored-message recovery read included): frames go straight to the send queue.
    await eventually(() => h.app.gateway.replay.gated === 0, 20_000);
    (stuck.socket as unknown as { _socket: Socket })._socket.pause();
    const session = [...h.app.gateway.connections.sessionsOf('stuck')!][0]!;
    const pad = 'p'.repeat(60_000);
    const before = await frames(h);
    let sent = 0;
    while (session.queue.dropped === 0 && sent < 2000) {
      h.app.gateway.router.deliverLocal('stuck', JSON.stringify({ type: 'message', from: 'x', content: pad, id: `f${sent}`, ts: 1 }));
      sent++;
    }
    const after = await frames(h);
    t.ok(session.queue.dropped > 0, `${session.queue.dropped} of ${sent} dropped`);
    t.equal(after.out.message! - before.out.message!, sent - session.queue.dropped, 'out = accepted, drops excluded');
    (stuck.socket as unknown as { _socket: Socket })._socket.resume();
  });

  await t.test('drain: one reconnect frame out per open session', async (t) => {
    const live = h.app.gateway.connections.size;
    const d = await step(async () => {
      await drainSessions({ connections: h.app.gateway.connections, batchSize: 100, intervalMs: 0, sleep: async () => {} });
      await eventually(() => h.app.gateway.connections.size === 0);
    });
    t.same(d.out, { reconnect: live });
    t.same(d.in, {});
  });
});
