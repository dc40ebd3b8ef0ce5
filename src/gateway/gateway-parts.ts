/**
 * Who gets what inside one node's gateway: the collaborators `Gateway` coordinates, built and
 * wired to each other in one place, so that gateway.ts reads as the life of a session (open,
 * frames, close, bus messages) rather than as a wiring diagram. Nothing here runs anything: it
 * only constructs. `Gateway` calls `composeGatewayParts(deps, this)` unless it is given its parts.
 */
import { LookupOwnerPublisher } from '../cluster/owner-publisher.ts';
import { CloseCode, closeReason } from '../protocol/close-codes.ts';
import { ConnectionManager } from '../connection/connection-manager.ts';
import { HeartbeatFlusher } from '../presence/heartbeat-flusher.ts';
import { Router } from '../delivery/router.ts';
import { PendingReceipts, ReceiptBatcher } from '../delivery/delivery-receipts.ts';
import { OfflineReplay } from '../delivery/offline-replay.ts';
import { RoomService } from '../delivery/room-service.ts';
import { DirectMessages } from '../delivery/direct-messages.ts';
import { KnownUsers } from '../delivery/known-users.ts';
import { sessionConfig, type Session, type SessionConfig, type SessionHooks } from '../connection/session.ts';
import { Watchdog } from './watchdog.ts';
import { LoginWriter } from '../presence/login-writer.ts';
import { GatewayCounters } from './gateway-counters.ts';
import { RateLimitedWarner } from '../connection/rate-limited-warner.ts';
import { SessionPolicy } from '../connection/session-policy.ts';
import { FrameDispatcher } from './frame-dispatcher.ts';
import { EarlyFrames } from '../connection/early-frames.ts';
import type { GatewayDeps } from './gateway-deps.ts';
import { GroupMessages } from '../delivery/group-messages.ts';
import { MessageWriter } from '../chat/message-writer.ts';
import { PositionWriter } from '../chat/position-writer.ts';
import { StoredRecovery } from '../delivery/stored-recovery.ts';
import { ReceivedPositions } from '../delivery/received-positions.ts';

/** Logins per database statement (a reconnect storm is written in a few round trips). */
const LOGIN_BATCH_MAX = 500;
/**
 * How long a login's database write waits for others (login-writer.ts). Nothing waits on it: the
 * `connected` frame went out before; a logout writes the rows it needs itself.
 */
const LOGIN_LINGER_MS = 25;
/**
 * Stored messages per transaction, and how many may wait (beyond it a `group` frame is refused
 * NOT_AVAILABLE: the database is not keeping up, and memory must not grow without bound).
 */
const MESSAGE_BATCH_MAX = 500;
const MESSAGES_PENDING_MAX = 10_000;
/**
 * Direct messages numbered on Redis (delivered already: only their senders' acks wait) go to the
 * database at most once per this many ms, all that waits in one transaction. Measured at 1,000
 * messages/s (bench chat, 2026-12-04): a transaction as soon as the previous one is done gave
 * ~1.5 messages per transaction and 430-500 µs of node CPU per message; waiting for others
 * after a quiet spell, 10 ms: ~4 and 320-350 µs, 50 ms: ~10 and 277-285 µs (Prisma and the
 * driver cost per statement).
 */
const NUMBERED_MESSAGES_LINGER_MS = 50;
/** `received` positions gather this long before one write (a client may send one per message). */
const POSITIONS_LINGER_MS = 250;
const POSITIONS_BATCH_MAX = 1000;

export interface GatewayParts {
  connections: ConnectionManager;
  counters: GatewayCounters;
  /** What every session of the node shares (one object, not one per connection). */
  sessionConfig: SessionConfig;
  /** Rate-limited warnings per session (drops, held frames, bad frames). */
  warner: RateLimitedWarner;
  /** Frames a session sends while its login is in flight. */
  early: EarlyFrames;
  /** The database side of logins, batched. */
  logins: LoginWriter;
  replay: OfflineReplay;
  router: Router;
  /** Receipts this node waits for (its senders' acks) and those it owes other nodes. */
  receipts: PendingReceipts;
  receiptBatcher: ReceiptBatcher;
  messages: DirectMessages;
  rooms: RoomService;
  /** Group messages and history (absent without stored chat). */
  groups: GroupMessages | undefined;
  /** Writes stored messages in batches (absent without stored chat). */
  messageWriter: MessageWriter | undefined;
  /** Writes `received` positions in batches (absent without stored chat). */
  positionWriter: PositionWriter | undefined;
  watchdog: Watchdog;
  policy: SessionPolicy;
  frames: FrameDispatcher;
  heartbeats: HeartbeatFlusher;
}

/** What the gateway does with a session the watchdog found silent past the timeout. */
export interface TimeoutHandler {
  /** Ends `session` now, its logout stamped `at` (last frame + timeout), and closes it with 4000 (Gateway.heartbeatTimeout). */
  heartbeatTimeout(session: Session, at: number, silentForMs: number): void;
}

/** `timeouts`: the gateway being built (its handler runs only from a tick, once it exists). */
export function composeGatewayParts(deps: GatewayDeps, timeouts: TimeoutHandler): GatewayParts {
  const { settings, store, bus, log, now, chat } = deps;
  const connections = new ConnectionManager();
  const counters = new GatewayCounters();
  const warner = new RateLimitedWarner(log, now, 10_000);
  // One object for every session of the node (a closure per session would cost memory per connection).
  const hooks: SessionHooks = {
    onDrop: (s, consecutive) => {
      counters.dropped++;
      warner.warn(s.id, { userId: s.userId, sessionId: s.id, consecutive }, 'send queue full: message dropped');
    },
    onSlowConsumer: (s) => s.close(CloseCode.SLOW_CONSUMER, closeReason(CloseCode.SLOW_CONSUMER), 'slow'),
  };
  const recovery = chat && new StoredRecovery(chat.positions, settings.recoveryMaxMessages ?? 1000);
  // Built below (it needs the rooms, which need the replay's gate); read only once sessions log in.
  let groups: GroupMessages | undefined;
  const replay = new OfflineReplay({
    queue: deps.offlineQueue,
    // Its groups' rooms first, then what it missed: a group message stored before the read is
    // recovered, one stored after it is fanned out to a session already in the room.
    recovery: recovery && {
      read: async (session: Session) => {
        await groups?.entered(session);
        return recovery.read(session.userId);
      },
    },
    log,
    now,
    sendQueueMax: settings.sendQueueMax,
    sendQueueMaxBytes: settings.sendQueueMaxBytes,
    onDrop: (s) => {
      counters.dropped++;
      warner.warn(s.id, { userId: s.userId, sessionId: s.id }, 'frames held behind the offline replay: message dropped');
    },
  });
  // Every frame to a session goes through the replay's gate (held until its replay is done);
  // bulk and control frames in their own lanes of the send queue (connection/send-queue.ts).
  const send = (session: Session, frame: string) => replay.send(session, frame);
  const sendControl = (session: Session, frame: string) => replay.sendControl(session, frame);
  const receipts = new PendingReceipts({ timeoutMs: settings.deliveryReceiptTimeoutMs ?? 2000 });
  const router = new Router({
    nodeId: settings.nodeId,
    connections,
    owners: deps.owners ?? new LookupOwnerPublisher(store, bus),
    multiSession: settings.sessionPolicy === 'multi',
    send,
    receipts,
  });
  const messageWriter =
    chat &&
    new MessageWriter({
      store: chat.messages,
      maxBatch: MESSAGE_BATCH_MAX,
      maxPending: MESSAGES_PENDING_MAX,
      numberedLingerMs: NUMBERED_MESSAGES_LINGER_MS,
    });
  const positionWriter =
    chat &&
    new PositionWriter({
      positions: chat.positions,
      lingerMs: POSITIONS_LINGER_MS,
      maxBatch: POSITIONS_BATCH_MAX,
      onError: (error) => warner.warn('positions', { err: error.message }, 'received positions not written (recovery may send them again)'),
    });
  const messages = new DirectMessages({
    nodeId: settings.nodeId,
    multiSession: settings.sessionPolicy === 'multi',
    router,
    replay,
    connections,
    store,
    bus,
    queue: deps.offlineQueue,
    // Only users who ever logged in get an offline queue (a flood to invented ids stores nothing).
    knownUsers: new KnownUsers({ presence: store, players: deps.repository, now }),
    writer: settings.messagePersistence ? messageWriter : undefined,
    sequencer: chat?.sequencer,
    counters,
    log,
    now,
  });
  const rooms = new RoomService({
    nodeId: settings.nodeId,
    bus,
    directory: deps.roomDirectory,
    maxRoomsPerSession: settings.maxRoomsPerSession ?? 64,
    maxRoomChangesPerSec: settings.maxRoomChangesPerSec ?? 10,
    flushMs: settings.roomFlushMs ?? 50,
    log,
    now,
    send,
    sendControl,
  });
  groups =
    chat &&
    messageWriter &&
    new GroupMessages({
      groups: chat.groups,
      messages: chat.messages,
      writer: messageWriter,
      rooms,
      historyPageMax: settings.historyPageMax ?? 100,
      send,
      sendControl,
      warner,
      log,
      now,
    });
  const sessions = () => connections.sessions();
  return {
    connections,
    counters,
    sessionConfig: sessionConfig({ limits: settings, now, hooks, framesOut: counters.framesOutByType }),
    warner,
    early: new EarlyFrames(),
    logins: new LoginWriter({ repository: deps.repository, log, now, batchMax: LOGIN_BATCH_MAX, lingerMs: LOGIN_LINGER_MS }),
    replay,
    router,
    receipts,
    receiptBatcher: new ReceiptBatcher(bus),
    messages,
    rooms,
    groups,
    messageWriter,
    positionWriter,
    watchdog: new Watchdog({
      sessions,
      heartbeatTimeoutMs: settings.heartbeatTimeoutMs,
      writeTimeoutMs: settings.writeTimeoutMs,
      wsPingIntervalMs: settings.wsPingIntervalMs,
      ...(settings.watchdogIntervalMs === undefined ? {} : { intervalMs: settings.watchdogIntervalMs }),
      onTimeout: (s, at, silentFor) => {
        log.info({ userId: s.userId, sessionId: s.id, silentForMs: silentFor }, 'heartbeat timeout');
        timeouts.heartbeatTimeout(s, at, silentFor);
      },
      onWriteTimeout: (s) => log.warn({ userId: s.userId, sessionId: s.id }, 'write timeout: socket terminated'),
      onStall: (lateMs, stalledMs) => log.warn({ lateMs, stalledMs }, 'node stalled: watchdog tick late, silence credited to sessions'),
    }),
    policy: new SessionPolicy({
      nodeId: settings.nodeId,
      policy: settings.sessionPolicy,
      maxSessionsPerUser: settings.maxSessionsPerUser,
      connections,
      bus,
      log,
    }),
    frames: new FrameDispatcher({
      maxContentBytes: settings.maxContentBytes,
      counters,
      warner,
      replay,
      messages,
      rooms,
      groups,
      received: positionWriter && new ReceivedPositions(positionWriter, rooms),
    }),
    heartbeats: new HeartbeatFlusher({ store, nodeId: settings.nodeId, sessions, intervalMs: settings.heartbeatFlushIntervalMs, log }),
  };
}
