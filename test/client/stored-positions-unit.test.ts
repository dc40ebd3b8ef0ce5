/**
 * The SDK's positions in the stored conversations against a scripted WebSocket and manual
 * timers: the contiguous position per conversation (live, recovered and own messages), the
 * `received` frames it sends (coalesced per 250 ms, bounded in all, flushed before close, off with
 * acknowledgeStored: false), the gap fill (history after the position, the missed messages
 * emitted once in seq order, one fill per conversation, retries with backoff, retention), and the
 * recovery's `more` paged until caught up. Deterministic: no network, no real time.
 */
import t from 'tap';
import type { GatehouseClientOptions, MessageEvent, ServerGroupFrame, StoredMessageView } from '../../src/client/index.ts';
import { connectedFakeClient, type FakeSocket, flush, reconnectFake } from './fakes.ts';

const GUILD = 'group:guild-1';

async function connectedClient(options: Partial<GatehouseClientOptions> = {}) {
  const connected = await connectedFakeClient({ random: () => 0, ackTimeoutMs: 3000, ...options });
  /** `group` and `message` events as `<conversation> <seq>`, in emission order. */
  const given: string[] = [];
  connected.client.on('group', (m) => given.push(`${m.conversation} ${m.seq}`));
  connected.client.on('message', (m) => given.push(`${m.conversation} ${m.seq}`));
  return { ...connected, given };
}

const reconnect = reconnectFake;

const groupFrame = (seq: number, group = 'guild-1'): ServerGroupFrame => ({
  type: 'group',
  group,
  conversation: `group:${group}`,
  seq,
  from: 'bob',
  content: `text ${seq}`,
  id: `${group}-${seq}`,
  ts: 1000 + seq,
});
const stored = (seq: number, group = 'guild-1'): StoredMessageView => ({ seq, id: `${group}-${seq}`, from: 'bob', content: `text ${seq}`, ts: 1000 + seq });
const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

const ofType = (socket: FakeSocket, type: string) => socket.frames().filter((f) => f.type === type);
const received = (socket: FakeSocket) => ofType(socket, 'received');
const histories = (socket: FakeSocket) => ofType(socket, 'history');

/** Answers the history request at `index` of the socket's sent frames with `messages`. */
async function answer(socket: FakeSocket, index: number, messages: StoredMessageView[]): Promise<void> {
  const request = histories(socket)[index];
  if (!request) throw new Error(`no history request #${index}`);
  socket.receive({ type: 'history', id: request.id, conversation: request.conversation, messages });
  await flush();
}

t.test('position: contiguous per conversation, from the first seq seen; own acks count', async (t) => {
  const { client, socket } = await connectedClient();
  t.equal(client.storedPosition(GUILD), undefined, 'nothing seen yet');
  socket.receive(groupFrame(40));
  t.equal(client.storedPosition(GUILD), 40, 'a conversation never seen starts at its first seq');
  socket.receive(groupFrame(41));
  socket.receive(groupFrame(43));
  t.equal(client.storedPosition(GUILD), 41, 'not past a gap');
  socket.receive(groupFrame(42));
  t.equal(client.storedPosition(GUILD), 43, 'the gap closed: the seqs above it join');
  socket.receive(groupFrame(39));
  t.equal(client.storedPosition(GUILD), 43, 'an earlier seq does not move it');

  const sent = client.sendToGroup('guild-1', 'mine', { id: 'g-1' });
  socket.receive({ type: 'ack', id: 'g-1', status: 'stored', conversation: GUILD, seq: 44 });
  await sent;
  t.equal(client.storedPosition(GUILD), 44, "the user's own message counts as had");

  const dm = client.sendTo('bob', 'hi', { id: 'd-1' });
  socket.receive({ type: 'ack', id: 'd-1', status: 'delivered', conversation: 'dm:alice:bob', seq: 7 });
  await dm;
  t.equal(client.storedPosition('dm:alice:bob'), 7, 'a stored direct message too');
  socket.receive({ type: 'message', from: 'bob', content: 'x', id: 'dm-8', ts: 8, conversation: 'dm:alice:bob', seq: 8 });
  t.equal(client.storedPosition('dm:alice:bob'), 8);
  socket.receive({ type: 'message', from: 'bob', content: 'not stored', id: 'plain', ts: 9 });
  t.equal(client.storedPosition('dm:alice:bob'), 8, 'a message without seq is not stored');
  await client.close();
});

t.test('received: after 250 ms with the latest position, once per 250 ms per conversation', async (t) => {
  const { client, timers, socket } = await connectedClient();
  for (const seq of range(1, 30)) socket.receive(groupFrame(seq));
  t.same(received(socket), [], 'not at once');
  timers.advance(249);
  t.same(received(socket), []);
  timers.advance(1);
  t.same(received(socket), [{ type: 'received', conversation: GUILD, seq: 30 }], 'one frame for the burst, the latest seq');

  socket.receive(groupFrame(31));
  timers.advance(100);
  socket.receive(groupFrame(32));
  timers.advance(149);
  t.equal(received(socket).length, 1, 'not within 250 ms');
  timers.advance(1);
  t.same(received(socket).at(-1), { type: 'received', conversation: GUILD, seq: 32 }, 'coalesced: the latest');
  timers.advance(1000);
  t.equal(received(socket).length, 2, 'nothing new, nothing sent');

  socket.receive(groupFrame(34));
  timers.advance(1000);
  t.equal(received(socket).length, 2, 'not past a gap (fillGaps is asked below)');
  await client.close();
});

t.test('received: at most 4 frames per 250 ms in all; the rest wait their turn', async (t) => {
  const { client, timers, socket } = await connectedClient();
  for (let g = 1; g <= 10; g++) socket.receive(groupFrame(1, `g${g}`));
  timers.advance(250);
  t.same(
    received(socket).map((f) => f.conversation),
    ['group:g1', 'group:g2', 'group:g3', 'group:g4'],
  );
  timers.advance(250);
  t.equal(received(socket).length, 8);
  timers.advance(250);
  t.equal(received(socket).length, 10);
  t.same(new Set(received(socket).map((f) => f.conversation)).size, 10, 'each conversation once');
  await client.close();
});

t.test('received: what is pending goes out right before a deliberate close', async (t) => {
  const { client, socket } = await connectedClient();
  socket.receive(groupFrame(1));
  socket.receive(groupFrame(2));
  const closing = client.close();
  t.same(received(socket), [{ type: 'received', conversation: GUILD, seq: 2 }], 'sent before the close frame');
  t.ok(socket.closedWith, 'then closed');
  await closing;
});

t.test('received: kept across a lost connection, sent on the next one; off with acknowledgeStored: false', async (t) => {
  const { client, timers, socket } = await connectedClient();
  socket.receive(groupFrame(1));
  const next = await reconnect(timers);
  t.same(received(socket), [], 'the connection was lost before the 250 ms');
  timers.advance(250);
  t.same(received(next), [{ type: 'received', conversation: GUILD, seq: 1 }], 'the next connection reports it');
  t.equal(client.storedPosition(GUILD), 1, 'the position is kept across reconnects');
  await client.close();

  const off = await connectedClient({ acknowledgeStored: false });
  off.socket.receive(groupFrame(1));
  off.timers.advance(1000);
  await off.client.close();
  t.same(received(off.socket), [], 'never sent, not even on close');
  t.equal(off.client.storedPosition(GUILD), 1, 'the position is still kept');
});

t.test('gap fill: seq N+2 after N pages history after N; the missed message is emitted once', async (t) => {
  const { client, timers, socket, given } = await connectedClient();
  const historyEvents: unknown[] = [];
  client.on('history', (page) => historyEvents.push(page));
  const groups: ServerGroupFrame[] = [];
  client.on('group', (m) => groups.push(m));
  socket.receive(groupFrame(1));
  socket.receive(groupFrame(2));
  socket.receive(groupFrame(4));
  t.same(given, [`${GUILD} 1`, `${GUILD} 2`, `${GUILD} 4`], 'what arrives is given at once');
  timers.advance(249);
  t.same(histories(socket), [], 'a gap may be a reordering: it waits gapFillDelayMs');
  timers.advance(1);
  const [request] = histories(socket);
  t.match(request, { type: 'history', conversation: GUILD, after: 2, limit: 100, id: /^fill:/ });

  socket.receive(groupFrame(5)); // live while the page is asked for: no second request
  timers.advance(1000);
  t.equal(histories(socket).length, 1, 'one fill at a time per conversation');
  t.same(
    received(socket).map((f) => f.seq),
    [2],
    'not reported past the gap',
  );

  await answer(socket, 0, [stored(3), stored(4), stored(5)]);
  t.same(given, [`${GUILD} 1`, `${GUILD} 2`, `${GUILD} 4`, `${GUILD} 5`, `${GUILD} 3`], 'the missed one emitted, nothing twice');
  t.same(groups.at(-1), groupFrame(3), 'as the frame it would have come as');
  t.same(historyEvents, [], "the SDK's own pages are not the app's history events");
  t.equal(client.storedPosition(GUILD), 5);
  timers.advance(250);
  t.same(received(socket).at(-1), { type: 'received', conversation: GUILD, seq: 5 });
  t.equal(histories(socket).length, 1, 'caught up: no more pages');
  await client.close();
});

t.test('gap fill: a gap closed by a late frame within the delay asks nothing; own acks can open one', async (t) => {
  const { client, timers, socket, given } = await connectedClient();
  socket.receive(groupFrame(1));
  const mine = client.sendToGroup('guild-1', 'x', { id: 'g-3' });
  socket.receive({ type: 'ack', id: 'g-3', status: 'stored', conversation: GUILD, seq: 3 }); // control overtakes bulk
  await mine;
  timers.advance(100);
  socket.receive(groupFrame(2));
  timers.advance(1000);
  t.same(histories(socket), [], 'no page');
  t.same(given, [`${GUILD} 1`, `${GUILD} 2`]);
  t.equal(client.storedPosition(GUILD), 3, 'the own message joined the run');

  socket.receive(groupFrame(5));
  timers.advance(250);
  t.match(histories(socket), [{ after: 3 }], 'a real gap is paged');
  await answer(socket, 0, [stored(4), stored(5)]);
  t.same(given, [`${GUILD} 1`, `${GUILD} 2`, `${GUILD} 5`, `${GUILD} 4`]);
  await client.close();
});

t.test('gap fill: pages until the gap is closed, in seq order', async (t) => {
  const { client, timers, socket, given } = await connectedClient();
  socket.receive(groupFrame(1));
  socket.receive(groupFrame(10));
  timers.advance(250);
  // The server's HISTORY_PAGE_MAX (here 3) cuts the pages.
  await answer(socket, 0, [stored(2), stored(3), stored(4)]);
  t.match(histories(socket)[1], { after: 4 }, 'the next page after the last one taken');
  await answer(socket, 1, [stored(5), stored(6), stored(7)]);
  t.match(histories(socket)[2], { after: 7 });
  await answer(socket, 2, [stored(8), stored(9)]);
  timers.advance(10_000);
  t.equal(histories(socket).length, 3, 'reached the seq seen: done');
  t.same(
    given,
    [1, 10, 2, 3, 4, 5, 6, 7, 8, 9].map((seq) => `${GUILD} ${seq}`),
  );
  t.equal(client.storedPosition(GUILD), 10);
  await client.close();
});

t.test('gap fill: failures are retried with backoff and never emit twice', async (t) => {
  // random 0.5: the retries wait 250 ms + half of 1 s, 2 s, 4 s, ...
  const { client, timers, socket, given } = await connectedClient({ ackTimeoutMs: 1000, random: () => 0.5 });
  socket.receive(groupFrame(1));
  socket.receive(groupFrame(3));
  timers.advance(250);
  const [first] = histories(socket);
  socket.receive({ type: 'error', code: 'NOT_AVAILABLE', error: 'send queue full', ref: first!.id });
  await flush();
  timers.advance(749);
  t.equal(histories(socket).length, 1, 'not retried at once');
  timers.advance(1);
  t.equal(histories(socket).length, 2, 'retried after 750 ms');
  timers.advance(1000); // no answer: the request times out
  await flush();
  // The timed-out page arrives late: nobody waits for it any more, nothing is emitted.
  await answer(socket, 1, [stored(2), stored(3)]);
  t.same(given, [`${GUILD} 1`, `${GUILD} 3`]);
  timers.advance(1249);
  t.equal(histories(socket).length, 2, 'the next retry waits longer');
  timers.advance(1);
  t.equal(histories(socket).length, 3, 'the third attempt, 1250 ms later');
  await answer(socket, 2, [stored(2), stored(3)]);
  t.same(given, [`${GUILD} 1`, `${GUILD} 3`, `${GUILD} 2`], 'emitted once');
  // A copy arriving live later is not emitted again either.
  socket.receive(groupFrame(2));
  t.same(given, [`${GUILD} 1`, `${GUILD} 3`, `${GUILD} 2`]);
  await client.close();
});

t.test('gap fill: UNKNOWN_CONVERSATION forgets the conversation; seqs the history lost are skipped', async (t) => {
  const { client, timers, socket, given } = await connectedClient();
  socket.receive(groupFrame(1));
  socket.receive(groupFrame(3));
  timers.advance(250);
  socket.receive({ type: 'error', code: 'UNKNOWN_CONVERSATION', error: 'not yours', ref: histories(socket)[0]!.id });
  await flush();
  timers.advance(60_000);
  t.equal(histories(socket).length, 1, 'no retry');
  t.equal(client.storedPosition(GUILD), undefined, 'forgotten');

  socket.receive(groupFrame(1, 'guild-2'));
  socket.receive(groupFrame(9, 'guild-2'));
  timers.advance(250);
  // Retention deleted 2-5: the history answers the oldest it has after 1.
  await answer(socket, 1, [stored(6, 'guild-2'), stored(7, 'guild-2'), stored(8, 'guild-2'), stored(9, 'guild-2')]);
  t.equal(client.storedPosition('group:guild-2'), 9, 'the deleted seqs are skipped');
  t.same(given.slice(2), ['group:guild-2 1', 'group:guild-2 9', 'group:guild-2 6', 'group:guild-2 7', 'group:guild-2 8']);
  await client.close();
});

t.test('gap fill: a lost connection stops it; the next connection fills what its recovery did not', async (t) => {
  const { client, timers, socket, given } = await connectedClient();
  socket.receive(groupFrame(1));
  socket.receive(groupFrame(4));
  timers.advance(250);
  t.equal(histories(socket).length, 1);
  const next = await reconnect(timers);
  // The recovery resends from the server's position (1): 2 and 4; 3 was dropped again.
  next.receive(groupFrame(2));
  next.receive(groupFrame(4));
  next.receive({ type: 'recovered', messages: 2 });
  t.same(given, [`${GUILD} 1`, `${GUILD} 4`, `${GUILD} 2`], '4 not twice');
  timers.advance(250);
  t.match(histories(next), [{ after: 2 }]);
  await answer(next, 0, [stored(3), stored(4)]);
  t.same(given, [`${GUILD} 1`, `${GUILD} 4`, `${GUILD} 2`, `${GUILD} 3`]);
  t.equal(client.storedPosition(GUILD), 4);
  await client.close();
});

t.test('gap fill: at most two conversations page at once; off with fillGaps: false', async (t) => {
  const { client, timers, socket } = await connectedClient();
  for (const g of ['a', 'b', 'c']) {
    socket.receive(groupFrame(1, g));
    socket.receive(groupFrame(3, g));
  }
  timers.advance(250);
  t.same(
    histories(socket).map((f) => f.conversation),
    ['group:a', 'group:b'],
  );
  await answer(socket, 0, [stored(2, 'a'), stored(3, 'a')]);
  t.same(
    histories(socket).map((f) => f.conversation),
    ['group:a', 'group:b', 'group:c'],
    'the third when one is done',
  );
  await client.close();

  const off = await connectedClient({ fillGaps: false });
  off.socket.receive(groupFrame(1));
  off.socket.receive(groupFrame(3));
  off.socket.receive({ type: 'recovered', messages: 2, more: [GUILD] });
  off.timers.advance(10_000);
  t.same(histories(off.socket), [], 'nothing paged');
  t.equal(off.client.storedPosition(GUILD), 1);
  await off.client.close();
});

t.test('recovered.more: paged after the last recovered seq until a page comes back empty', async (t) => {
  const { client, timers, socket, given } = await connectedClient();
  const recovered: unknown[] = [];
  client.on('recovered', (r) => recovered.push(r));
  for (const seq of [1, 2, 3]) socket.receive(groupFrame(seq));
  socket.receive({ type: 'recovered', messages: 3, more: [GUILD] });
  t.equal(recovered.length, 1, 'the event is emitted');
  t.match(histories(socket), [{ conversation: GUILD, after: 3, limit: 100 }], 'at once');
  await answer(socket, 0, [stored(4), stored(5)]);
  t.match(histories(socket)[1], { after: 5 }, 'a short page is not the end (pages are cut by size)');
  socket.receive(groupFrame(7)); // live meanwhile
  await answer(socket, 1, [stored(6), stored(7)]);
  t.match(histories(socket)[2], { after: 7 });
  await answer(socket, 2, []);
  timers.advance(10_000);
  t.equal(histories(socket).length, 3, 'caught up');
  t.same(
    given,
    [1, 2, 3, 4, 5, 7, 6].map((seq) => `${GUILD} ${seq}`),
  );
  t.equal(client.storedPosition(GUILD), 7);
  t.same(received(socket).at(-1), { type: 'received', conversation: GUILD, seq: 7 });
  await client.close();
});

t.test('recovered.more: a conversation none of whose messages came is left alone (its position is unknown)', async (t) => {
  const { client, timers, socket, given } = await connectedClient();
  socket.receive(groupFrame(1, 'a'));
  socket.receive({ type: 'recovered', messages: 1, more: ['group:a', 'group:b'] });
  await flush();
  t.same(
    histories(socket).map((f) => f.conversation),
    ['group:a'],
    'b is not paged: from where?',
  );
  socket.receive(groupFrame(50, 'b'));
  timers.advance(1000);
  t.ok(given.includes('group:b 50'), 'its live messages are given');
  t.equal(client.storedPosition('group:b'), undefined, 'not tracked');
  t.notOk(
    received(socket).some((f) => f.conversation === 'group:b'),
    'nor acknowledged: the next login recovers it from the server position',
  );
  const next = await reconnect(timers);
  next.receive(groupFrame(48, 'b'));
  next.receive(groupFrame(49, 'b'));
  next.receive(groupFrame(50, 'b'));
  next.receive({ type: 'recovered', messages: 3 });
  t.equal(client.storedPosition('group:b'), 50, 'tracked from the next recovery');
  t.same(
    given.filter((g) => g.startsWith('group:b')),
    ['group:b 50', 'group:b 48', 'group:b 49'],
    '50 not twice',
  );
  await client.close();
});

t.test('gap fill of a direct conversation: message events, the own ones as echoes', async (t) => {
  const { client, timers, socket } = await connectedClient();
  const messages: MessageEvent[] = [];
  client.on('message', (m) => messages.push(m));
  const dm = 'dm:alice:bob';
  socket.receive({ type: 'message', from: 'bob', content: 'one', id: 'd1', ts: 1, conversation: dm, seq: 1 });
  socket.receive({ type: 'message', from: 'bob', content: 'four', id: 'd4', ts: 4, conversation: dm, seq: 4 });
  timers.advance(250);
  await answer(socket, 0, [
    { seq: 2, id: 'd2', from: 'alice', content: 'two', ts: 2 },
    { seq: 3, id: 'd3', from: 'bob', content: 'three', ts: 3 },
    { seq: 4, id: 'd4', from: 'bob', content: 'four', ts: 4 },
  ]);
  t.same(messages.slice(2), [
    { type: 'message', from: 'alice', to: 'bob', echo: true, content: 'two', id: 'd2', ts: 2, conversation: dm, seq: 2 },
    { type: 'message', from: 'bob', content: 'three', id: 'd3', ts: 3, conversation: dm, seq: 3 },
  ]);
  await client.close();
});

t.test('with de-duplication off the gap fill still emits each missed message once', async (t) => {
  const { client, timers, socket, given } = await connectedClient({ dedupeWindow: 0 });
  socket.receive(groupFrame(1));
  socket.receive(groupFrame(3));
  timers.advance(250);
  await answer(socket, 0, [stored(2), stored(3)]);
  t.same(given, [`${GUILD} 1`, `${GUILD} 3`, `${GUILD} 2`]);
  socket.receive(groupFrame(3));
  t.same(given, [`${GUILD} 1`, `${GUILD} 3`, `${GUILD} 2`, `${GUILD} 3`], 'a live repeat is the app’s to handle (dedupeWindow: 0)');
  await client.close();
});
