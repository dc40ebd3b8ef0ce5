/**
 * One WebSocket connection of one user on this node: its identity, its place in the user's
 * logical session (epoch, logical session id), liveness and counters. Pure: the socket is a
 * minimal interface, the clock is passed in.
 *
 * Glossary: "session" means three things in this code base.
 * - A connection: one WebSocket of one user on one node, from the upgrade to the close. Class
 *   `Session` (connection/session.ts), id `session.id`, logged as `sessionId`, held by the node's
 *   `ConnectionManager`.
 * - A logical session: a user's presence, from their first connection to the end of their last
 *   one (after the grace period of LOGOUT_GRACE_MS when it may be a blip), across reconnects and
 *   nodes. Id `logicalSessionId`, kept by the online store; its end is the logout
 *   (presence/logout-pipeline.ts).
 * - The PlayerSession row: the database record of one logical session (same id), opened by the
 *   login writer and closed by the logout writer with disconnected_at and the reason.
 */
import { SendQueue, type OutboundSocket, type SendQueueListener, type SendQueueOptions } from './send-queue.ts';
import { RateLimiter, type RateLimiterOptions } from './rate-limiter.ts';
import { frameOutType, type FrameCounts } from '../gateway/gateway-counters.ts';
import { KickedReason } from '../protocol/close-codes.ts';
import { encodeServerFrame } from '../protocol/frames.ts';

/** The `kicked` frame of each close code that has one, encoded once per process. */
const KICKED_FRAMES: ReadonlyMap<number, string> = new Map(
  Object.entries(KickedReason).map(([code, reason]) => [Number(code), encodeServerFrame({ type: 'kicked', reason: reason as string })]),
);

/** Why a connection ended; the reason of the logout when it was the user's last connection. */
export type EndReason =
  | 'closed' // the client closed or vanished
  | 'timeout' // heartbeat watchdog, close 4000
  | 'kicked' // server-side close: rate limit, admin kick
  | 'logout' // REST /api/online/logout, close 4002
  | 'slow' // slow consumer, close 4003, or write timeout
  | 'error' // socket error, oversize frame
  | 'shutdown' // this node is shutting down, close 1001
  | 'replaced' // the same user connected again (SESSION_POLICY=replace), close 4001
  | 'node_lost'; // the node holding the session died (reaper)

/** The socket operations a session needs beyond sending. */
export interface SessionSocket extends OutboundSocket {
  close(code: number, reason: string): void;
  terminate(): void;
  ping(): void;
  /** Stops reading the socket (inbound budget spent); `resume` reads again. */
  pause(): void;
  resume(): void;
}

export interface SessionLimits {
  sendQueueMax: number;
  sendQueueMaxBytes: number;
  slowConsumerDrops: number;
  maxMessagesPerSec: number;
  /** MAX_INBOUND_BYTES_PER_SEC (default unlimited). */
  maxInboundBytesPerSec?: number;
  rateLimitStrikes: number;
}

/**
 * What all the sessions of a node share, built once per node by `sessionConfig`: a session keeps
 * a pointer to it, where copies of its parts would cost every connection its own objects.
 */
export interface SessionConfig {
  readonly now: () => number;
  readonly queue: SendQueueOptions;
  readonly rate: RateLimiterOptions;
  /** What the node does about a session's drops. */
  readonly hooks: SessionHooks | undefined;
  /** The node's frames-out counters (by `FrameOut`): every frame the send queue accepts counts. */
  readonly framesOut: FrameCounts | undefined;
}

export function sessionConfig(input: { limits: SessionLimits; now: () => number; hooks?: SessionHooks; framesOut?: FrameCounts }): SessionConfig {
  const { limits, now } = input;
  return {
    now,
    queue: {
      maxMessages: limits.sendQueueMax,
      maxBytes: limits.sendQueueMaxBytes,
      slowConsumerDrops: limits.slowConsumerDrops,
      now,
    },
    rate: {
      maxPerSecond: limits.maxMessagesPerSec,
      ...(limits.maxInboundBytesPerSec === undefined ? {} : { maxBytesPerSecond: limits.maxInboundBytesPerSec }),
      strikesToClose: limits.rateLimitStrikes,
      now,
    },
    hooks: input.hooks,
    framesOut: input.framesOut,
  };
}

export interface SessionOptions {
  id: string;
  userId: string;
  username: string;
  socket: SessionSocket;
  config: SessionConfig;
}

/** The node's reactions to a session's send queue (created once per node, not per session). */
export interface SessionHooks {
  /** On each dropped message (logs and metrics). */
  onDrop(session: Session, consecutive: number): void;
  /** Once, when SLOW_CONSUMER_DROPS consecutive drops happened. */
  onSlowConsumer(session: Session): void;
}

export type SessionState = 'opening' | 'open' | 'closing' | 'closed';

export class Session implements SendQueueListener {
  readonly id: string;
  readonly userId: string;
  readonly username: string;
  readonly socket: SessionSocket;
  readonly queue: SendQueue;
  readonly limiter: RateLimiter;
  readonly connectedAt: number;
  state: SessionState = 'opening';
  /** Bytes of frames read since the session began closing (Gateway.onFrame). */
  closingReadBytes = 0;
  /** Set once the online store accepted the login. */
  epoch = 0;
  logicalSessionId = '';
  /**
   * ms of the last frame the client sent (its `ping` above all): the only proof of liveness. A
   * WebSocket-level pong is not one: socket libraries answer it even when the game loop is frozen.
   */
  lastHeartbeat: number;
  /** The first reason given for ending this session wins. */
  endReason: EndReason | undefined;
  /**
   * The highest epoch of a newer login that replaced this user's sessions while this one was
   * still logging in (epoch 0): when its own login completes with a lower epoch, it is the older
   * device and gives way (4001). 0 = none.
   */
  replacedBelow = 0;
  private readonly config: SessionConfig;
  /**
   * `performance.now()` when the watchdog sent the WebSocket-level ping still unanswered, 0 when
   * none is outstanding: the route's pong handler turns it into a round-trip time (metrics).
   */
  wsPingSentAt = 0;
  /** When the watchdog sends this session its next WebSocket-level ping (watchdog clock); 0 = not scheduled yet. */
  wsPingDueAt = 0;

  constructor(options: SessionOptions) {
    this.id = options.id;
    this.userId = options.userId;
    this.username = options.username;
    this.socket = options.socket;
    const { config } = options;
    this.config = config;
    this.connectedAt = config.now();
    this.lastHeartbeat = this.connectedAt;
    this.queue = new SendQueue(options.socket, config.queue, this);
    this.limiter = new RateLimiter(config.rate);
  }

  /** SendQueueListener */
  onQueueDrop(consecutive: number): void {
    this.config.hooks?.onDrop(this, consecutive);
  }

  /** SendQueueListener */
  onSlowConsumer(): void {
    this.config.hooks?.onSlowConsumer(this);
  }

  get isOpen(): boolean {
    return this.state === 'open';
  }

  /**
   * Queues one encoded bulk frame (message, room, broadcast, offline replay); false when it was
   * dropped (queue full) or the session is gone.
   */
  send(data: string): boolean {
    if (this.state === 'closed') return false;
    if (!this.queue.push(data)) return false;
    // Counted here, once accepted: a dropped frame, or one that never reached a session, is not out.
    const { framesOut } = this.config;
    if (framesOut) framesOut[frameOutType(data)]!++;
    return true;
  }

  /**
   * Queues one encoded control frame (pong, ack, error, joined/left, connected): it overtakes the
   * bulk frames still queued (connection/send-queue.ts), so a client flooded with messages still
   * gets its pongs in time. False when it was dropped (control lane full) or the session is gone.
   */
  sendControl(data: string): boolean {
    if (this.state === 'closed') return false;
    if (!this.queue.pushControl(data)) return false;
    const { framesOut } = this.config;
    if (framesOut) framesOut[frameOutType(data)]!++;
    return true;
  }

  /** Control frames do not overtake the bulk frames queued now (the offline replay's barrier). */
  fenceControl(): void {
    this.queue.fence();
  }

  /**
   * The last frame before a server-side close (`reconnect` on drain): handed to the socket now,
   * past whatever is still queued (discarded: nothing queued could be sent after a close anyway),
   * so the socket writes it before the close frame even when the client is behind.
   */
  sendFinal(data: string): boolean {
    if (this.state === 'closed' || this.state === 'closing') return false;
    if (!this.queue.pushFinal(data)) return false;
    const { framesOut } = this.config;
    if (framesOut) framesOut[frameOutType(data)]!++;
    return true;
  }

  /**
   * Ends the connection from the server side. The reason is remembered for the logout (first
   * one wins: a timeout that races a kick stays a timeout). A close that is a verdict on this
   * client (replaced, logged out, slow, rate limited) is preceded by its `kicked` frame, handed
   * to the socket past whatever is queued (for a slow consumer the queue is full: best effort).
   * The socket's close event finishes the job.
   */
  close(code: number, closeText: string, reason: EndReason): void {
    this.endReason ??= reason;
    if (this.state === 'closing' || this.state === 'closed') return;
    const kicked = KICKED_FRAMES.get(code);
    if (kicked !== undefined) this.sendFinal(kicked);
    this.state = 'closing';
    this.closeSocket(code, closeText);
  }

  /**
   * Starts the socket's close handshake whatever the session's state: `close` does it for a
   * session still live; the gateway calls this directly for sessions it has already ended (a
   * tick's heartbeat timeouts are logged out first, their sockets closed a moment later).
   */
  closeSocket(code: number, closeText: string): void {
    try {
      this.socket.close(code, closeText);
    } catch {
      this.socket.terminate();
    }
  }

  /** Kills the TCP connection without a closing handshake (dead or stuck peers). */
  terminate(reason: EndReason): void {
    this.endReason ??= reason;
    this.state = 'closing';
    this.socket.terminate();
  }
}
