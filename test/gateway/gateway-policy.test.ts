/**
 * Session policies when logins race. The online store hands out epochs in the order it
 * processes logins, but its answers may reach a node in any order (several Redis connections,
 * a slow round trip, another node). A session still logging in (epoch 0) must never be taken
 * for the oldest: only sessions whose epoch is lower than the new one's are replaced, and a
 * pending session is judged when its own login completes. Here the store's answers are held
 * and released by the test, so every interleaving is deterministic.
 */
import t, { type Test } from 'tap';
import { MemoryBus, MemoryBusHub } from '../../src/stores/memory/memory-bus.ts';
import { CloseCode } from '../../src/protocol/close-codes.ts';
import { Gateway, type GatewaySettings } from '../../src/gateway/gateway.ts';
import type { LogoutPipeline } from '../../src/presence/logout-pipeline.ts';
import type { Session } from '../../src/connection/session.ts';
import type { PlayerRepository } from '../../src/presence/player-repository.ts';
import { MemoryPresenceStore } from '../../src/stores/memory/memory-presence-store.ts';
import type { LoginInput, LoginResult } from '../../src/presence/presence-store.ts';
import { collectingLogger, gatewaySettings, ManualClock, RecordingSocket } from '../helpers/core.ts';

/** Processes logins at once (epochs in call order) but answers only when released. */
class HeldLoginStore extends MemoryPresenceStore {
  readonly held: Array<{ input: LoginInput; result: LoginResult; release: () => void }> = [];

  override async login(input: LoginInput): Promise<LoginResult> {
    const result = await super.login(input);
    return new Promise((resolve) => this.held.push({ input, result, release: () => resolve(result) }));
  }

  /** Answers the held login of `connectionId` and lets the gateway act on it. */
  async release(session: Session): Promise<number> {
    await flush(); // logins called in this turn are registered by now
    const i = this.held.findIndex((h) => h.input.connectionId === session.id);
    if (i < 0) throw new Error(`no held login for ${session.id}`);
    const [entry] = this.held.splice(i, 1);
    entry!.release();
    await flush();
    return entry!.result.epoch;
  }
}

const flush = () => new Promise((resolve) => setImmediate(resolve));

function settings(nodeId: string, policy: 'replace' | 'multi', maxSessionsPerUser = 5): GatewaySettings {
  return gatewaySettings({ nodeId, sessionPolicy: policy, maxSessionsPerUser });
}

async function node(t: Test, nodeId: string, policy: 'replace' | 'multi', store: MemoryPresenceStore, hub = new MemoryBusHub(), cap?: number) {
  const clock = new ManualClock();
  const bus = new MemoryBus(hub);
  const repository = { recordLogins: async () => {} } as unknown as PlayerRepository;
  const logout = { endConnection: async () => undefined } as unknown as LogoutPipeline;
  const gateway = new Gateway({ settings: settings(nodeId, policy, cap), store, repository, bus, logout, log: collectingLogger(), now: clock.now });
  await gateway.listen();
  t.teardown(async () => {
    gateway.replay.stop();
    await bus.close();
  });
  /** A connection of `userId`; its socket records what the gateway did to it. */
  const connect = (userId: string) => {
    const socket = new RecordingSocket();
    const session = gateway.open(socket, { userId, username: userId });
    return { session, socket };
  };
  return { gateway, connect };
}

const closeCode = (socket: RecordingSocket) => socket.closedWith?.code;
const sentTypes = (socket: RecordingSocket) => socket.sent.map((f) => (JSON.parse(f) as { type: string }).type);
const lastSent = (socket: RecordingSocket) => JSON.parse(socket.sent.at(-1) ?? 'null') as unknown;

t.test('replace: the older login answered first does not close the newer one still logging in', async (t) => {
  const store = new HeldLoginStore();
  const { connect } = await node(t, 'n1', 'replace', store);
  const older = connect('phone');
  const newer = connect('phone');
  t.equal(await store.release(older.session), 1, 'the older connection got epoch 1');
  t.equal(closeCode(newer.socket), undefined, 'the newer one, still logging in, is left alone');
  t.equal(closeCode(older.socket), undefined, 'and the older one is not closed yet either');
  t.equal(await store.release(newer.session), 2, 'the newer connection got epoch 2');
  t.equal(closeCode(older.socket), CloseCode.REPLACED, 'its login completing replaces the older device with 4001');
  t.same(sentTypes(older.socket), ['connected', 'kicked'], 'told why just before the close');
  t.same(lastSent(older.socket), { type: 'kicked', reason: 'replaced' });
  t.equal(closeCode(newer.socket), undefined, 'the newer device stays');
  t.equal(newer.session.state, 'open');
  t.same(sentTypes(newer.socket), ['connected']);
});

t.test('replace: the newer login answered first; the older one gives way when its own answer comes', async (t) => {
  const store = new HeldLoginStore();
  const { connect } = await node(t, 'n1', 'replace', store);
  const older = connect('phone');
  const newer = connect('phone');
  t.equal(await store.release(newer.session), 2);
  t.equal(closeCode(older.socket), undefined, 'still logging in: judged later, not now');
  t.equal(await store.release(older.session), 1);
  t.equal(closeCode(older.socket), CloseCode.REPLACED, 'epoch 1 < 2: the older device is told 4001');
  t.equal(closeCode(newer.socket), undefined, 'the newer device stays');
});

t.test('replace across nodes: a kick reaching a session still logging in', async (t) => {
  const hub = new MemoryBusHub();
  await t.test('its login turns out older: it gives way', async (t) => {
    const store = new HeldLoginStore();
    const a = await node(t, 'a', 'replace', store, hub);
    const b = await node(t, 'b', 'replace', store, hub);
    const onA = a.connect('roamer'); // processed first by the store: epoch 1
    const onB = b.connect('roamer'); // epoch 2; its previousNodes name node a
    t.equal(await store.release(onB.session), 2);
    await flush(); // the kick (beforeEpoch 2) reaches node a while its session has epoch 0
    t.equal(closeCode(onA.socket), undefined, 'not closed while logging in');
    t.equal(onA.session.replacedBelow, 2, 'but marked');
    t.equal(await store.release(onA.session), 1);
    t.equal(closeCode(onA.socket), CloseCode.REPLACED, 'epoch 1 < 2: closed with 4001 once logged in');
    t.same(lastSent(onA.socket), { type: 'kicked', reason: 'replaced' }, 'a kick from another node says why too');
    t.equal(closeCode(onB.socket), undefined);
  });
  await t.test('its login turns out newer: it stays and replaces the other', async (t) => {
    const store = new HeldLoginStore();
    const a = await node(t, 'a2', 'replace', store, hub);
    const b = await node(t, 'b2', 'replace', store, hub);
    const first = b.connect('roamer2'); // epoch 1 on node b2
    t.equal(await store.release(first.session), 1);
    const onA = a.connect('roamer2'); // epoch 2 on node a2, held
    // A late kick from an epoch-1 login (e.g. delayed on the bus) must not close the epoch-2 one.
    a.gateway.closeUser('roamer2', CloseCode.REPLACED, 'replaced', 1);
    t.equal(await store.release(onA.session), 2);
    await flush();
    t.equal(closeCode(onA.socket), undefined, 'the newer login stays');
    t.equal(closeCode(first.socket), CloseCode.REPLACED, 'and its kick replaced the older one on the other node');
  });
});

t.test('closeUser with a finite beforeEpoch closes only lower epochs', async (t) => {
  const store = new HeldLoginStore();
  const { gateway, connect } = await node(t, 'n1', 'multi', store);
  const one = connect('u');
  const two = connect('u');
  await store.release(one.session);
  await store.release(two.session);
  t.equal(gateway.closeUser('u', CloseCode.REPLACED, 'replaced', 2), 1, 'one closed');
  t.equal(closeCode(one.socket), CloseCode.REPLACED, 'epoch 1 < 2');
  t.equal(closeCode(two.socket), undefined, 'epoch 2 is not before 2');
  gateway.onClose(one.session, CloseCode.REPLACED); // its socket's close event
  const pending = connect('u');
  t.equal(gateway.closeUser('u', CloseCode.LOGGED_OUT, 'logout'), 2, 'a REST logout (no epoch bound) closes everything');
  t.equal(closeCode(pending.socket), CloseCode.LOGGED_OUT, 'including a session still logging in');
  t.same(lastSent(two.socket), { type: 'kicked', reason: 'logged_out' }, 'each is told why before its 4002');
  t.same(lastSent(pending.socket), { type: 'kicked', reason: 'logged_out' });
  t.equal(one.socket.sent.filter((f) => f.includes('"kicked"')).length, 1, 'once per session');
  await store.release(pending.session);
});

t.test('the kicked frame does not wait behind queued messages', async (t) => {
  const store = new HeldLoginStore();
  const { gateway, connect } = await node(t, 'n1', 'replace', store);
  const behind = connect('behind');
  await store.release(behind.session);
  // The client is behind: the socket holds a lot unsent, so new messages wait in the queue.
  behind.socket.bufferedAmount = 200_000;
  for (let i = 0; i < 10; i++) behind.session.send(`{"type":"broadcast","content":${i},"ts":1}`);
  t.equal(behind.session.queue.depth, 9, 'one handed to the socket (its write callback is due), nine queued behind it');
  const handed = behind.socket.sent.length;
  gateway.closeUser('behind', CloseCode.LOGGED_OUT, 'logout');
  t.same(
    behind.socket.sent.slice(handed).map((f) => JSON.parse(f) as unknown),
    [{ type: 'kicked', reason: 'logged_out' }],
    'handed to the socket at once; the queued messages are dropped (nothing could follow a close)',
  );
  t.equal(closeCode(behind.socket), CloseCode.LOGGED_OUT);
});

t.test('multi: over MAX_SESSIONS_PER_USER a session still logging in never counts as the oldest', async (t) => {
  const store = new HeldLoginStore();
  const { connect } = await node(t, 'n1', 'multi', store, new MemoryBusHub(), 2);
  const oldest = connect('tabs');
  t.equal(await store.release(oldest.session), 1);
  const middle = connect('tabs'); // epoch 2, held
  const newest = connect('tabs'); // epoch 3: previousNodes count 2 -> 3 sessions > cap 2
  t.equal(await store.release(newest.session), 3);
  t.equal(closeCode(middle.socket), undefined, 'the pending one (epoch 0 here) is not taken for the oldest');
  t.equal(closeCode(oldest.socket), CloseCode.REPLACED, 'the oldest logged-in session gives way');
  t.equal(await store.release(middle.session), 2);
  t.equal(closeCode(middle.socket), undefined, 'its login was within the cap when processed: it stays');
  t.equal(closeCode(newest.socket), undefined);
});

t.test('multi: when only pending sessions are older, the first gives way once its login shows it older', async (t) => {
  const store = new HeldLoginStore();
  const { connect } = await node(t, 'n1', 'multi', store, new MemoryBusHub(), 1);
  const first = connect('solo'); // epoch 1
  const second = connect('solo'); // epoch 2, over the cap of 1
  t.equal(await store.release(second.session), 2);
  t.equal(closeCode(first.socket), undefined, 'not closed while logging in');
  t.equal(await store.release(first.session), 1);
  t.equal(closeCode(first.socket), CloseCode.REPLACED, 'older than the session that found the cap exceeded: 4001');
  t.equal(closeCode(second.socket), undefined, 'the newer device stays');
});
