/**
 * The gateway of one node, framework-free: opens sessions (online-store login), ends them
 * (logout pipeline), routes what other nodes send over the bus, and runs the watchdog tick. The
 * Fastify route only adapts a `ws` socket to `open` / `onFrame` / `onClose`. Its collaborators
 * are built and wired to each other in gateway-parts.ts, and live next door: the frame path in
 * frame-dispatcher.ts, replace / multi in session-policy.ts, frames sent while logging in in
 * early-frames.ts, direct messages in direct-messages.ts, rooms in room-service.ts, the offline
 * replay and the gate of new sessions in offline-replay.ts (every frame but `connected` goes
 * through that gate).
 */
import { randomUUID } from 'node:crypto';
import type { BusEnvelope } from '../cluster/bus.ts';
import type { ReassertSession } from '../cluster/node-registry.ts';
import { CloseCode, closeReason } from '../protocol/close-codes.ts';
import type { ConnectionManager } from '../connection/connection-manager.ts';
import type { HeartbeatFlusher } from '../presence/heartbeat-flusher.ts';
import { encodeServerFrame } from '../protocol/frames.ts';
import type { Router } from '../delivery/router.ts';
import type { PendingReceipts, ReceiptBatcher } from '../delivery/delivery-receipts.ts';
import type { OfflineReplay } from '../delivery/offline-replay.ts';
import type { RoomService } from '../delivery/room-service.ts';
import type { DirectMessages, PushResult } from '../delivery/direct-messages.ts';

export type { PushResult };
import { Session, type EndReason, type SessionConfig, type SessionSocket } from '../connection/session.ts';
import type { Watchdog } from './watchdog.ts';
import type { LoginWriter } from '../presence/login-writer.ts';
import { LoginAdmission } from '../connection/login-admission.ts';
import { LoopLag } from './loop-lag.ts';
import { FrameIn, type GatewayCounters } from './gateway-counters.ts';
import type { RateLimitedWarner } from '../connection/rate-limited-warner.ts';
import type { SessionPolicy } from '../connection/session-policy.ts';
import type { FrameDispatcher } from './frame-dispatcher.ts';
import { liveSessionsByUser } from '../presence/live-sessions.ts';
import type { EarlyFrames } from '../connection/early-frames.ts';
import { composeGatewayParts, type GatewayParts, type TimeoutHandler } from './gateway-parts.ts';
import type { GatewayDeps, GatewaySettings } from './gateway-deps.ts';
import { within } from '../util/promise-timeout.ts';
import type { GroupMessages } from '../delivery/group-messages.ts';
import type { MessageWriter } from '../chat/message-writer.ts';
import type { PositionWriter } from '../chat/position-writer.ts';

/** What a closing session may still make the node read: one second of the inbound budget's default. */
export const CLOSING_READ_MAX_BYTES = 256 * 1024;

/** A frame as read: ws's Buffer (decoded only when the frame is handled), or its text. */
export interface InboundFrame {
  readonly length: number;
  toString(): string;
}

export type { GatewayDeps, GatewaySettings };

/** The longest a timed-out session's socket waits for its logout to be written before it is closed. */
const CLOSE_AFTER_LOGOUT_MS = 1000;

export interface Identity {
  userId: string;
  username: string;
}

/** Why a handshake is refused before the upgrade. */
export type AdmissionRefusal = 'draining' | 'full' | undefined;

/**
 * Logins in flight before handshakes are deferred (MAX_PENDING_LOGINS). A login costs 0.3-0.4 ms
 * of the node's CPU (bench/storm) and waits on Redis and the database besides. In a 5,000-client
 * storm on Redis + PostgreSQL, 128 kept connected players' pong p99 at 61 ms where 512 gave
 * 167 ms, at the price of logins/s (704 against 1,636 without deferrals: README).
 */
export const DEFAULT_MAX_PENDING_LOGINS = 128;

export class Gateway implements TimeoutHandler {
  readonly connections: ConnectionManager;
  readonly counters: GatewayCounters;
  readonly router: Router;
  /** Receipts this node's senders wait for, and those it owes other nodes (delivery-receipts.ts). */
  readonly receipts: PendingReceipts;
  readonly receiptBatcher: ReceiptBatcher;
  readonly watchdog: Watchdog;
  readonly heartbeats: HeartbeatFlusher;
  readonly rooms: RoomService;
  readonly replay: OfflineReplay;
  /** The database side of logins, batched. */
  readonly logins: LoginWriter;
  /** Logins in flight, and the handshakes refused for it (MAX_PENDING_LOGINS). */
  readonly admission: LoginAdmission;
  /** The event loop's lateness, one of admission's reasons to refuse (started and stopped with the node). */
  readonly loopLag: LoopLag;
  private readonly messages: DirectMessages;
  /** Group messages and history (absent without stored chat). */
  private readonly groups: GroupMessages | undefined;
  /** Stored messages waiting for their transaction (absent without stored chat). */
  readonly messageWriter: MessageWriter | undefined;
  private readonly positionWriter: PositionWriter | undefined;
  readonly startedAt: number;
  draining = false;
  /** New sessions refused while this node holds no valid lease (it was fenced, cluster-membership.ts). */
  suspended = false;
  private readonly early: EarlyFrames;
  private readonly pendingEnds = new Set<Promise<unknown>>();
  /** Sessions the watchdog timed out in the tick now running, ended together after it. */
  private readonly timedOut: Array<{ session: Session; at: number }> = [];
  private readonly warner: RateLimitedWarner;
  private readonly policy: SessionPolicy;
  private readonly frames: FrameDispatcher;
  private readonly sessionConfig: SessionConfig;

  /** `parts`: the collaborators, wired by gateway-parts.ts unless given. */
  constructor(
    private readonly deps: GatewayDeps,
    parts?: GatewayParts,
  ) {
    this.startedAt = deps.now();
    this.loopLag = new LoopLag(deps.settings.maxEventLoopLagMs ?? 0);
    this.admission = new LoginAdmission(deps.settings.maxPendingLogins ?? DEFAULT_MAX_PENDING_LOGINS, undefined, undefined, () => this.loopLag.overloaded());
    const p = parts ?? composeGatewayParts(deps, this);
    this.connections = p.connections;
    this.counters = p.counters;
    this.sessionConfig = p.sessionConfig;
    this.warner = p.warner;
    this.early = p.early;
    this.logins = p.logins;
    this.replay = p.replay;
    this.router = p.router;
    this.receipts = p.receipts;
    this.receiptBatcher = p.receiptBatcher;
    this.messages = p.messages;
    this.rooms = p.rooms;
    this.groups = p.groups;
    this.messageWriter = p.messageWriter;
    this.positionWriter = p.positionWriter;
    this.watchdog = p.watchdog;
    this.policy = p.policy;
    this.frames = p.frames;
    this.heartbeats = p.heartbeats;
  }

  get nodeId(): string {
    return this.deps.settings.nodeId;
  }

  /** Checked in preValidation, before any socket exists. */
  admit(): AdmissionRefusal {
    if (this.draining || this.suspended) return 'draining';
    if (this.connections.size >= this.deps.settings.maxConnections) return 'full';
    return undefined;
  }

  /** Subscribes to this node's bus channel; clears what a previous process left in the room directory. */
  async listen(): Promise<void> {
    const { bus } = this.deps;
    await bus.subscribe(this.nodeId, (envelope) => this.onBusMessage(envelope));
    // Redis came back (maybe empty): the room directory may have lost this node's share too.
    // Never removed: the bus outlives the gateway.
    bus.onResubscribed(() => this.rooms.markDirty());
    void this.rooms.sync();
  }

  /**
   * A socket was upgraded for `identity`. Registers the session and logs it in (async);
   * `loginDone` (the admission ticket's release) is called once the login is over either way.
   */
  open(socket: SessionSocket, identity: Identity, loginDone?: () => void): Session {
    const session = new Session({
      id: randomUUID(),
      userId: identity.userId,
      username: identity.username,
      socket,
      config: this.sessionConfig,
    });
    this.connections.add(session);
    this.counters.opened++;
    this.early.hold(session);
    // Live frames wait behind `connected` and the offline replay.
    this.replay.hold(session);
    const login = this.login(session);
    if (loginDone) void login.finally(loginDone);
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
    // A control frame, first anyway: everything else for the session is held at the replay gate.
    session.sendControl(
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
    // Its groups' rooms before the replay: the recovery reads what it missed once it is in them.
    this.groups?.sessionOpened(session);
    this.replay.start(session, result.offlineQueueEmpty === true);
    this.policy.enforce(session, result.previousNodes);

    this.logins.write({
      userId: session.userId,
      username: session.username,
      loginAt: session.connectedAt,
      ...(result.newLogicalSession ? { session: { id: result.logicalSessionId, nodeId: settings.nodeId, epoch: result.epoch } } : {}),
    });

    for (const frame of this.early.release(session)) this.frames.handle(session, frame.data, frame.binary, now());
  }

  /**
   * An inbound WebSocket message: the one proof that the client is alive. Never throws. `data`
   * is decoded only for a session that is opening or open: a closing session's frames are
   * dropped as they are. The node reads a closing session only to find its close frame; a client
   * that keeps sending instead (a flooder kicked with 4008: megabytes waiting in TCP buffers,
   * read the moment its pause ended, held every other player's pong ~50 ms) may make it read
   * CLOSING_READ_MAX_BYTES, then its connection is cut.
   */
  onFrame(session: Session, data: InboundFrame, binary: boolean): void {
    const now = this.deps.now();
    session.lastHeartbeat = now;
    this.counters.framesIn++;
    if (session.state === 'opening') {
      if (!this.early.keep(session, binary ? '' : data.toString(), binary)) this.counters.framesInByType[FrameIn.Dropped]!++;
      return;
    }
    if (session.state !== 'open') {
      this.counters.framesInByType[FrameIn.Dropped]!++;
      session.closingReadBytes += data.length;
      if (session.closingReadBytes > CLOSING_READ_MAX_BYTES) session.terminate(session.endReason ?? 'kicked');
      return;
    }
    try {
      this.frames.handle(session, binary ? '' : data.toString(), binary, now);
    } catch (error) {
      this.deps.log.error({ userId: session.userId, sessionId: session.id, err: (error as Error).message }, 'frame handler failed');
    }
  }

  /**
   * Group memberships changed (admin API, after the group store): the users' live sessions, on
   * this node and on the nodes the online store says they are on, enter or leave the group's
   * room. Best effort per user: a node that misses it puts the session right at its next login.
   */
  async groupMembershipChanged(groupId: string, userIds: readonly string[], member: boolean): Promise<void> {
    await Promise.allSettled(
      userIds.map((userId) => {
        this.groups?.membershipChanged(this.connections.sessionsOf(userId) ?? [], groupId, member);
        return this.router.notifyOwners(userId, { kind: 'group-member', userId, group: groupId, member });
      }),
    );
  }

  /** A server push to a user (admin API): live, or queued while the user is offline. */
  pushToUser(userId: string, content: unknown): Promise<{ id: string; status: PushResult; sessions: number; dropped: number }> {
    return this.messages.push(userId, content);
  }

  /**
   * The watchdog found `session` silent past the timeout: it leaves the node now and is logged
   * out stamped `at` (its last frame + the timeout), without waiting for the close handshake (up
   * to CLOSE_TIMEOUT_MS with a peer that is most likely gone); the socket's own close event later
   * finds it ended and does nothing. Never stamped later than this node's clock (a watchdog
   * driven with a time of its own, as tests do, must not queue a logout due in the future).
   * The store transitions of one tick's timeouts go out together right after it (`endTimedOut`).
   */
  heartbeatTimeout(session: Session, at: number): void {
    const stamp = Math.min(at, this.deps.now());
    session.endReason ??= 'timeout';
    if (!this.end(session, CloseCode.HEARTBEAT_TIMEOUT, stamp, false)) return;
    if (this.timedOut.length === 0) queueMicrotask(() => this.endTimedOut());
    this.timedOut.push({ session, at: stamp });
  }

  /**
   * Logs out the sessions timed out in the tick that just ran, in one batch (one Redis round
   * trip), then closes their sockets with 4000 once the logouts are written (at most
   * CLOSE_AFTER_LOGOUT_MS later). A burst of 1,000 silent clients took 290 ms of one tick when
   * each was closed and then ended on its own (one socket write per store call), and closing
   * 1,000 sockets and reading their close handshakes is another 150-300 ms of this node's event
   * loop, which the claim and the database write queued behind. The clients are silent: whether
   * their 4000 comes now or a moment later changes nothing for them.
   */
  private endTimedOut(): void {
    const batch = this.timedOut.splice(0);
    const ended = this.deps.logout.endConnections(batch.map(({ session, at }) => ({ connection: session, reason: session.endReason!, at })));
    this.trackEnd(ended);
    void within(
      ended.then(() => this.deps.logout.writesSettled()),
      CLOSE_AFTER_LOGOUT_MS,
    ).then(() => {
      for (const { session } of batch) session.closeSocket(CloseCode.HEARTBEAT_TIMEOUT, closeReason(CloseCode.HEARTBEAT_TIMEOUT));
    });
  }

  /** The socket closed (any side, any reason). Ends the session exactly once. */
  onClose(session: Session, code: number): void {
    this.end(session, code, this.deps.now());
  }

  /**
   * Ends the session, its logout (if it was the user's last connection) stamped `at`; once
   * (false when it had ended already). `logout` false: the caller hands the session's end to
   * the logout pipeline itself.
   */
  private end(session: Session, code: number, at: number, logout = true): boolean {
    if (!this.connections.remove(session)) return false;
    const reason: EndReason = session.endReason ?? (code === CloseCode.TOO_BIG ? 'error' : 'closed');
    session.endReason = reason;
    session.state = 'closed';
    session.queue.clear();
    this.discardEarly(session);
    this.replay.forget(session);
    this.frames.sessionClosed(session);
    this.rooms.sessionClosed(session);
    this.groups?.sessionClosed(session);
    this.warner.forget(session.id);
    this.counters.closed++;
    this.counters.closedByCode.set(code, (this.counters.closedByCode.get(code) ?? 0) + 1);
    this.deps.log.info({ userId: session.userId, sessionId: session.id, code, reason, durationMs: at - session.connectedAt }, 'session closed');
    // Not logged in yet: login() sees the closed state and ends it when the store answers.
    if (logout && session.logicalSessionId) this.trackEnd(this.deps.logout.endConnection(session, reason, at));
    return true;
  }

  /** Frames received during the login and never handled (the session ended first). */
  private discardEarly(session: Session): void {
    this.counters.framesInByType[FrameIn.Dropped]! += this.early.discard(session);
  }

  private trackEnd(promise: Promise<unknown>): void {
    this.pendingEnds.add(promise);
    void promise.finally(() => this.pendingEnds.delete(promise));
  }

  /** Closes this node's sessions of a user (REST logout, kick from another node); see SessionPolicy.closeUser. */
  closeUser(userId: string, code: CloseCode, reason: EndReason, beforeEpoch = Infinity): number {
    return this.policy.closeUser(userId, code, reason, beforeEpoch);
  }

  private onBusMessage(envelope: BusEnvelope): void {
    const { message } = envelope;
    switch (message.kind) {
      case 'deliver': {
        const { accepted, dropped } = this.router.deliverLocal(message.userId, message.frame);
        // The sender's ack waits for this (batched: one bus message per origin node per turn).
        if (message.ref !== undefined) this.receiptBatcher.add(envelope.origin, message.ref, accepted, dropped);
        return;
      }
      case 'receipts':
        this.receipts.settle(message.receipts);
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
      case 'group-member':
        this.groups?.membershipChanged(this.connections.sessionsOf(message.userId) ?? [], message.group, message.member);
        return;
      case 'stats-request':
      case 'stats-reply':
        this.deps.statsExchange?.onMessage(envelope);
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
    return liveSessionsByUser(this.connections);
  }

  /** Session ends (and their batched room changes) still talking to the online store and the bus. */
  async settled(): Promise<void> {
    while (this.pendingEnds.size > 0) await Promise.allSettled([...this.pendingEnds]);
    // The closed sessions' room changes are batched: their flush removes this node's share.
    await this.rooms.settled();
    // Group messages handed to the writer are stored (or failed) before the database closes.
    await this.messageWriter?.flushed();
    await this.positionWriter?.flushed();
  }
}
