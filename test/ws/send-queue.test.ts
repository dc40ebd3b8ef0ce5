/**
 * Send queues with real sockets: a client that stops reading fills its own queue; further
 * messages to it are dropped and counted; the sender never blocks; other clients are
 * unaffected; SLOW_CONSUMER_DROPS closes with 4003; a socket stuck past WRITE_TIMEOUT_MS is
 * terminated and logged out with reason slow.
 */
import t from 'tap';
import type { Socket } from 'node:net';
import { CloseCode } from '../../src/protocol/close-codes.ts';
import { buildTestApp, eventually } from '../helpers/build.ts';
import { TestClient } from '../helpers/ws-client.ts';

const tcp = (client: TestClient) => (client.socket as unknown as { _socket: Socket })._socket;

const ENV = {
  SEND_QUEUE_MAX: '8',
  SEND_QUEUE_MAX_BYTES: '131072',
  MAX_CONTENT_BYTES: '60000',
  MAX_MESSAGES_PER_SEC: '100000',
  HEARTBEAT_TIMEOUT_MS: '60000',
  WS_PING_INTERVAL_MS: '600000',
};

t.test('drop on full, sender and bystanders unaffected', async (t) => {
  const h = (await buildTestApp(t, 'embedded', { ...ENV, WRITE_TIMEOUT_MS: '600000' }))!;
  const open = async (u: string) => (await TestClient.open(`${h.wsUrl}/ws?token=${h.token(u)}`)).client;
  const sender = await open('sender');
  const stuck = await open('stuck');
  const bystander = await open('bystander');
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
