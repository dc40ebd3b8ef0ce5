/**
 * The SDK's positions in stored conversations against a real gateway (embedded backend, stored
 * direct messages): a member offline while a group talks gets every message once and in order at
 * its next login, and reports it with `received`, so the login after gets nothing again; a
 * recovery cut by RECOVERY_MAX_MESSAGES is completed with history pages (`more`); a live frame
 * lost on the way (dropped in the client's WebSocket) is filled from the history.
 */
import t from 'tap';
import WebSocket from 'ws';
import { GatehouseClient, groupConversationId, type GatehouseClientOptions, type WebSocketConstructor } from '../../src/client/index.ts';
import { buildTestApp, eventually, type TestApp } from '../helpers/build.ts';
import { nextEvent } from './helpers.ts';

type Frame = Record<string, unknown>;

/** A `ws` WebSocket that records what the client sends and can lose inbound frames (a dropped live frame). */
function seam(sent: Frame[], drop: (frame: Frame) => boolean = () => false): WebSocketConstructor {
  class SeamWebSocket extends WebSocket {
    // ws overloads send and its listeners' types differ per event: the seam only looks at the text.
    override send(data: any, ...rest: any[]): void {
      if (typeof data === 'string') sent.push(JSON.parse(data) as Frame);
      (super.send as (...args: unknown[]) => void)(data, ...rest);
    }
    override addEventListener(type: any, listener: any, options?: any): void {
      const wrapped =
        type === 'message'
          ? (event: { data?: unknown }) => {
              if (typeof event.data === 'string' && drop(JSON.parse(event.data) as Frame)) return;
              listener(event);
            }
          : listener;
      super.addEventListener(type, wrapped, options);
    }
  }
  return SeamWebSocket as unknown as WebSocketConstructor;
}

/** An SDK client of `userId` whose group events, raw inbound frames and sent frames are recorded. */
function member(t: Tap, h: TestApp, userId: string, options: Partial<GatehouseClientOptions> & { drop?: (frame: Frame) => boolean } = {}) {
  const sent: Frame[] = [];
  const { drop, ...rest } = options;
  const client = new GatehouseClient({ url: `${h.wsUrl}/ws`, token: h.token(userId), WebSocket: seam(sent, drop), ...rest });
  t.teardown(() => client.close());
  /** `group` events as `<group> <seq> <content>`. */
  const events: string[] = [];
  client.on('group', (m) => events.push(`${m.group} ${m.seq} ${String(m.content)}`));
  /** Every inbound stored-message and recovered frame, repeats included. */
  const frames: Frame[] = [];
  client.on('frame', (f) => {
    if (f.type === 'group' || f.type === 'recovered') frames.push(f as Frame);
  });
  return { client, sent, events, frames };
}

/** What member() needs of a test. */
interface Tap {
  teardown(fn: () => unknown): void;
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);
const texts = (group: string, seqs: number[]) => seqs.map((seq) => `${group} ${seq} m${seq}`);

/** Whether the server has the user's positions at the end of every conversation (recovery would send nothing). */
const caughtUp = async (h: TestApp, userId: string) => !(await h.app.conversationPositions.missed([userId], 1000)).has(userId);

t.test('offline while 30 messages are sent: all 30 once and in order; after `received`, nothing again', async (t) => {
  const h = (await buildTestApp(t, 'embedded', { MESSAGE_PERSISTENCE: 'true' }))!;
  await h.app.groups.create({ id: 'guild-1', name: 'Guild', members: ['alice', 'carol'] });
  const alice = member(t, h, 'alice');
  const carol = member(t, h, 'carol');
  await Promise.all([alice.client.connect(), carol.client.connect()]);

  await alice.client.sendToGroup('guild-1', 'm1');
  await eventually(() => carol.events.length === 1);
  await carol.client.close();
  t.match(
    carol.sent.filter((f) => f.type === 'received').at(-1),
    { conversation: groupConversationId('guild-1'), seq: 1 },
    'the position went out, at the latest right before the close',
  );
  await eventually(() => caughtUp(h, 'carol')); // written within 250 ms
  for (const seq of range(2, 31)) await alice.client.sendToGroup('guild-1', `m${seq}`);

  const recovered = nextEvent(carol.client, 'recovered');
  await carol.client.connect();
  t.match(await recovered, { type: 'recovered', messages: 30 }, 'the 30 missed, recovered');
  await carol.client.ping(); // answered after the whole recovery
  t.same(carol.events, texts('guild-1', range(1, 31)), 'every message once, in order');
  t.equal(carol.client.storedPosition(groupConversationId('guild-1')), 31);
  await eventually(() => carol.sent.some((f) => f.type === 'received' && f.seq === 31));
  await eventually(() => caughtUp(h, 'carol'));

  await carol.client.close();
  const framesBefore = carol.frames.length;
  await carol.client.connect();
  await carol.client.ping();
  t.same(carol.frames.slice(framesBefore), [], 'the next login recovers nothing: no message, no recovered frame');
  t.equal(carol.events.length, 31);
});

t.test('RECOVERY_MAX_MESSAGES 10, 25 missed: 10 recovered, the rest paged with history, all in order', async (t) => {
  const h = (await buildTestApp(t, 'embedded', { MESSAGE_PERSISTENCE: 'true', RECOVERY_MAX_MESSAGES: '10', HISTORY_PAGE_MAX: '4' }))!;
  await h.app.groups.create({ id: 'guild-1', name: 'Guild', members: ['alice', 'carol'] });
  await h.app.groups.create({ id: 'guild-2', name: 'Other', members: ['alice', 'carol'] });
  const alice = member(t, h, 'alice');
  await alice.client.connect();
  for (const seq of range(1, 25)) await alice.client.sendToGroup('guild-1', `m${seq}`);
  for (const seq of range(1, 3)) await alice.client.sendToGroup('guild-2', `m${seq}`);

  const carol = member(t, h, 'carol');
  const recovered = nextEvent(carol.client, 'recovered');
  await carol.client.connect();
  // guild-1's first 10 use up the bound: guild-2 is named in `more` without any of its messages.
  t.same(await recovered, { type: 'recovered', messages: 10, more: ['group:guild-1', 'group:guild-2'] });
  await eventually(() => carol.events.length >= 25);
  t.same(carol.events, texts('guild-1', range(1, 25)), 'all 25 once, in order');
  const pages = carol.sent.filter((f) => f.type === 'history');
  t.same(
    pages.map((f) => [f.conversation, f.after]),
    [
      ['group:guild-1', 10],
      ['group:guild-1', 14],
      ['group:guild-1', 18],
      ['group:guild-1', 22],
      ['group:guild-1', 25],
    ],
    'paged 4 at a time after the last seq, until an empty page; guild-2 not (its position is unknown)',
  );
  t.equal(carol.client.storedPosition('group:guild-1'), 25);
  t.equal(carol.client.storedPosition('group:guild-2'), undefined);

  // guild-1 reported: the next login has room for guild-2.
  await eventually(() => carol.sent.some((f) => f.type === 'received' && f.conversation === 'group:guild-1' && f.seq === 25));
  await eventually(async () =>
    (await h.app.conversationPositions.missed(['carol'], 1000)).get('carol')?.messages.every((m) => m.conversationId !== 'group:guild-1'),
  );
  await carol.client.close();
  const again = nextEvent(carol.client, 'recovered');
  await carol.client.connect();
  t.same(await again, { type: 'recovered', messages: 3 }, 'only guild-2 is recovered');
  await carol.client.ping();
  t.same(carol.events.slice(25), texts('guild-2', range(1, 3)));
  await eventually(() => caughtUp(h, 'carol'));
});

t.test('a live frame lost on the way is filled from the history', async (t) => {
  const h = (await buildTestApp(t, 'embedded', { MESSAGE_PERSISTENCE: 'true' }))!;
  await h.app.groups.create({ id: 'guild-1', name: 'Guild', members: ['alice', 'carol'] });
  const alice = member(t, h, 'alice');
  let dropped = 0;
  // Seq 3 is lost once, like a frame a full send queue refused.
  const carol = member(t, h, 'carol', { drop: (f) => f.type === 'group' && f.seq === 3 && dropped++ === 0, gapFillDelayMs: 50 });
  await Promise.all([alice.client.connect(), carol.client.connect()]);
  for (const seq of range(1, 5)) await alice.client.sendToGroup('guild-1', `m${seq}`);
  await eventually(() => carol.events.length >= 5);
  t.equal(dropped, 1, 'seq 3 was dropped');
  t.same(carol.events, texts('guild-1', [1, 2, 4, 5, 3]), 'every message once; the lost one after the gap was seen');
  t.match(
    carol.sent.filter((f) => f.type === 'history'),
    [{ conversation: 'group:guild-1', after: 2 }],
    'paged after the last contiguous seq',
  );
  t.equal(carol.client.storedPosition('group:guild-1'), 5);
  await eventually(() => carol.sent.some((f) => f.type === 'received' && f.seq === 5));
  t.notOk(
    carol.sent.some((f) => f.type === 'received' && (f.seq as number) > 2 && (f.seq as number) < 5),
    'never reported past the gap before it was filled',
  );
  await eventually(() => caughtUp(h, 'carol'));
});
