/**
 * Messages between the orchestrator (bench/run.ts) and the load processes (bench/load/client.ts).
 * Every command carries an `id`; the load process answers each with exactly one reply of the
 * same id.
 */
import type { HistogramJson } from './histogram.ts';

/** How the load process speaks to a server: plain JSON frames over `ws`, or Socket.IO v4. */
export type WireProtocol = 'json' | 'sio';

export interface ConnectCommand {
  cmd: 'connect';
  id: number;
  /** Socket group name (commands address sockets by group). */
  group: string;
  protocol: WireProtocol;
  /** ws:// URL without the userId; the load process appends `userId=<user>`. */
  url: string;
  users: string[];
  /** Handshakes in flight at once. */
  concurrency: number;
  /** Per-socket deadline for the first server frame. */
  timeoutMs: number;
  /** No new handshake starts after this long (the step is then incomplete); default: none. */
  rampDeadlineMs?: number;
}

/** 1 Hz (or `intervalMs`) ping on every ready socket, phases spread evenly over the interval. */
export interface HeartbeatCommand {
  cmd: 'heartbeat';
  id: number;
  enabled: boolean;
  intervalMs: number;
}

export interface WindowCommand {
  cmd: 'window';
  id: number;
  action: 'start' | 'stop';
}

/** Direct messages: sockets of `fromGroup` send to `to[i]` round-robin at `ratePerSec` in total. */
export interface DirectCommand {
  cmd: 'direct';
  id: number;
  fromGroup: string;
  /** Recipient userId of each sender (same order as the sender group's users). */
  to: string[];
  ratePerSec: number;
  durationMs: number;
  /** How long to wait for stragglers after the last send. */
  drainMs: number;
}

/** Fan-out: `count` pushes, one every `intervalMs`, each expected by `expect` sockets. */
export interface FanoutCommand {
  cmd: 'fanout';
  id: number;
  mode: 'room' | 'broadcast';
  count: number;
  intervalMs: number;
  expect: number;
  /** broadcast mode: POST here with the bearer token. */
  broadcastUrl?: string;
  adminToken?: string;
  /** room mode: the sender socket's group (its first socket sends) and the room. */
  senderGroup?: string;
  room?: string;
  drainMs: number;
}

/** Every socket of `group` joins `room`; resolves when all got `joined`. */
export interface JoinCommand {
  cmd: 'join';
  id: number;
  group: string;
  room: string;
  timeoutMs: number;
}

/** Closes every socket of a group (graceful close) and forgets them. */
export interface CloseGroupCommand {
  cmd: 'close-group';
  id: number;
  group: string;
}

export interface StatusCommand {
  cmd: 'status';
  id: number;
}

/**
 * The connect-storm benchmark (bench/storm/): `users` connect `concurrency` at a time, each once
 * (no blind retries: a failure is counted by kind), except that a 503 with Retry-After is tried
 * again after it plus up to 500 ms, as the SDK does. With `reconnect`, every socket of the group
 * then reconnects on its own whenever it is closed, with the SDK's backoff (src/client/backoff.ts).
 */
export interface StormConnectCommand {
  cmd: 'storm-connect';
  id: number;
  group: string;
  protocol: WireProtocol;
  url: string;
  users: string[];
  concurrency: number;
  timeoutMs: number;
  reconnect: boolean;
}

/** Counters of a storm group since `storm-reset` (or its start), and how many of it are ready now. */
export interface StormStatusCommand {
  cmd: 'storm-status';
  id: number;
  group: string;
  /** Zero the group's counters first (the start of a recovery). */
  reset?: boolean;
}

export type LoadCommand =
  | ConnectCommand
  | HeartbeatCommand
  | WindowCommand
  | DirectCommand
  | FanoutCommand
  | JoinCommand
  | CloseGroupCommand
  | StatusCommand
  | StormConnectCommand
  | StormStatusCommand;

export interface ConnectReply {
  id: number;
  kind: 'connect';
  connected: number;
  failed: number;
  /** Not attempted: the ramp deadline passed first. */
  skipped: number;
  errors: string[];
  ms: number;
}

export interface WindowStats {
  /** Wall time of the window in the load process. */
  wallMs: number;
  /** CPU time (user + system, all threads) the load process used in the window. */
  cpuUs: number;
  pingsSent: number;
  pongs: number;
  rtt: HistogramJson;
  errorFrames: number;
  /** Sockets that closed unexpectedly during the window. */
  unexpectedCloses: number;
  /** ... and since the load process started (connect ramp included). */
  unexpectedClosesTotal: number;
  openSockets: number;
  /** Event-loop delay of the load process in the window (p99, ms): a starved generator shows here. */
  loopDelayP99Ms: number;
}

export interface WindowReply {
  id: number;
  kind: 'window';
  stats?: WindowStats;
}

export interface DirectReply {
  id: number;
  kind: 'direct';
  sent: number;
  received: number;
  acks: number;
  errors: Record<string, number>;
  latency: HistogramJson;
  wallMs: number;
  cpuUs: number;
}

export interface FanoutReply {
  id: number;
  kind: 'fanout';
  /** Per push: ms from the send to the first and to the last delivery, and deliveries seen. */
  pushes: Array<{ firstMs: number; lastMs: number; delivered: number; sendError?: string }>;
  wallMs: number;
  cpuUs: number;
}

export interface SimpleReply {
  id: number;
  kind: 'ok' | 'status';
  info?: Record<string, number>;
  error?: string;
}

export interface StormFigures {
  /** Sockets of the group ready now. */
  ready: number;
  /** Handshakes that ended ready, and the time of each (attempt start to the ready frame). */
  handshakes: number;
  handshakeMs: HistogramJson;
  /** Failed attempts by kind (HTTP <status>, timeout, reset, closed before ready, ...); 503s with Retry-After are `deferred`. */
  failedByKind: Record<string, number>;
  deferred: number;
  /** Most attempts one socket needed to be ready (reconnect groups). */
  maxAttempts: number;
  /** performance.now() of the last socket becoming ready. */
  lastReadyAt: number;
}

export interface StormReply {
  id: number;
  kind: 'storm';
  figures: StormFigures;
  wallMs: number;
}

export type LoadReply = ConnectReply | WindowReply | DirectReply | FanoutReply | SimpleReply | StormReply;

/** What a load process says on its own (not as an answer). */
export interface LoadHello {
  kind: 'hello';
  pid: number;
}
