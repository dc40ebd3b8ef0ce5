/**
 * The honest bystanders of the hostile benchmark (a child process on the load core): N players
 * pinging once a second each, spread evenly over the second, measuring each pong's round trip.
 * Every ping belongs to the measuring window open when it was sent; a window's figures are
 * collected once all its pings are answered (or a deadline passes: the rest count as lost, i.e.
 * slower than anything measured). A bystander whose connection drops reconnects a second later.
 */
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { Histogram } from '../lib/histogram.ts';
import { serveCommands } from './agent.ts';
import { handshake, playerToken, wsUrl, type Frame } from './wire.ts';
import type WebSocket from 'ws';

export interface WindowFigures {
  sent: number;
  pongs: number;
  /** Pings of the window still unanswered at collection time (or whose connection dropped). */
  lost: number;
  p50Ms: number | null;
  /** Infinity when more than 1 % of the window's pings were lost. */
  p99Ms: number | null;
  maxMs: number | null;
  disconnects: number;
  /** Frames other than pong/connected the bystanders got (e.g. an admin broadcast), by type. */
  otherFrames: Record<string, number>;
  /**
   * The bystanders' own event-loop delay while the window was open (p99 / max, ms): a pong
   * waits for it too, so a high figure here is the measuring process's, not the node's.
   */
  clientLoopP99Ms: number | null;
  clientLoopMaxMs: number | null;
  /** The slowest pings (over SLOW_PING_MS, at most 50): [sent at, Unix ms; round trip, ms]. */
  slowPings: Array<[number, number]>;
}

const SLOW_PING_MS = 5;

interface Window {
  sent: number;
  pongs: number;
  lost: number;
  outstanding: number;
  rtt: Histogram;
  disconnects: number;
  otherFrames: Record<string, number>;
  clientLoop: { p99Ms: number; maxMs: number } | null;
  slowPings: Array<[number, number]>;
}

interface Bystander {
  userId: string;
  ws: WebSocket | undefined;
  /** seq -> [send time, window] of unanswered pings. */
  inFlight: Map<number, [number, number]>;
  seq: number;
}

const windows = new Map<number, Window>();
let current = 0;
let port = 0;
let secret = '';
let stopping = false;
const bystanders: Bystander[] = [];

function windowOf(index: number): Window {
  let w = windows.get(index);
  if (!w) {
    w = { sent: 0, pongs: 0, lost: 0, outstanding: 0, rtt: new Histogram(), disconnects: 0, otherFrames: {}, clientLoop: null, slowPings: [] };
    windows.set(index, w);
  }
  return w;
}

function loseInFlight(b: Bystander): void {
  for (const [, [, index]] of b.inFlight) {
    const w = windowOf(index);
    w.lost++;
    w.outstanding--;
  }
  b.inFlight.clear();
}

async function open(b: Bystander): Promise<void> {
  while (!stopping) {
    const h = await handshake(wsUrl(port, playerToken(secret, b.userId)));
    if (h.ok) {
      b.ws = h.ws;
      h.ws.on('message', (data) => {
        const text = data.toString();
        let frame: Frame;
        try {
          frame = JSON.parse(text) as Frame;
        } catch {
          return;
        }
        if (frame.type === 'pong') {
          const entry = b.inFlight.get(Number(frame.ts));
          if (!entry) return;
          b.inFlight.delete(Number(frame.ts));
          const w = windowOf(entry[1]);
          w.pongs++;
          w.outstanding--;
          const rtt = performance.now() - entry[0];
          w.rtt.record(rtt);
          if (rtt > SLOW_PING_MS && w.slowPings.length < 50) w.slowPings.push([Math.round(performance.timeOrigin + entry[0]), Math.round(rtt * 10) / 10]);
        } else if (frame.type !== 'connected') {
          const other = windowOf(current).otherFrames;
          other[String(frame.type)] = (other[String(frame.type)] ?? 0) + 1;
        }
      });
      h.ws.on('close', () => {
        b.ws = undefined;
        loseInFlight(b);
        if (stopping) return;
        windowOf(current).disconnects++;
        setTimeout(() => void open(b), 1000);
      });
      h.ws.on('error', () => {});
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

function ping(b: Bystander): void {
  const ws = b.ws;
  if (ws?.readyState !== 1) return;
  const seq = ++b.seq;
  b.inFlight.set(seq, [performance.now(), current]);
  const w = windowOf(current);
  w.sent++;
  w.outstanding++;
  ws.send(`{"type":"ping","ts":${seq}}`);
}

function figures(w: Window): WindowFigures {
  // A lost ping is slower than any answered one: the p99 is infinite once over 1 % are lost.
  const rank = Math.ceil(0.99 * w.sent);
  const p99 = w.sent === 0 ? null : rank > w.pongs ? Number.POSITIVE_INFINITY : w.rtt.percentile((rank / Math.max(1, w.pongs)) * 100);
  return {
    sent: w.sent,
    pongs: w.pongs,
    lost: w.lost + w.outstanding,
    p50Ms: w.rtt.percentile(50),
    p99Ms: p99,
    maxMs: w.pongs ? w.rtt.maxMs : null,
    disconnects: w.disconnects,
    otherFrames: w.otherFrames,
    clientLoopP99Ms: w.clientLoop?.p99Ms ?? null,
    clientLoopMaxMs: w.clientLoop?.maxMs ?? null,
    slowPings: w.slowPings,
  };
}

/** This process's event-loop delay since the current window opened. */
const loopDelay = monitorEventLoopDelay({ resolution: 1 });
loopDelay.enable();

function closeLoopWindow(index: number): void {
  windowOf(index).clientLoop = { p99Ms: loopDelay.percentile(99) / 1e6, maxMs: loopDelay.max / 1e6 };
  loopDelay.reset();
}

serveCommands({
  /** Connects `count` bystanders (24 handshakes at a time) and starts their 1 Hz pings. */
  async start(args: { port: number; secret: string; count: number; prefix: string }) {
    port = args.port;
    secret = args.secret;
    for (let i = 0; i < args.count; i++) bystanders.push({ userId: `${args.prefix}${i}`, ws: undefined, inFlight: new Map(), seq: 0 });
    for (let i = 0; i < bystanders.length; i += 24) await Promise.all(bystanders.slice(i, i + 24).map(open));
    // One timer per bystander, their phases spread evenly over the second.
    bystanders.forEach((b, i) => {
      setTimeout(
        () => {
          ping(b);
          setInterval(() => ping(b), 1000);
        },
        Math.floor((i * 1000) / bystanders.length),
      );
    });
    return { connected: bystanders.filter((b) => b.ws).length };
  },
  /** New pings belong to window `index` from now on. */
  window(args: { index: number }) {
    closeLoopWindow(current);
    current = args.index;
    windowOf(current);
    return { connected: bystanders.filter((b) => b.ws).length };
  },
  /** Figures of window `index` once its pings are answered, or after `waitMs`. */
  async collect(args: { index: number; waitMs: number }) {
    const w = windowOf(args.index);
    const until = performance.now() + args.waitMs;
    while (w.outstanding > 0 && performance.now() < until) await new Promise((resolve) => setTimeout(resolve, 50));
    return figures(w);
  },
  stop() {
    stopping = true;
    for (const b of bystanders) b.ws?.terminate();
    return null;
  },
});
