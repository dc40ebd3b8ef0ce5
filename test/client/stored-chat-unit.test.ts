/**
 * The SDK's stored chat against a scripted WebSocket and manual timers: sendToGroup and history
 * as requests (the frames they send, the answers that settle them, error frames by `ref`,
 * timeouts), the `group` / `history` / `recovered` events, and each message emitted once by its
 * server id (live, replayed, recovered or already in a history page), across reconnects, within a
 * bounded window. Deterministic: no network, no real time.
 */
import t from 'tap';
import { GatehouseClient, type ServerGroupFrame } from '../../src/client/index.ts';
import { connectedFakeClient, FakeSocket, flush, reconnectFake } from './fakes.ts';

const connectedClient = connectedFakeClient;
const reconnect = reconnectFake;

const groupFrame = (id: string, seq: number, content: unknown = `text ${seq}`): ServerGroupFrame => ({
  type: 'group',
  group: 'guild-1',
  conversation: 'group:guild-1',
  seq,
  from: 'bob',
  content,
  id,
  ts: 1000 + seq,
});

t.test('sendToGroup: a group frame; resolves with the stored ack; error frames and timeouts reject', async (t) => {
  const { client, timers, socket } = await connectedClient({ ackTimeoutMs: 3000 });
  const stored = client.sendToGroup('guild-1', { text: 'gg' });
  const [frame] = socket.frames();
  t.match(frame, { type: 'group', group: 'guild-1', content: { text: 'gg' }, id: /^[0-9a-f-]{36}$/ });
  t.same(Object.keys(frame!).sort(), ['content', 'group', 'id', 'type'], 'nothing else on the wire');
  socket.receive({ type: 'ack', id: 'someone-else', status: 'stored', conversation: 'group:guild-1', seq: 6 });
  socket.receive({ type: 'ack', id: frame!.id, status: 'stored', conversation: 'group:guild-1', seq: 7 });
  t.same(await stored, { id: frame!.id, status: 'stored', conversation: 'group:guild-1', seq: 7 }, 'its own ack, conversation and seq passed on');

  const refused = client.sendToGroup('guild-2', 'let me in', { id: 'g-2' });
  socket.receive({ type: 'error', code: 'NOT_IN_GROUP', error: 'you are not a member of group guild-2', ref: 'g-2' });
  await t.rejects(refused, { name: 'GatehouseError', code: 'NOT_IN_GROUP', ref: 'g-2', frame: { type: 'error', code: 'NOT_IN_GROUP' } });

  const unavailable = client.sendToGroup('guild-1', 'x', { id: 'g-3' });
  socket.receive({ type: 'error', code: 'NOT_AVAILABLE', error: 'the message could not be stored', ref: 'g-3' });
  await t.rejects(unavailable, { code: 'NOT_AVAILABLE', ref: 'g-3' });

  const unanswered = client.sendToGroup('guild-1', 'x', { id: 'g-4' });
  let settled = false;
  unanswered.catch(() => {}).finally(() => (settled = true));
  timers.advance(2999);
  await flush();
  t.equal(settled, false, 'waits ackTimeoutMs');
  timers.advance(1);
  await t.rejects(unanswered, { code: 'TIMEOUT', ref: 'g-4' });
  await client.close();
});

t.test('sendTo passes on the conversation and seq of a stored direct message', async (t) => {
  const { client, socket } = await connectedClient();
  const sent = client.sendTo('bob', 'hi', { id: 'd-1' });
  socket.receive({ type: 'ack', id: 'd-1', status: 'delivered', conversation: 'dm:alice:bob', seq: 3 });
  t.same(await sent, { id: 'd-1', status: 'delivered', conversation: 'dm:alice:bob', seq: 3 });
  await client.close();
});

t.test('history: a history frame with the bounds given; resolves with the messages of its own answer', async (t) => {
  const { client, timers, socket } = await connectedClient({ ackTimeoutMs: 3000 });
  const events: unknown[] = [];
  client.on('history', (page) => events.push(page.id));

  const newest = client.history('group:guild-1');
  const paged = client.history('dm:alice:bob', { before: 40, after: 10, limit: 5, id: 'h-2' });
  const [first, second] = socket.frames();
  t.match(first, { type: 'history', conversation: 'group:guild-1', id: /^[0-9a-f-]{36}$/ });
  t.same(Object.keys(first!).sort(), ['conversation', 'id', 'type'], 'no bounds unless given');
  t.same(second, { type: 'history', conversation: 'dm:alice:bob', id: 'h-2', before: 40, after: 10, limit: 5 });

  const page = [
    { seq: 11, id: 's-11', from: 'bob', content: 'eleven', ts: 11 },
    { seq: 12, id: 's-12', content: { pushed: true }, ts: 12 },
  ];
  socket.receive({ type: 'history', id: 'h-2', conversation: 'dm:alice:bob', messages: page });
  t.same(await paged, page, 'the messages, as sent');
  socket.receive({ type: 'history', id: 'not-ours', conversation: 'group:guild-1', messages: [{ seq: 1, id: 'x', content: 'x', ts: 1 }] });
  socket.receive({ type: 'history', id: first!.id, conversation: 'group:guild-1', messages: [] });
  t.same(await newest, [], 'answered by its own id only');
  t.same(events, ['h-2', 'not-ours', first!.id], 'every history frame is emitted');

  const forbidden = client.history('group:secret', { id: 'h-3' });
  socket.receive({ type: 'error', code: 'UNKNOWN_CONVERSATION', error: 'group:secret is not a conversation of yours', ref: 'h-3' });
  await t.rejects(forbidden, { name: 'GatehouseError', code: 'UNKNOWN_CONVERSATION', ref: 'h-3' });

  const sendAck = client.sendTo('bob', 'x', { id: 'same-kind?' });
  const notAnAck = client.history('group:guild-1', { id: 'h-4' });
  socket.receive({ type: 'history', id: 'same-kind?', conversation: 'group:guild-1', messages: [] });
  socket.receive({ type: 'ack', id: 'h-4', status: 'stored' });
  timers.advance(3000);
  await t.rejects(sendAck, { code: 'TIMEOUT' }, 'a history frame does not answer a message');
  await t.rejects(notAnAck, { code: 'TIMEOUT', ref: 'h-4' }, 'an ack does not answer a history request');
  await client.close();
  await t.rejects(client.history('group:guild-1'), { code: 'NOT_CONNECTED' });
});

t.test('group and recovered events', async (t) => {
  const { client, socket } = await connectedClient();
  const groups: ServerGroupFrame[] = [];
  const recovered: unknown[] = [];
  client.on('group', (m) => groups.push(m));
  client.on('recovered', (r) => recovered.push(r));
  socket.receive(groupFrame('s-1', 1, { text: 'gg' }));
  socket.receive({ type: 'recovered', messages: 1, more: ['group:guild-2'] });
  t.same(groups, [groupFrame('s-1', 1, { text: 'gg' })]);
  t.same(recovered, [{ type: 'recovered', messages: 1, more: ['group:guild-2'] }]);
  await client.close();
});

t.test('each message is emitted once by its server id: live, recovered after a reconnect, replayed', async (t) => {
  const { client, timers, socket } = await connectedClient({ autoAckDelayMs: 50 });
  const emitted: string[] = [];
  const frames: string[] = [];
  client.on('message', (m) => emitted.push(`message ${m.id}`));
  client.on('group', (m) => emitted.push(`group ${m.id}`));
  client.on('frame', (f) => frames.push(`${f.type} ${String((f as { id?: unknown }).id)}`));

  socket.receive(groupFrame('g-1', 1));
  socket.receive(groupFrame('g-1', 1));
  socket.receive({ type: 'message', from: 'bob', content: 'hi', id: 'm-1', ts: 1, conversation: 'dm:alice:bob', seq: 1 });
  socket.receive({ type: 'message', from: 'bob', content: 'hi', id: 'm-1', ts: 1, conversation: 'dm:alice:bob', seq: 1 });
  socket.receive({ type: 'message', from: 'bob', content: 'queued', id: 'o-1', ts: 2, offline: true });
  t.same(emitted, ['group g-1', 'message m-1', 'message o-1'], 'repeats on one connection: once');
  t.same(frames, ['group g-1', 'group g-1', 'message m-1', 'message m-1', 'message o-1'], 'the frame event still sees every copy');

  // The connection drops before the replay was acknowledged: the next session recovers the
  // stored messages and replays the queued one again.
  const next = await reconnect(timers);
  next.receive(groupFrame('g-1', 1));
  next.receive({ type: 'message', from: 'bob', content: 'hi', id: 'm-1', ts: 1, conversation: 'dm:alice:bob', seq: 1 });
  next.receive(groupFrame('g-2', 2));
  next.receive({ type: 'message', from: 'bob', content: 'queued', id: 'o-1', ts: 2, offline: true });
  t.same(emitted, ['group g-1', 'message m-1', 'message o-1', 'group g-2'], 'across the reconnect: only the new one');
  timers.advance(50);
  t.same(next.frames(), [{ type: 'ack', id: 'o-1' }], 'the repeated replay is still acknowledged (or the server replays it forever)');
  await client.close();
});

t.test("a history page's messages count as seen: their live copies are not emitted", async (t) => {
  const { client, socket } = await connectedClient();
  const emitted: string[] = [];
  client.on('group', (m) => emitted.push(m.id));
  const page = client.history('group:guild-1', { id: 'h-1' });
  socket.receive({
    type: 'history',
    id: 'h-1',
    conversation: 'group:guild-1',
    messages: [
      { seq: 4, id: 'g-4', from: 'bob', content: 'four', ts: 4 },
      { seq: 5, id: 'g-5', from: 'bob', content: 'five', ts: 5 },
    ],
  });
  socket.receive(groupFrame('g-5', 5)); // in the same read as the page: before the promise settles
  t.equal((await page).length, 2);
  socket.receive(groupFrame('g-6', 6));
  // A page nobody asked for (sent raw, or answered after its timeout) proves nothing.
  socket.receive({ type: 'history', id: 'stray', conversation: 'group:guild-1', messages: [{ seq: 7, id: 'g-7', content: 'seven', ts: 7 }] });
  socket.receive(groupFrame('g-7', 7));
  t.same(emitted, ['g-6', 'g-7']);
  await client.close();
});

t.test('the window is bounded: an id older than dedupeWindow messages is new again; 0 turns it off', async (t) => {
  const small = await connectedClient({ dedupeWindow: 2 });
  const seen: string[] = [];
  small.client.on('message', (m) => seen.push(m.id));
  for (const id of ['a', 'b', 'a', 'c', 'b', 'c', 'a']) small.socket.receive({ type: 'message', from: 'bob', content: id, id, ts: 1 });
  // a, b; a repeated; c evicts a; b and c repeated; a (forgotten) is new again.
  t.same(seen, ['a', 'b', 'c', 'a']);
  // Stored messages are also known by their seq: given once, however far out of the window.
  const groups: string[] = [];
  small.client.on('group', (m) => groups.push(m.id));
  for (const [id, seq] of [
    ['g-1', 1],
    ['g-2', 2],
    ['g-3', 3],
    ['g-1', 1],
    ['g-2', 2],
  ] as const)
    small.socket.receive(groupFrame(id, seq));
  t.same(groups, ['g-1', 'g-2', 'g-3'], 'g-1 left the window, its seq is known');
  await small.client.close();

  const off = await connectedClient({ dedupeWindow: 0 });
  const all: string[] = [];
  off.client.on('message', (m) => all.push(m.id));
  off.socket.receive({ type: 'message', from: 'bob', content: 'x', id: 'm', ts: 1 });
  off.socket.receive({ type: 'message', from: 'bob', content: 'x', id: 'm', ts: 1 });
  t.same(all, ['m', 'm'], 'de-duplication off');
  await off.client.close();

  t.throws(() => new GatehouseClient({ url: 'ws://x/ws', WebSocket: FakeSocket, dedupeWindow: -1 }), RangeError);
});
