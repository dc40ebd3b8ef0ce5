/**
 * A load-generator process (forked by bench/run.ts, pinned to the load core). It holds up to a
 * few thousand client sockets, speaks either the plain JSON protocol (raw ws, Gatehouse) or
 * Socket.IO v4 (a minimal Engine.IO/Socket.IO client over the same `ws` library, so every server
 * is driven by the same client code and the generator does not become the bottleneck), and
 * answers the orchestrator's commands (see bench/lib/ipc.ts). It measures its own CPU so that a
 * run whose generator saturated its core can be discarded.
 *
 * All targets are 127.0.0.1: the orchestrator builds the URLs; this process refuses others.
 */
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import { Histogram } from '../lib/histogram.ts';
import type {
  ConnectCommand,
  DirectCommand,
  FanoutCommand,
  JoinCommand,
  LoadCommand,
  LoadReply,
  StormConnectCommand,
  StormFigures,
  WindowStats,
  WireProtocol,
} from '../lib/ipc.ts';
import { backoffDelay, DEFAULT_RECONNECT } from '../../src/client/backoff.ts';

if (!process.send) {
  process.stderr.write('bench/load/client.ts runs as a child of bench/run.ts (IPC channel required)\n');
  process.exit(1);
}
const send = (msg: LoadReply | { kind: 'hello'; pid: number }) => process.send!(msg);
// The orchestrator is gone: nothing to report to.
process.on('disconnect', () => process.exit(0));

const TICK_MS = 10;
/**
 * Pacing of the direct-message scenario: at 1k msg/s a 10 ms tick sends lockstep bursts of 10,
 * and the p99 then measures how long the 10th waits behind the other nine on a shared core
 * rather than the latency of one message. 100 independent senders do not fire in lockstep.
 */
const DIRECT_TICK_MS = 1;

interface Sock {
  ws: WebSocket;
  user: string;
  group: string;
  protocol: WireProtocol;
  ready: boolean;
  closing: boolean;
  slot: number;
  onJoined?: () => void;
}

interface ServerFrame {
  type?: string;
  ts?: number;
  code?: string;
  content?: { t?: number; r?: number; seq?: number } | null;
}

const groups = new Map<string, Sock[]>();
let slotCounter = 0;
/** Sockets that closed without us asking, since the process started (ramp included). */
let unexpectedClosesTotal = 0;
const loopDelay = monitorEventLoopDelay({ resolution: 10 });
loopDelay.enable();

// ---- measurement state ----------------------------------------------------------------------

let windowOn = false;
let win = freshWindow();
function freshWindow() {
  loopDelay.reset();
  return { pingsSent: 0, pongs: 0, rtt: new Histogram(), errorFrames: 0, unexpectedCloses: 0, t0: performance.now(), cpu0: process.cpuUsage() };
}

interface DirectRun {
  runId: number;
  received: number;
  acks: number;
  errors: Record<string, number>;
  latency: Histogram;
}
let direct: DirectRun | undefined;

interface FanoutRun {
  runId: number;
  sentAt: number[];
  first: number[];
  last: number[];
  delivered: number[];
}
let fanout: FanoutRun | undefined;
let runCounter = 0;

// ---- wire ------------------------------------------------------------------------------------

function sendFrame(sock: Sock, json: string): void {
  if (sock.ws.readyState !== WebSocket.OPEN) return;
  sock.ws.send(sock.protocol === 'sio' ? `42["message",${json}]` : json);
}

function onFrame(frame: ServerFrame): void {
  const now = performance.now();
  switch (frame.type) {
    case 'pong':
      if (windowOn) {
        win.pongs++;
        if (typeof frame.ts === 'number') win.rtt.record(now - frame.ts);
      }
      return;
    case 'message':
      if (direct && frame.content && frame.content.r === direct.runId && typeof frame.content.t === 'number') {
        direct.received++;
        direct.latency.record(now - frame.content.t);
      }
      return;
    case 'ack':
      if (direct) direct.acks++;
      return;
    case 'error':
      if (windowOn) win.errorFrames++;
      if (direct) direct.errors[frame.code ?? 'unknown'] = (direct.errors[frame.code ?? 'unknown'] ?? 0) + 1;
      return;
    case 'broadcast':
    case 'room': {
      const c = frame.content;
      if (!fanout || !c || c.r !== fanout.runId || typeof c.seq !== 'number') return;
      const k = c.seq;
      if ((fanout.delivered[k] ?? 0) === 0) fanout.first[k] = now;
      fanout.last[k] = now;
      fanout.delivered[k] = (fanout.delivered[k] ?? 0) + 1;
      return;
    }
  }
}

/** Retry-After waits one client of a ramp takes before its deferral counts as a failure. */
const MAX_DEFERRALS = 20;

/** A handshake refused with an HTTP status (and, for 503s, maybe a Retry-After in seconds). */
class Refused extends Error {
  constructor(
    readonly status: number,
    readonly retryAfterS: number | undefined,
  ) {
    super(`HTTP ${status}`);
  }
}

/** Opens one socket; resolves once the server said it is ready (`connected` / Socket.IO CONNECT). */
function open(cmd: Pick<ConnectCommand, 'url' | 'protocol' | 'timeoutMs' | 'group'>, user: string): Promise<Sock> {
  const url = `${cmd.url}${cmd.url.includes('?') ? '&' : '?'}userId=${encodeURIComponent(user)}`;
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false, handshakeTimeout: cmd.timeoutMs });
    const sock: Sock = { ws, user, group: cmd.group, protocol: cmd.protocol, ready: false, closing: false, slot: slotCounter++ };
    let settled = false;
    const timer = setTimeout(() => fail(new Error('no ready frame in time')), cmd.timeoutMs);
    const ready = () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.ready = true;
      resolve(sock);
    };
    function fail(error: Error) {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      ws.terminate();
      reject(error);
    }
    ws.on('message', (data) => {
      const text = data.toString();
      if (sock.protocol === 'sio') {
        // Engine.IO packet types: 0 open, 2 ping, 3 pong, 4 message; Socket.IO inside 4: 0 connect, 2 event, 4 error.
        const c = text.charCodeAt(0);
        if (c === 50 /* 2 */ && text.length === 1) return void ws.send('3');
        if (c === 48 /* 0 */) return void ws.send('40');
        if (text.startsWith('42')) {
          let frame: unknown;
          try {
            frame = (JSON.parse(text.slice(2)) as unknown[])[1];
          } catch {
            return;
          }
          if (frame && typeof frame === 'object') dispatch(sock, frame as ServerFrame);
          return;
        }
        if (text.startsWith('40')) return ready();
        if (text.startsWith('44')) return fail(new Error(`socket.io connect error ${text.slice(0, 120)}`));
        return;
      }
      let frame: unknown;
      try {
        frame = JSON.parse(text);
      } catch {
        return;
      }
      if (!frame || typeof frame !== 'object') return;
      if ((frame as ServerFrame).type === 'connected') return ready();
      dispatch(sock, frame as ServerFrame);
    });
    ws.on('unexpected-response', (_req, res) => {
      const retryAfter = Number(res.headers['retry-after']);
      fail(new Refused(res.statusCode ?? 0, Number.isFinite(retryAfter) ? retryAfter : undefined));
    });
    ws.on('error', (error) => fail(error));
    ws.on('close', (code) => {
      if (!settled) return fail(new Error(`closed ${code} before ready`));
      if (sock.ready && !sock.closing) {
        unexpectedClosesTotal++;
        if (windowOn) win.unexpectedCloses++;
      }
      sock.ready = false;
    });
  });
}

function dispatch(sock: Sock, frame: ServerFrame): void {
  if (frame.type === 'joined') {
    sock.onJoined?.();
    return;
  }
  onFrame(frame);
}

function guardLocal(url: string): void {
  const host = new URL(url).hostname;
  if (host !== '127.0.0.1') throw new Error(`refusing to load ${host}: benchmarks target 127.0.0.1 only`);
}

async function connect(cmd: ConnectCommand): Promise<LoadReply> {
  guardLocal(cmd.url);
  const started = performance.now();
  const list = groups.get(cmd.group) ?? [];
  groups.set(cmd.group, list);
  let next = 0;
  let connected = 0;
  let failed = 0;
  const errors: string[] = [];
  const stopAt = cmd.rampDeadlineMs ? started + cmd.rampDeadlineMs : Infinity;
  const worker = async () => {
    while (next < cmd.users.length && performance.now() < stopAt) {
      const user = cmd.users[next++]!;
      let deferrals = 0;
      for (let attempt = 1; ; attempt++) {
        try {
          const sock = await open(cmd, user);
          list.push(sock);
          slots[sock.slot % slots.length]!.push(sock);
          connected++;
          break;
        } catch (error) {
          // Deferred by admission control (503 + Retry-After, a busy node): wait as the SDK does;
          // this is not one of the attempts.
          if (error instanceof Refused && error.status === 503 && error.retryAfterS !== undefined && deferrals++ < MAX_DEFERRALS) {
            await new Promise((r) => setTimeout(r, error.retryAfterS! * 1000 + Math.random() * 500));
            attempt--;
            continue;
          }
          if (attempt < 3) {
            await new Promise((r) => setTimeout(r, 200 * attempt));
            continue;
          }
          failed++;
          if (errors.length < 5) errors.push(`${user}: ${(error as Error).message}`);
          break;
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, cmd.concurrency) }, worker));
  const skipped = cmd.users.length - next;
  if (skipped > 0) errors.push(`ramp deadline: ${skipped} handshakes not started`);
  return { id: cmd.id, kind: 'connect', connected, failed, skipped, errors, ms: performance.now() - started };
}

// ---- heartbeat -------------------------------------------------------------------------------

let slots: Sock[][] = Array.from({ length: 1000 / TICK_MS }, () => []);
let heartbeatTimer: NodeJS.Timeout | undefined;
let hbStart = 0;
let hbLastSlot = -1;

function setHeartbeat(enabled: boolean, intervalMs: number): void {
  if (heartbeatTimer) clearInterval(heartbeatTimer);
  heartbeatTimer = undefined;
  if (!enabled) return;
  const n = Math.max(1, Math.round(intervalMs / TICK_MS));
  if (n !== slots.length) {
    const all = slots.flat();
    slots = Array.from({ length: n }, () => []);
    for (const s of all) slots[s.slot % n]!.push(s);
  }
  hbStart = performance.now();
  hbLastSlot = -1;
  heartbeatTimer = setInterval(() => {
    const current = Math.floor((performance.now() - hbStart) / TICK_MS);
    // Catch up on slots a late tick skipped, but never more than one full round.
    const from = Math.max(hbLastSlot + 1, current - slots.length + 1);
    for (let s = from; s <= current; s++) {
      const list = slots[s % slots.length]!;
      for (let i = 0; i < list.length; i++) {
        const sock = list[i]!;
        if (!sock.ready) continue;
        sendFrame(sock, `{"type":"ping","ts":${performance.now()}}`);
        if (windowOn) win.pingsSent++;
      }
    }
    hbLastSlot = current;
  }, TICK_MS);
}

function windowStats(): WindowStats {
  const cpu = process.cpuUsage(win.cpu0);
  let open = 0;
  for (const list of groups.values()) for (const s of list) if (s.ready) open++;
  return {
    wallMs: performance.now() - win.t0,
    cpuUs: cpu.user + cpu.system,
    pingsSent: win.pingsSent,
    pongs: win.pongs,
    rtt: win.rtt.toJSON(),
    errorFrames: win.errorFrames,
    unexpectedCloses: win.unexpectedCloses,
    unexpectedClosesTotal,
    openSockets: open,
    loopDelayP99Ms: loopDelay.percentile(99) / 1e6,
  };
}

// ---- direct messages ---------------------------------------------------------------------------

async function runDirect(cmd: DirectCommand): Promise<LoadReply> {
  const senders = (groups.get(cmd.fromGroup) ?? []).filter((s) => s.ready);
  if (senders.length === 0) throw new Error(`no ready sockets in group ${cmd.fromGroup}`);
  const run: DirectRun = { runId: ++runCounter, received: 0, acks: 0, errors: {}, latency: new Histogram() };
  direct = run;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let sent = 0;
  let i = 0;
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const elapsed = performance.now() - t0;
      const due = Math.min(Math.floor((elapsed / 1000) * cmd.ratePerSec), Math.floor((cmd.durationMs / 1000) * cmd.ratePerSec));
      while (sent < due) {
        const k = i++ % senders.length;
        const sock = senders[k]!;
        const to = cmd.to[k % cmd.to.length]!;
        sendFrame(sock, `{"type":"message","to":"${to}","content":{"t":${performance.now()},"r":${run.runId}},"id":"c${sent}"}`);
        sent++;
      }
      if (elapsed >= cmd.durationMs) {
        clearInterval(timer);
        resolve();
      }
    }, DIRECT_TICK_MS);
  });
  const until = performance.now() + cmd.drainMs;
  while (performance.now() < until && (run.received < sent || run.acks < sent)) await new Promise((r) => setTimeout(r, 20));
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  direct = undefined;
  return {
    id: cmd.id,
    kind: 'direct',
    sent,
    received: run.received,
    acks: run.acks,
    errors: run.errors,
    latency: run.latency.toJSON(),
    wallMs,
    cpuUs: cpu.user + cpu.system,
  };
}

// ---- fan-out -----------------------------------------------------------------------------------

async function join(cmd: JoinCommand): Promise<LoadReply> {
  const socks = (groups.get(cmd.group) ?? []).filter((s) => s.ready);
  let joined = 0;
  await Promise.all(
    socks.map(
      (sock) =>
        new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, cmd.timeoutMs);
          sock.onJoined = () => {
            joined++;
            clearTimeout(timer);
            sock.onJoined = undefined;
            resolve();
          };
          sendFrame(sock, JSON.stringify({ type: 'join', room: cmd.room }));
        }),
    ),
  );
  return { id: cmd.id, kind: 'status', info: { joined, sockets: socks.length } };
}

async function runFanout(cmd: FanoutCommand): Promise<LoadReply> {
  const run: FanoutRun = { runId: ++runCounter, sentAt: [], first: [], last: [], delivered: [] };
  fanout = run;
  const sendErrors: Array<string | undefined> = [];
  const sender = cmd.mode === 'room' ? (groups.get(cmd.senderGroup ?? '') ?? []).find((s) => s.ready) : undefined;
  if (cmd.mode === 'room' && !sender) throw new Error('fan-out: no ready sender socket');
  if (cmd.mode === 'broadcast') guardLocal(cmd.broadcastUrl ?? '');
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const posts: Array<Promise<void>> = [];
  for (let k = 0; k < cmd.count; k++) {
    const wait = t0 + k * cmd.intervalMs - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const content = { seq: k, r: run.runId };
    run.sentAt[k] = performance.now();
    run.delivered[k] = 0;
    if (sender) {
      sendFrame(sender, JSON.stringify({ type: 'room', room: cmd.room, content, id: `f${k}` }));
    } else {
      posts.push(
        fetch(cmd.broadcastUrl!, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${cmd.adminToken}` },
          body: JSON.stringify({ content }),
        }).then(
          async (res) => {
            await res.arrayBuffer();
            if (res.status !== 200) sendErrors[k] = `HTTP ${res.status}`;
          },
          (error: unknown) => {
            sendErrors[k] = (error as Error).message;
          },
        ),
      );
    }
  }
  await Promise.all(posts);
  const until = performance.now() + cmd.drainMs;
  const complete = () => run.delivered.every((d) => d >= cmd.expect);
  while (performance.now() < until && !complete()) await new Promise((r) => setTimeout(r, 10));
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  fanout = undefined;
  return {
    id: cmd.id,
    kind: 'fanout',
    pushes: run.sentAt.map((at, k) => ({
      firstMs: (run.first[k] ?? NaN) - at,
      lastMs: (run.last[k] ?? NaN) - at,
      delivered: run.delivered[k] ?? 0,
      ...(sendErrors[k] ? { sendError: sendErrors[k] } : {}),
    })),
    wallMs,
    cpuUs: cpu.user + cpu.system,
  };
}

async function closeGroup(group: string): Promise<void> {
  const list = groups.get(group) ?? [];
  groups.delete(group);
  const set = new Set(list);
  for (const slot of slots) {
    for (let i = slot.length - 1; i >= 0; i--) if (set.has(slot[i]!)) slot.splice(i, 1);
  }
  await Promise.all(
    list.map(
      (sock) =>
        new Promise<void>((resolve) => {
          sock.closing = true;
          if (sock.ws.readyState === WebSocket.CLOSED) return resolve();
          const timer = setTimeout(() => {
            sock.ws.terminate();
            resolve();
          }, 3000);
          sock.ws.once('close', () => {
            clearTimeout(timer);
            resolve();
          });
          sock.ws.close(1000);
        }),
    ),
  );
}

// ---- connect storms (bench/storm/) --------------------------------------------------------------

interface StormGroup {
  reconnect: boolean;
  handshakeMs: Histogram;
  failedByKind: Record<string, number>;
  deferred: number;
  ready: number;
  maxAttempts: number;
  lastReadyAt: number;
}
const stormGroups = new Map<string, StormGroup>();

/** A connection refused by the kernel: nothing listens (the server is down, restarting). */
const NO_SERVER = 'no server listening';

function failureKind(error: Error): string {
  if (error instanceof Refused) return error.message;
  if (/no ready frame|timed out/i.test(error.message)) return 'timeout';
  if (/ECONNRESET|socket hang up/i.test(error.message)) return 'reset';
  if (/ECONNREFUSED/.test(error.message)) return NO_SERVER;
  if (/closed \d+ before ready/.test(error.message)) return 'closed before ready';
  return error.message.slice(0, 40);
}

/**
 * One client of a storm until it is ready: a 503 with Retry-After waits it (plus up to 500 ms);
 * another failure ends a burst client (counted) or, in a reconnect group, waits the SDK's backoff.
 * A ready client of a reconnect group starts over when its socket closes.
 */
async function stormClient(cmd: StormConnectCommand, user: string, state: StormGroup, firstAttempt = 0): Promise<void> {
  for (let attempt = firstAttempt; ; attempt++) {
    const started = performance.now();
    try {
      const sock = await open(cmd, user);
      state.handshakeMs.record(performance.now() - started);
      state.ready++;
      state.lastReadyAt = performance.now();
      state.maxAttempts = Math.max(state.maxAttempts, attempt - firstAttempt + 1);
      groups.get(cmd.group)!.push(sock);
      slots[sock.slot % slots.length]!.push(sock);
      sock.ws.once('close', () => {
        state.ready--;
        // Like the SDK: the first try after a lost connection waits backoffDelay(0) too.
        if (state.reconnect && !sock.closing) setTimeout(() => void stormClient(cmd, user, state, 1), backoffDelay(0, DEFAULT_RECONNECT));
      });
      return;
    } catch (error) {
      if (error instanceof Refused && error.status === 503 && error.retryAfterS !== undefined) {
        state.deferred++;
        await new Promise((r) => setTimeout(r, error.retryAfterS! * 1000 + Math.random() * 500));
        continue;
      }
      const kind = failureKind(error as Error);
      state.failedByKind[kind] = (state.failedByKind[kind] ?? 0) + 1;
      if (!state.reconnect) return;
      await new Promise((r) => setTimeout(r, backoffDelay(attempt, DEFAULT_RECONNECT)));
    }
  }
}

function stormFigures(state: StormGroup): StormFigures {
  return {
    ready: state.ready,
    handshakes: state.handshakeMs.count,
    handshakeMs: state.handshakeMs.toJSON(),
    failedByKind: { ...state.failedByKind },
    deferred: state.deferred,
    maxAttempts: state.maxAttempts,
    lastReadyAt: state.lastReadyAt,
  };
}

function resetStorm(state: StormGroup): void {
  state.handshakeMs = new Histogram();
  state.failedByKind = {};
  state.deferred = 0;
  state.maxAttempts = 0;
}

async function stormConnect(cmd: StormConnectCommand): Promise<LoadReply> {
  guardLocal(cmd.url);
  const started = performance.now();
  if (!groups.has(cmd.group)) groups.set(cmd.group, []);
  const state: StormGroup = { reconnect: cmd.reconnect, handshakeMs: new Histogram(), failedByKind: {}, deferred: 0, ready: 0, maxAttempts: 0, lastReadyAt: 0 };
  stormGroups.set(cmd.group, state);
  let next = 0;
  const worker = async () => {
    while (next < cmd.users.length) await stormClient(cmd, cmd.users[next++]!, state);
  };
  await Promise.all(Array.from({ length: Math.max(1, cmd.concurrency) }, worker));
  return { id: cmd.id, kind: 'storm', figures: stormFigures(state), wallMs: performance.now() - started };
}

// ---- command loop ------------------------------------------------------------------------------

async function handle(cmd: LoadCommand): Promise<LoadReply> {
  switch (cmd.cmd) {
    case 'connect':
      return connect(cmd);
    case 'heartbeat':
      setHeartbeat(cmd.enabled, cmd.intervalMs);
      return { id: cmd.id, kind: 'ok' };
    case 'window':
      if (cmd.action === 'start') {
        win = freshWindow();
        windowOn = true;
        return { id: cmd.id, kind: 'window' };
      }
      windowOn = false;
      return { id: cmd.id, kind: 'window', stats: windowStats() };
    case 'direct':
      return runDirect(cmd);
    case 'fanout':
      return runFanout(cmd);
    case 'join':
      return join(cmd);
    case 'close-group':
      await closeGroup(cmd.group);
      return { id: cmd.id, kind: 'ok' };
    case 'storm-connect':
      return stormConnect(cmd);
    case 'storm-status': {
      const state = stormGroups.get(cmd.group);
      if (!state) throw new Error(`no storm group ${cmd.group}`);
      if (cmd.reset) resetStorm(state);
      return { id: cmd.id, kind: 'storm', figures: stormFigures(state), wallMs: 0 };
    }
    case 'status': {
      let open = 0;
      for (const list of groups.values()) for (const s of list) if (s.ready) open++;
      return { id: cmd.id, kind: 'status', info: { open, rssKb: Math.round(process.memoryUsage().rss / 1024) } };
    }
  }
}

process.on('message', (raw) => {
  const cmd = raw as LoadCommand;
  handle(cmd).then(
    (reply) => send(reply),
    (error: unknown) => send({ id: cmd.id, kind: 'ok', error: (error as Error).message }),
  );
});

send({ kind: 'hello', pid: process.pid });
