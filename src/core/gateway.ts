/**
 * The gateway of one node, framework-free: opens sessions (online-store login, session policy),
 * handles inbound frames, ends sessions (logout pipeline), and runs the watchdog tick. The
 * Fastify route only adapts a `ws` socket to `open` / `onFrame` / `onClose`. Direct messages live
 * in direct-messages.ts, rooms in room-service.ts, the offline replay and the gate of new
 * sessions in offline-replay.ts; every frame but `connected` goes through that gate.
 */
import { randomUUID } from 'node:crypto';
import type { Bus, BusEnvelope } from '../bus/bus.ts';
import { LookupOwnerPublisher, type OwnerPublisher } from '../bus/owner-publisher.ts';
import type { PlayerRepository } from '../db/player-repository.ts';
import type { OnlineStore, ReassertSession } from '../online/online-store.ts';
import type { OfflineQueue } from '../online/offline-queue.ts';
import type { RoomDirectory } from '../online/room-directory.ts';
import { CloseCode, closeReason } from './close-codes.ts';
import { ConnectionManager } from './connection-manager.ts';
import { HeartbeatFlusher } from './heartbeat-flusher.ts';
import type { CoreLogger, LogoutPipeline } from './logout.ts';
import { canonicalPingTs, encodeError, encodePong, encodePongText, encodeServerFrame, parseFrameJson, pongTail, type ClientFrame } from './protocol.ts';
import { Router } from './router.ts';
import { OfflineReplay } from './offline-replay.ts';
import { RoomService } from './room-service.ts';
import { DirectMessages, type PushResult } from './direct-messages.ts';

export type { PushResult };
import { Session, type EndReason, type SessionHooks, type SessionLimits, type SessionSocket } from './session.ts';
import { Watchdog } from './watchdog.ts';
import { LoginWriter } from './login-writer.ts';
import { FrameIn, GatewayCounters } from './gateway-counters.ts';
import { RateLimitedWarner } from './rate-limited-warner.ts';

export interface GatewaySettings extends SessionLimits {
  nodeId: string;
  sessionPolicy: 'replace' | 'multi';
  maxConnections: number;
  maxSessionsPerUser: number;
  maxContentBytes: number;
  heartbeatIntervalMs: number;
  heartbeatTimeoutMs: number;
  writeTimeoutMs: number;
  wsPingIntervalMs: number;
  heartbeatFlushIntervalMs: number;
  /** MAX_ROOMS_PER_SESSION (default 64). */
  maxRoomsPerSession?: number;
}

export interface GatewayDeps {
  settings: GatewaySettings;
  store: OnlineStore;
  repository: PlayerRepository;
  bus: Bus;
  /** Publishes to a user's other nodes (default: a store lookup, then the bus). */
  owners?: OwnerPublisher | undefined;
  logout: LogoutPipeline;
  log: CoreLogger;
  now: () => number;
  /** Where messages to offline users wait (absent or max 0: USER_OFFLINE instead). */
  offlineQueue?: OfflineQueue | undefined;
  /** Cluster-wide room membership for the admin API (absent: not recorded). */
  roomDirectory?: RoomDirectory | undefined;
}

export interface Identity {
  userId: string;
  username: string;
}

/** Why a handshake is refused before the upgrade. */
export type AdmissionRefusal = 'draining' | 'full' | undefined;

/** Logins per database statement (a reconnect storm is written in a few round trips). */
const LOGIN_BATCH_MAX = 500;

/** Frames a client may send before its login is confirmed; more are dropped. */
const MAX_EARLY_FRAMES = 16;

export class Gateway {
  readonly connections = new ConnectionManager();
  readonly counters = new GatewayCounters();
  readonly router: Router;
  readonly watchdog: Watchdog;
  readonly heartbeats: HeartbeatFlusher;
  readonly rooms: RoomService;
  readonly replay: OfflineReplay;
  /** The database side of logins, batched. */
  readonly logins: LoginWriter;
  private readonly messages: DirectMessages;
  readonly startedAt: number;
  draining = false;
  /** Answers other nodes' stats requests (set by the /ws/stats route). */
  statsExchange: { onMessage(envelope: BusEnvelope): boolean } | undefined;
  private readonly early = new Map<Session, Array<{ data: string; binary: boolean }>>();
  private readonly pendingEnds = new Set<Promise<unknown>>();
  private readonly warner: RateLimitedWarner;
  /** The millisecond of the last pong, and the end of its text (see answerPing). */
  private pongTailMs = -1;
  private pongTail = '';
  /** One object for every session of the node (a closure per session would cost memory per connection). */
  private readonly sessionHooks: SessionHooks = {
    onDrop: (s, consecutive) => {
      this.counters.dropped++;
      this.warner.warn(s.id, { userId: s.userId, sessionId: s.id, consecutive }, 'send queue full: message dropped');
    },
    onSlowConsumer: (s) => s.close(CloseCode.SLOW_CONSUMER, closeReason(CloseCode.SLOW_CONSUMER), 'slow'),
  };

  constructor(private readonly deps: GatewayDeps) {
    const { settings, store, bus, log, now } = deps;
    this.startedAt = now();
    this.warner = new RateLimitedWarner(log, now, 10_000);
    this.logins = new LoginWriter({ repository: deps.repository, log, now, batchMax: LOGIN_BATCH_MAX });
    this.replay = new OfflineReplay({
      queue: deps.offlineQueue,
      log,
      now,
      sendQueueMax: settings.sendQueueMax,
      sendQueueMaxBytes: settings.sendQueueMaxBytes,
      onDrop: (s) => {
        this.counters.dropped++;
        this.warner.warn(s.id, { userId: s.userId, sessionId: s.id }, 'frames held behind the offline replay: message dropped');
      },
    });
    const send = (session: Session, frame: string) => this.replay.send(session, frame);
    this.router = new Router({
      nodeId: settings.nodeId,
      connections: this.connections,
      owners: deps.owners ?? new LookupOwnerPublisher(store, bus),
      multiSession: settings.sessionPolicy === 'multi',
      send,
    });
    this.messages = new DirectMessages({
      nodeId: settings.nodeId,
      multiSession: settings.sessionPolicy === 'multi',
      router: this.router,
      replay: this.replay,
      connections: this.connections,
      store,
      bus,
      queue: deps.offlineQueue,
      counters: this.counters,
      log,
      now,
    });
    this.rooms = new RoomService({
      nodeId: settings.nodeId,
      bus,
      directory: deps.roomDirectory,
      maxRoomsPerSession: settings.maxRoomsPerSession ?? 64,
      log,
      now,
      send,
    });
    const sessions = () => this.connections.sessions();
    this.watchdog = new Watchdog({
      sessions,
      heartbeatTimeoutMs: settings.heartbeatTimeoutMs,
      writeTimeoutMs: settings.writeTimeoutMs,
      wsPingIntervalMs: settings.wsPingIntervalMs,
      onTimeout: (s, silentFor) => log.info({ userId: s.userId, sessionId: s.id, silentForMs: silentFor }, 'heartbeat timeout'),
      onWriteTimeout: (s) => log.warn({ userId: s.userId, sessionId: s.id }, 'write timeout: socket terminated'),
    });
    this.heartbeats = new HeartbeatFlusher({ store, nodeId: settings.nodeId, sessions, intervalMs: settings.heartbeatFlushIntervalMs, log });
  }

  get nodeId(): string {
    return this.deps.settings.nodeId;
  }

  /** Checked in preValidation, before any socket exists. */
  admit(): AdmissionRefusal {
    if (this.draining) return 'draining';
    if (this.connections.size >= this.deps.settings.maxConnections) return 'full';
    return undefined;
  }

  /** Subscribes to this node's bus channel; clears what a previous process left in the room directory. */
  async listen(): Promise<void> {
    const { bus } = this.deps;
    await bus.subscribe(this.nodeId, (envelope) => this.onBusMessage(envelope));
    // Redis came back (maybe empty): the room directory may have lost this node's share too.
    const previous = bus.onResubscribed;
    bus.onResubscribed = () => {
      this.rooms.markDirty();
      previous?.();
    };
    void this.rooms.sync();
  }

  /** A socket was upgraded for `identity`. Registers the session and logs it in (async). */
  open(socket: SessionSocket, identity: Identity): Session {
    const { settings, now } = this.deps;
    const session = new Session({
      id: randomUUID(),
      userId: identity.userId,
      username: identity.username,
      socket,
      limits: settings,
      now,
      hooks: this.sessionHooks,
      framesOut: this.counters.framesOutByType,
    });
    this.connections.add(session);
    this.counters.opened++;
    this.early.set(session, []);
    // Live frames wait behind `connected` and the offline replay.
    this.replay.hold(session);
    void this.login(session);
    return session;
  }

  private async login(session: Session): Promise<void> {
    const { store, settings, log, now } = this.deps;
    let result;
    try {
      result = await store.login({
        userId: session.userId,
        username: session.username,
        nodeId: settings.nodeId,
        candidateLogicalSessionId: randomUUID(),
        connectionId: session.id,
        now: session.connectedAt,
      });
    } catch (error) {
      log.error({ userId: session.userId, sessionId: session.id, err: (error as Error).message }, 'online store login failed');
      this.discardEarly(session);
      // 1001 tells the client to reconnect with backoff, like any node trouble.
      session.close(CloseCode.GOING_AWAY, closeReason(CloseCode.GOING_AWAY), 'error');
      return;
    }
    session.epoch = result.epoch;
    session.logicalSessionId = result.logicalSessionId;
    if (session.state !== 'opening') {
      // The socket closed while the login was in flight: end what the login counted.
      this.trackEnd(this.deps.logout.endConnection(session, session.endReason ?? 'closed'));
      return;
    }
    session.state = 'open';
    session.send(
      encodeServerFrame({
        type: 'connected',
        sessionId: session.id,
        userId: session.userId,
        nodeId: settings.nodeId,
        heartbeat: { intervalMs: settings.heartbeatIntervalMs, timeoutMs: settings.heartbeatTimeoutMs },
        serverTime: now(),
      }),
    );
    log.info({ userId: session.userId, sessionId: session.id, epoch: result.epoch, sessions: result.sessions }, 'session opened');
    if (!result.newLogicalSession && result.sessions === 1) {
      // The logical session went on with no other live connection: it was `reconnecting`, and
      // this login cancelled its pending logout.
      log.info({ userId: session.userId, sessionId: session.id, logicalSessionId: result.logicalSessionId }, 'reconnected within grace');
    }
    this.replay.start(session);
    this.enforcePolicy(session, result.previousNodes);

    this.logins.write({
      userId: session.userId,
      username: session.username,
      loginAt: session.connectedAt,
      ...(result.newLogicalSession ? { session: { id: result.logicalSessionId, nodeId: settings.nodeId, epoch: result.epoch } } : {}),
    });

    const early = this.early.get(session) ?? [];
    this.early.delete(session);
    for (const frame of early) this.handleFrame(session, frame.data, frame.binary, now());
  }

  /**
   * Replace: older sessions of the user close with 4001 (here and on other nodes). Multi: over
   * the cap, the oldest gives way. "Older" is judged by epoch only: the store hands out epochs
   * in login order, but its answers may reach this node in any order, so a local session still
   * logging in (epoch 0) may turn out to be the newer one. Such a session is not closed here; it
   * is marked (`replacedBelow`) and judged when its own login completes.
   */
  private enforcePolicy(session: Session, previousNodes: Record<string, number>): void {
    const { settings, bus, log } = this.deps;
    if (session.epoch < session.replacedBelow) {
      // A newer login of the user completed first and replaced this one while it was pending.
      session.close(CloseCode.REPLACED, closeReason(CloseCode.REPLACED), 'replaced');
      return;
    }
    const local = this.connections.sessionsOf(session.userId);
    if (settings.sessionPolicy === 'replace') {
      for (const other of local ?? []) {
        if (other === session) continue;
        if (other.epoch === 0) other.replacedBelow = Math.max(other.replacedBelow, session.epoch);
        else if (other.epoch < session.epoch) other.close(CloseCode.REPLACED, closeReason(CloseCode.REPLACED), 'replaced');
      }
      for (const [nodeId, count] of Object.entries(previousNodes)) {
        if (nodeId === settings.nodeId || count <= 0) continue;
        bus
          .publish(nodeId, { kind: 'kick', userId: session.userId, beforeEpoch: session.epoch, code: CloseCode.REPLACED, reason: 'replaced' })
          .catch((error: unknown) => log.warn({ userId: session.userId, nodeId, err: (error as Error).message }, 'replace notice not sent'));
      }
      return;
    }
    const total = Object.values(previousNodes).reduce((a, b) => a + b, 0) + 1;
    if (total <= settings.maxSessionsPerUser) return;
    // Over the cap: the oldest local session gives way (a new device wins, like replace).
    let oldest: Session | undefined;
    let pending: Session | undefined;
    for (const other of local ?? []) {
      if (other === session || other.state === 'closing' || other.state === 'closed') continue;
      if (other.epoch === 0) pending ??= other;
      else if (other.epoch < session.epoch && (!oldest || other.epoch < oldest.epoch)) oldest = other;
    }
    if (oldest) oldest.close(CloseCode.REPLACED, closeReason(CloseCode.REPLACED), 'replaced');
    // Only sessions still logging in are left here: the first one gives way if it turns out older.
    else if (pending) pending.replacedBelow = Math.max(pending.replacedBelow, session.epoch);
  }

  /** An inbound WebSocket message. Never throws. */
  onFrame(session: Session, data: string, binary: boolean): void {
    const now = this.deps.now();
    session.lastHeartbeat = now;
    session.framesIn++;
    this.counters.framesIn++;
    if (session.state === 'opening') {
      const early = this.early.get(session);
      if (early && early.length < MAX_EARLY_FRAMES) early.push({ data, binary });
      else this.counters.framesInByType[FrameIn.Dropped]!++;
      return;
    }
    if (session.state !== 'open') {
      this.counters.framesInByType[FrameIn.Dropped]!++;
      return;
    }
    try {
      this.handleFrame(session, data, binary, now);
    } catch (error) {
      this.deps.log.error({ userId: session.userId, sessionId: session.id, err: (error as Error).message }, 'frame handler failed');
    }
  }

  /** A WebSocket-level pong (answer to the server's ping) also proves liveness. */
  onPong(session: Session): void {
    session.lastHeartbeat = this.deps.now();
  }

  private handleFrame(session: Session, data: string, binary: boolean, now: number): void {
    const verdict = session.limiter.hit(now);
    if (verdict !== 'ok') {
      this.counters.rateLimited++;
      this.counters.framesInByType[FrameIn.RateLimited]!++;
      if (verdict === 'close') {
        session.close(CloseCode.RATE_LIMITED, closeReason(CloseCode.RATE_LIMITED), 'kicked');
        return;
      }
      this.warner.warn(session.id, { userId: session.userId, sessionId: session.id }, 'rate limited');
      this.reply(session, encodeError('RATE_LIMITED', 'too many frames per second'));
      return;
    }
    if (binary) {
      this.counters.framesInByType[FrameIn.Invalid]!++;
      this.reply(session, encodeError('BINARY_NOT_SUPPORTED', 'send JSON text frames'));
      return;
    }
    // The ping of every client every second: answered from its text, without a parse.
    const pingTs = canonicalPingTs(data);
    if (pingTs !== null) {
      this.answerPing(session, pingTs, now);
      return;
    }
    const parsed = parseFrameJson(data, { maxContentBytes: this.deps.settings.maxContentBytes });
    if (!parsed.ok) {
      this.counters.badFrames++;
      this.counters.framesInByType[FrameIn.Invalid]!++;
      this.reply(session, encodeError(parsed.code, parsed.error, parsed.ref));
      return;
    }
    this.dispatch(session, parsed.frame, now);
  }

  /** The pong of a canonical ping, with the `ts` text echoed as sent. */
  private answerPing(session: Session, tsText: string, now: number): void {
    this.counters.pings++;
    this.counters.framesInByType[FrameIn.Ping]!++;
    // Thousands of pongs share each millisecond: print the clock once per millisecond.
    if (now !== this.pongTailMs) {
      this.pongTailMs = now;
      this.pongTail = pongTail(now);
    }
    this.reply(session, encodePongText(tsText, this.pongTail));
  }

  private dispatch(session: Session, frame: ClientFrame, now: number): void {
    const byType = this.counters.framesInByType;
    switch (frame.type) {
      case 'ping':
        this.counters.pings++;
        byType[FrameIn.Ping]!++;
        this.reply(session, encodePong(frame.ts, now));
        return;
      case 'message':
        byType[FrameIn.Message]!++;
        void this.messages.fromSession(session, frame, now);
        return;
      case 'join':
        byType[FrameIn.Join]!++;
        this.rooms.join(session, frame.room);
        return;
      case 'leave':
        byType[FrameIn.Leave]!++;
        this.rooms.leave(session, frame.room);
        return;
      case 'room':
        byType[FrameIn.Room]!++;
        void this.rooms.publish(session, frame);
        return;
      case 'ack':
        byType[FrameIn.Ack]!++;
        this.replay.ack(session, frame.id);
        return;
    }
  }

  /**
   * Answers to the session's own frames (pongs, acks, errors) also wait behind the offline replay:
   * after `connected`, the replay comes first and everything else follows in order.
   */
  private reply(session: Session, frame: string): boolean {
    return this.replay.send(session, frame);
  }

  /** A server push to a user (admin API): live, or queued while the user is offline. */
  pushToUser(userId: string, content: unknown): Promise<{ id: string; status: PushResult }> {
    return this.messages.push(userId, content);
  }

  /** The socket closed (any side, any reason). Ends the session exactly once. */
  onClose(session: Session, code: number): void {
    if (!this.connections.remove(session)) return;
    const reason: EndReason = session.endReason ?? (code === CloseCode.TOO_BIG ? 'error' : 'closed');
    session.endReason = reason;
    session.state = 'closed';
    session.queue.clear();
    this.discardEarly(session);
    this.replay.forget(session);
    this.rooms.sessionClosed(session);
    this.warner.forget(session.id);
    this.counters.closed++;
    this.counters.closedByCode.set(code, (this.counters.closedByCode.get(code) ?? 0) + 1);
    const { log, now } = this.deps;
    log.info(
      { userId: session.userId, sessionId: session.id, code, reason, durationMs: now() - session.connectedAt },
      'session closed',
    );
    // Not logged in yet: login() sees the closed state and ends it when the store answers.
    if (session.logicalSessionId) this.trackEnd(this.deps.logout.endConnection(session, reason));
  }

  /** Frames received during the login and never handled (the session ended first). */
  private discardEarly(session: Session): void {
    const early = this.early.get(session);
    if (!early) return;
    this.counters.framesInByType[FrameIn.Dropped]! += early.length;
    this.early.delete(session);
  }

  private trackEnd(promise: Promise<unknown>): void {
    this.pendingEnds.add(promise);
    void promise.finally(() => this.pendingEnds.delete(promise));
  }

  /**
   * Closes this node's sessions of a user (REST logout, kick from another node). With a finite
   * `beforeEpoch` (a newer login elsewhere replaces these), only sessions of a lower epoch close;
   * one still logging in (epoch 0) may get a higher epoch than the newcomer, so it is marked and
   * judged when its login completes (see enforcePolicy).
   */
  closeUser(userId: string, code: CloseCode, reason: EndReason, beforeEpoch = Infinity): number {
    let closed = 0;
    for (const session of this.connections.sessionsOf(userId) ?? []) {
      if (session.epoch === 0 && beforeEpoch !== Infinity) {
        session.replacedBelow = Math.max(session.replacedBelow, beforeEpoch);
        continue;
      }
      if (session.epoch >= beforeEpoch) continue;
      session.close(code, closeReason(code), reason);
      closed++;
    }
    return closed;
  }

  private onBusMessage(envelope: BusEnvelope): void {
    const { message } = envelope;
    switch (message.kind) {
      case 'deliver':
        this.router.deliverLocal(message.userId, message.frame);
        return;
      case 'kick':
        this.closeUser(message.userId, message.code, 'replaced', message.beforeEpoch);
        return;
      case 'logout':
        this.closeUser(message.userId, message.code, 'logout');
        return;
      case 'broadcast':
        this.broadcastLocal(message.frame);
        return;
      case 'room':
        this.rooms.deliver(message.room, message.frame);
        return;
      case 'offline':
        this.replay.resume(this.connections.sessionsOf(message.userId) ?? []);
        return;
      case 'stats-request':
      case 'stats-reply':
        this.statsExchange?.onMessage(envelope);
        return;
    }
  }

  /** The watchdog tick: timeouts, write timeouts, WS pings, coalesced heartbeat flush. */
  tick(now = this.deps.now()): void {
    this.watchdog.tick(now);
    this.heartbeats.maybeFlush(now);
    this.rooms.tick(now);
  }

  /** Queues a frame on every live session of this node (never awaits a socket). */
  broadcastLocal(frame: string): number {
    let accepted = 0;
    for (const session of this.connections.sessions()) {
      if ((session.state === 'open' || session.state === 'opening') && this.replay.send(session, frame)) accepted++;
    }
    return accepted;
  }

  /** Pushes a server broadcast to every session of the cluster, each exactly once. */
  async broadcast(content: unknown): Promise<{ localSessions: number }> {
    const frame = encodeServerFrame({ type: 'broadcast', content, ts: this.deps.now() });
    // Other nodes first: if the bus is down the caller gets an error and nobody got a partial push.
    await this.deps.bus.broadcast({ kind: 'broadcast', frame });
    return { localSessions: this.broadcastLocal(frame) };
  }

  /** This node's live sessions, one entry per user, as the store needs them to re-assert. */
  liveSessionsByUser(): ReassertSession[] {
    const entries: ReassertSession[] = [];
    for (const userId of this.connections.users()) {
      const open = [...(this.connections.sessionsOf(userId) ?? [])].filter((s) => s.isOpen && s.logicalSessionId);
      const newest = open.reduce<Session | undefined>((a, s) => (!a || s.epoch > a.epoch ? s : a), undefined);
      if (!newest) continue;
      // Connections of an older logical session (not yet closed) are not re-asserted.
      const current = open.filter((s) => s.logicalSessionId === newest.logicalSessionId);
      entries.push({
        userId,
        username: newest.username,
        logicalSessionId: newest.logicalSessionId,
        epoch: newest.epoch,
        connectedAt: Math.min(...current.map((s) => s.connectedAt)),
        connections: current.length,
        connectionIds: current.map((s) => s.id),
      });
    }
    return entries;
  }

  /** Session ends still talking to the online store. */
  async settled(): Promise<void> {
    while (this.pendingEnds.size > 0) await Promise.allSettled([...this.pendingEnds]);
  }

  /** Shutdown: refuse new upgrades, close every session with 1001 (reason shutdown). */
  closeAll(code: CloseCode, reason: EndReason): void {
    this.draining = true;
    for (const session of this.connections.sessions()) session.close(code, closeReason(code), reason);
  }
}
