/**
 * Send queues with real sockets: a client that stops reading fills its own queue; further
 * messages to it are dropped and counted; the sender never blocks; other clients are
 * unaffected; SLOW_CONSUMER_DROPS closes with 4003; a socket stuck past WRITE_TIMEOUT_MS is
 * terminated and logged out with reason slow. A slow reader flooded by someone else still gets
 * its pongs ahead of the flood, and a `kicked` frame still ends everything.
 */
import t from 'tap';
import { CloseCode } from '../../src/protocol/close-codes.ts';
import { buildTestApp, eventually } from '../helpers/build.ts';
import { TestClient, tcpOf as tcp, type Frame } from '../helpers/ws-client.ts';
import { call } from '../api/http.ts';
import { TEST_ADMIN_TOKEN } from '../helpers/build.ts';

const ENV = {
  SEND_QUEUE_MAX: '8',
  SEND_QUEUE_MAX_BYTES: '131072',
  MAX_CONTENT_BYTES: '60000',
  MAX_MESSAGES_PER_SEC: '100000',
  MAX_INBOUND_BYTES_PER_SEC: '1073741824', // 50 KB frames by the hundred: the flood is the point
  HEARTBEAT_TIMEOUT_MS: '60000',
  WS_PING_INTERVAL_MS: '600000',
};

t.test('drop on full, sender and bystanders unaffected', async (t) => {
  const h = (await buildTestApp(t, 'embedded', { ...ENV, WRITE_TIMEOUT_MS: '600000' }))!;
  const open = async (u: string) => (await TestClient.open(`${h.wsUrl}/ws?token=${h.token(u)}`)).client;
  const sender = await open('sender');
  const stuck = await open('stuck');
  const bystander = await open('bystander');
  // Their logins' replays done (the recovery of stored messages reads the database): messages
  // to `stuck` go to its send queue, not held behind its replay (dropped there under load).
  await eventually(() => h.app.gateway.replay.gated === 0, 20_000);
  tcp(stuck).pause(); // stops reading: the kernel buffers fill, then ws buffers, then our queue

  const total = 400;
  const pad = 'p'.repeat(50_000);
  for (let i = 0; i < total; i++) sender.send({ type: 'message', to: 'stuck', content: { seq: i, pad }, id: `m${i}` });
  for (let i = 0; i < total; i++) {
    await sender.next('ack', 10_000, (f) => f.id === `m${i}`);
    if (i % 100 === 0) await bystander.ping(2000);
  }
  t.pass('the sender got every ack: it never blocked');
  const session = [...h.app.gateway.connections.sessionsOf('stuck')!][0]!;
  t.ok(session.queue.dropped > 0, `messages dropped for the stuck client (${session.queue.dropped})`);
  t.equal(h.app.gateway.counters.dropped, session.queue.dropped, 'counted on the node');
  t.ok(session.queue.depth <= 8, 'queue bounded by SEND_QUEUE_MAX');
  t.ok(
    h.logs.some((l) => l.includes('send queue full')),
    'drop logged',
  );
  t.ok(h.logs.filter((l) => l.includes('send queue full')).length < 5, 'drop warnings rate-limited');
  await bystander.ping();

  tcp(stuck).resume();
  const seqs: number[] = [];
  await eventually(() => {
    const got = stuck.frames.filter((f) => f.type === 'message');
    return got.length === total - session.queue.dropped;
  }, 10_000);
  for (const f of stuck.frames) if (f.type === 'message') seqs.push((f.content as { seq: number }).seq);
  t.ok(
    seqs.every((s, i) => i === 0 || s > seqs[i - 1]!),
    'what was delivered arrived in order',
  );
  await Promise.all([sender.close(), stuck.close(), bystander.close()]);
});

t.test('SLOW_CONSUMER_DROPS consecutive drops close with 4003', async (t) => {
  const h = (await buildTestApp(t, 'embedded', { ...ENV, SLOW_CONSUMER_DROPS: '3' }))!;
  const open = async (u: string) => (await TestClient.open(`${h.wsUrl}/ws?token=${h.token(u)}`)).client;
  const sender = await open('sender2');
  const slow = await open('slow');
  tcp(slow).pause();
  const pad = 'q'.repeat(50_000);
  for (let i = 0; i < 400; i++) sender.send({ type: 'message', to: 'slow', content: { i, pad } });
  await eventually(
    () => h.app.gateway.connections.countOf('slow') === 0 || [...(h.app.gateway.connections.sessionsOf('slow') ?? [])][0]?.state === 'closing',
    10_000,
  );
  tcp(slow).resume();
  t.equal((await slow.closed).code, CloseCode.SLOW_CONSUMER);
  // Its queue was full: the kicked frame went straight to the socket, past the queued messages.
  t.same(slow.frames.at(-1), { type: 'kicked', reason: 'slow_consumer' }, 'the last frame before the close says why');
  t.equal(slow.frames.filter((f) => f.type === 'kicked').length, 1);
  await sender.close();
});

t.test('write timeout terminates a stuck socket and logs it out (reason slow)', async (t) => {
  const h = (await buildTestApp(t, 'embedded', { ...ENV, WRITE_TIMEOUT_MS: '300', WATCHDOG_INTERVAL_MS: '50' }))!;
  const open = async (u: string) => (await TestClient.open(`${h.wsUrl}/ws?token=${h.token(u)}`)).client;
  const sender = await open('sender3');
  const frozen = await open('frozen');
  tcp(frozen).pause();
  const pad = 'r'.repeat(50_000);
  for (let i = 0; i < 300; i++) sender.send({ type: 'message', to: 'frozen', content: { i, pad } });
  const presence = await eventually(async () => {
    const p = await h.app.presence.getPlayer('frozen');
    return p?.status === 'offline' ? p : undefined;
  }, 10_000);
  t.equal(presence.logoutReason, 'slow');
  await sender.close();
});

/** Big enough that the flood below is queued, never dropped: the test counts what the pong overtook. */
const FLOOD_ENV = { ...ENV, SEND_QUEUE_MAX: '2000', SEND_QUEUE_MAX_BYTES: String(256 * 1024 * 1024), WRITE_TIMEOUT_MS: '600000' };
const seqOf = (f: Frame) => (f.content as { seq: number }).seq;

/**
 * Floods `to` (whose reading is paused) until `depth` messages wait in its send queue, and
 * returns its session. Every message is acked first, so nothing is still on its way.
 */
async function flood(h: NonNullable<Awaited<ReturnType<typeof buildTestApp>>>, sender: TestClient, to: string, depth: number) {
  const session = [...h.app.gateway.connections.sessionsOf(to)!][0]!;
  const pad = 'f'.repeat(50_000);
  let seq = 0;
  while (session.queue.depth < depth && seq < 2000) {
    for (let i = 0; i < 20; i++, seq++) sender.send({ type: 'message', to, content: { seq, pad }, id: `f${seq}` });
    await sender.next('ack', 10_000, (f) => f.id === `f${seq - 1}`);
  }
  return { session, sent: seq };
}

t.test('a flooded slow reader gets its pong ahead of the bulk queued before it', async (t) => {
  const h = (await buildTestApp(t, 'embedded', FLOOD_ENV))!;
  const open = async (u: string) => (await TestClient.open(`${h.wsUrl}/ws?token=${h.token(u)}`)).client;
  const attacker = await open('attacker');
  const victim = await open('victim');
  tcp(victim).pause(); // the victim's link stalls: the kernel's buffers fill, then the socket's, then the queue
  const { session, sent } = await flood(h, attacker, 'victim', 30);
  t.equal(session.queue.dropped, 0, 'nothing dropped: every message reaches the victim');

  victim.send({ type: 'ping', ts: 7 }); // writing still works: only reading is paused
  await eventually(() => session.queue.controlDepth === 1, 5000);
  const overtaken = session.queue.depth;
  t.ok(overtaken >= 30, `the pong waits in the control lane while ${overtaken} messages wait in bulk`);
  // More bulk after the pong: it stays behind it.
  attacker.send({ type: 'message', to: 'victim', content: { seq: sent, pad: 'late' }, id: 'late' });
  await attacker.next('ack', 10_000, (f) => f.id === 'late');

  const resumedAt = Date.now();
  tcp(victim).resume();
  const isPong = (f: Frame) => f.type === 'pong' && f.ts === 7;
  await eventually(() => victim.frames.some(isPong), 30_000);
  t.comment(`pong ${Date.now() - resumedAt} ms after the victim read again, ahead of ${overtaken} queued messages`);
  await eventually(() => victim.frames.filter((f) => f.type === 'message').length === sent + 1, 30_000);
  const pongAt = victim.frames.findIndex(isPong);
  t.match(victim.frames[pongAt], { type: 'pong', ts: 7, serverTime: Number });
  const messages = victim.frames.filter((f) => f.type === 'message');
  t.same(
    messages.map(seqOf),
    Array.from({ length: sent + 1 }, (_, i) => i),
    'every message once, in order',
  );
  const before = victim.frames.slice(0, pongAt).filter((f) => f.type === 'message').length;
  t.equal(before, sent - overtaken, 'before the pong: only the messages the socket already held');
  t.equal(messages.length - before, overtaken + 1, 'after it: the queued ones it overtook, and the later one');
  t.end();
});

t.test('a kicked frame still goes past both lanes and ends the stream', async (t) => {
  const h = (await buildTestApp(t, 'embedded', FLOOD_ENV))!;
  const open = async (u: string) => (await TestClient.open(`${h.wsUrl}/ws?token=${h.token(u)}`)).client;
  const attacker = await open('attacker2');
  const victim = await open('victim2');
  tcp(victim).pause();
  const { session, sent } = await flood(h, attacker, 'victim2', 10);
  victim.send({ type: 'ping', ts: 8 });
  await eventually(() => session.queue.controlDepth === 1, 5000);
  const overtaken = session.queue.depth;
  const logout = await call(h, 'POST', '/api/online/logout', { token: TEST_ADMIN_TOKEN, body: { userId: 'victim2' } });
  t.equal(logout.status, 200);
  tcp(victim).resume();
  t.equal((await victim.closed).code, CloseCode.LOGGED_OUT);
  t.same(victim.frames.at(-1), { type: 'kicked', reason: 'logged_out' }, 'kicked is the last frame');
  t.notOk(
    victim.frames.some((f) => f.type === 'pong'),
    'the queued pong was discarded with the queued bulk',
  );
  t.equal(victim.frames.filter((f) => f.type === 'message').length, sent - overtaken, 'only what the socket already held came before it');
  await attacker.close();
});

t.test('the offline replay is not overtaken: a ping after connected is answered after the whole replay', async (t) => {
  // 7.5 MB for one offline user from one sender: far past the offline queue's default quotas.
  const h = (await buildTestApp(t, 'embedded', {
    ...FLOOD_ENV,
    OFFLINE_QUEUE_MAX: '200',
    OFFLINE_QUEUE_MAX_BYTES: String(16 * 1024 * 1024),
    OFFLINE_QUEUE_SENDER_MAX: '1000',
    OFFLINE_QUEUE_SENDER_MAX_BYTES: String(16 * 1024 * 1024),
  }))!;
  const open = async (u: string) => (await TestClient.open(`${h.wsUrl}/ws?token=${h.token(u)}`)).client;
  // Only a user the gateway knows gets an offline queue: 'returning' logged in once before.
  await (await open('returning')).close();
  const sender = await open('sender4');
  const pad = 'o'.repeat(50_000);
  const queued = 150; // about 7.5 MB: more than the kernel's buffers take, so most of it waits in the queue
  for (let i = 0; i < queued; i++) sender.send({ type: 'message', to: 'returning', content: { seq: i, pad }, id: `o${i}` });
  await sender.next('ack', 10_000, (f) => f.id === `o${queued - 1}`);

  const returning = await open('returning');
  tcp(returning).pause();
  const session = [...h.app.gateway.connections.sessionsOf('returning')!][0]!;
  await eventually(() => h.app.gateway.replay.gated === 0, 10_000); // the whole replay is in the send queue
  t.ok(session.queue.depth > 0, `${session.queue.depth} replayed messages wait in the queue`);
  returning.send({ type: 'ping', ts: 9 });
  await eventually(() => session.queue.controlDepth === 1, 5000);
  sender.send({ type: 'message', to: 'returning', content: { seq: queued, pad: 'live' }, id: 'live' });
  await sender.next('ack', 10_000, (f) => f.id === 'live' && f.status === 'delivered');

  tcp(returning).resume();
  await eventually(() => returning.frames.filter((f) => f.type === 'message').length === queued + 1, 30_000);
  const order = returning.frames.map((f) => (f.type === 'message' ? (f.offline ? 'offline' : 'live') : f.type));
  t.same(order, [...Array<string>(queued).fill('offline'), 'pong', 'live'], 'the replay, then the pong (ahead of the live message queued before it)');
  await sender.close();
});
