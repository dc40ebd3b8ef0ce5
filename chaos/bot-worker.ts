/**
 * A bot worker process of the chaos run (forked by chaos/run.ts): a slice of the bots, each a
 * real client-SDK `GatehouseClient`, connecting through this process's own TCP proxies (one per
 * node) so that a bot can lose its network (`ChaosProxy.blackhole`). Bots run in worker
 * processes, not in the orchestrator, so that the bots themselves do not lag.
 *
 * Every bot writes its own truth to the worker's JSONL file: one `conn` record per connection
 * (open, `connected` frame, every pong gap over 2.5 s, kicked / reconnect frames, the close with
 * code and reason, the last app frame sent) and one record per churn event (quit, vanish,
 * freeze, and the return).
 */
import { createWriteStream } from 'node:fs';
import WebSocket from 'ws';
import { GatehouseClient } from '../src/client/index.ts';
import type { WebSocketConstructor } from '../src/client/types.ts';
import { FreezableTimers } from './lib/freezable-timers.ts';
import type { BotSpec, BotStatus, ConnRecord, FromWorker, ToWorker, WorkerGo, WorkerInit } from './lib/messages.ts';
import { ChaosProxy } from './lib/proxy.ts';
import { between, derive, seeded, type Rng } from './lib/rng.ts';

/** Pong gaps longer than this are recorded (the checker's "receiving pongs" needs them). */
const GAP_MS = 2500;

let init: WorkerInit;
let go: WorkerGo;
let out: ReturnType<typeof createWriteStream>;
const proxies: ChaosProxy[] = [];
const bots: Bot[] = [];
let ending = false;

const send = (message: FromWorker) => process.send?.(message);
const write = (record: object) => out.write(`${JSON.stringify(record)}\n`);

class Bot {
  client: GatehouseClient | undefined;
  conn: ConnRecord | undefined;
  status: BotStatus = 'connecting';
  since = Date.now();
  lastFrame: number | null = null;
  /** Has received `connected` at least once. */
  everConnected = false;
  private attempts = 0;
  /** The proxy (node) of the latest attempt. */
  private currentProxy = 0;
  private readonly timers = new FreezableTimers();
  private churnTimer: NodeJS.Timeout | undefined;
  private readonly rng: Rng;
  readonly kind: 'steady' | 'quit' | 'vanish' | 'freeze';

  constructor(readonly spec: BotSpec) {
    this.rng = seeded(derive(init.seed, spec.userId));
    const r = this.rng();
    const { quit, vanish, freeze } = init.mix;
    this.kind = r < quit ? 'quit' : r < quit + vanish ? 'vanish' : r < quit + vanish + freeze ? 'freeze' : 'steady';
    write({ ev: 'plan', u: spec.userId, kind: this.kind, t: Date.now() });
  }

  private setStatus(status: BotStatus): void {
    this.status = status;
    this.since = Date.now();
  }

  start(): void {
    this.client = this.newClient();
    void this.client.connect().catch(() => {});
  }

  go(): void {
    if (this.kind !== 'steady') this.scheduleChurn(between(this.rng, go.churnFrom, go.churnUntil));
  }

  private newClient(): GatehouseClient {
    const bot = this;
    // The SDK's WebSocket, wrapped only to see what the bot sends and which local port it uses.
    class BotSocket extends WebSocket {
      constructor(url: string) {
        super(url);
        this.once('open', () => bot.onOpen(this));
      }
      override send(data: unknown, ...rest: unknown[]): void {
        bot.onSend();
        (WebSocket.prototype.send as (...args: unknown[]) => void).call(this, data, ...rest);
      }
    }
    const client = new GatehouseClient({
      url: () => {
        const proxy = (this.spec.home + this.attempts++) % proxies.length;
        this.currentProxy = proxy;
        return `ws://127.0.0.1:${proxies[proxy]!.port}/ws`;
      },
      userId: this.spec.userId,
      WebSocket: BotSocket as unknown as WebSocketConstructor,
      timers: this.timers,
      reconnect: { initialDelayMs: 500, maxDelayMs: 5000 },
    });
    client.on('connected', (frame) => {
      if (client !== this.client || !this.conn) return;
      this.attempts = 0;
      this.everConnected = true;
      this.conn.connected = Date.now();
      this.conn.sid = frame.sessionId;
      this.conn.node = frame.nodeId;
      if (this.status === 'connecting') this.setStatus('connected');
    });
    client.on('pong', () => {
      const conn = this.conn;
      if (client !== this.client || !conn) return;
      const now = Date.now();
      const previous = conn.lastPong ?? conn.connected ?? conn.open;
      if (now - previous > GAP_MS) conn.gaps.push([previous, now]);
      conn.pongs++;
      conn.firstPong ??= now;
      conn.lastPong = now;
    });
    client.on('kicked', (frame) => {
      if (client === this.client) this.conn?.kicked.push([Date.now(), String((frame as { reason?: unknown }).reason ?? '')]);
    });
    client.on('reconnect', (frame) => {
      if (client !== this.client) return;
      const afterMs = (frame as { afterMs?: unknown }).afterMs;
      this.conn?.reconnect.push([Date.now(), typeof afterMs === 'number' ? afterMs : null]);
    });
    client.on('close', (info) => {
      if (client !== this.client) return;
      this.endConn(info.code, info.reason, info.byClient);
      if (this.status === 'connected') this.setStatus('connecting');
      if (ending) {
        if (info.willReconnect) void client.close();
        return;
      }
      // A bot is a persistent player: even after a "stop" close code it comes back a moment later.
      if (!info.willReconnect && this.status === 'connecting') {
        setTimeout(() => {
          if (!ending && client === this.client && this.status === 'connecting') void client.connect().catch(() => {});
        }, 2000);
      }
    });
    return client;
  }

  private onOpen(socket: WebSocket): void {
    const port = (socket as unknown as { _socket?: { localPort?: number } })._socket?.localPort ?? -1;
    const proxy = this.currentProxy;
    this.conn = {
      ev: 'conn',
      u: this.spec.userId,
      proxy,
      open: Date.now(),
      connected: null,
      sid: null,
      node: null,
      close: null,
      code: null,
      reason: null,
      byClient: null,
      kicked: [],
      reconnect: [],
      pings: 0,
      pongs: 0,
      firstPong: null,
      lastPong: null,
      lastPing: null,
      gaps: [],
    };
    (this.conn as ConnRecord & { port: number }).port = port;
  }

  private onSend(): void {
    const now = Date.now();
    this.lastFrame = now;
    if (this.conn) {
      this.conn.pings++;
      this.conn.lastPing = now;
    }
  }

  /** Writes the current connection's record (closed at `now`, or still open at the end). */
  endConn(code: number | null, reason: string | null, byClient: boolean | null, at: number | null = Date.now()): void {
    const conn = this.conn;
    if (!conn) return;
    this.conn = undefined;
    conn.close = at;
    conn.code = code;
    conn.reason = reason;
    conn.byClient = byClient;
    const lastPong = conn.lastPong ?? conn.connected ?? conn.open;
    if (at !== null && at - lastPong > GAP_MS) conn.gaps.push([lastPong, at]);
    write(conn);
  }

  private scheduleChurn(at: number): void {
    if (at > go.churnUntil) return;
    this.churnTimer = setTimeout(() => this.churn(), Math.max(0, at - Date.now()));
  }

  private churn(): void {
    if (ending) return;
    const client = this.client!;
    const now = Date.now();
    if (this.kind === 'quit') {
      if (this.status !== 'connected') return this.scheduleChurn(now + 5000);
      write({ ev: 'quit', u: this.spec.userId, t: now, lastFrame: this.lastFrame, node: this.conn?.node ?? null });
      this.setStatus('quit');
      void client.close();
      this.churnTimer = setTimeout(() => this.comeBack(), between(this.rng, 5000, 30_000));
    } else if (this.kind === 'vanish') {
      const conn = this.conn;
      const port = (conn as (ConnRecord & { port?: number }) | undefined)?.port;
      if (this.status !== 'connected' || !conn || port === undefined || !proxies[conn.proxy]!.blackhole(port)) return this.scheduleChurn(now + 5000);
      write({ ev: 'vanish', u: this.spec.userId, t: now, lastFrame: this.lastFrame, node: conn.node });
      send({ type: 'silent', userId: this.spec.userId, kind: 'vanish', lastFrame: this.lastFrame ?? now, at: now, nodeId: conn.node });
      this.endConn(-1, 'vanished', null, now);
      this.setStatus('vanished');
      // The bot is gone: its client is dropped (its close frame goes into the black hole).
      this.client = undefined;
      void client.close();
      this.churnTimer = setTimeout(() => this.comeBack(), between(this.rng, 35_000, 70_000));
    } else if (this.kind === 'freeze') {
      if (this.status !== 'connected') return this.scheduleChurn(now + 5000);
      this.timers.freeze();
      write({ ev: 'freeze', u: this.spec.userId, t: now, lastFrame: this.lastFrame, node: this.conn?.node ?? null });
      send({ type: 'silent', userId: this.spec.userId, kind: 'freeze', lastFrame: this.lastFrame ?? now, at: now, nodeId: this.conn?.node ?? null });
      this.setStatus('frozen');
      this.churnTimer = setTimeout(() => this.comeBack(), between(this.rng, 25_000, 45_000));
    }
  }

  private comeBack(): void {
    if (ending) return;
    const now = Date.now();
    write({ ev: 'return', u: this.spec.userId, t: now, kind: this.kind });
    if (this.kind !== 'quit') send({ type: 'back', userId: this.spec.userId, at: now });
    this.setStatus(this.conn ? 'connected' : 'connecting');
    if (this.kind === 'freeze') this.timers.thaw();
    else {
      if (!this.client) this.client = this.newClient();
      this.attempts = 0;
      void this.client.connect().catch(() => {});
    }
    this.scheduleChurn(now + between(this.rng, 30_000, 90_000));
  }

  end(): void {
    if (this.churnTimer) clearTimeout(this.churnTimer);
  }

  finish(): void {
    this.endConn(null, null, null, null);
  }
}

process.on('message', async (message: ToWorker) => {
  if (message.type === 'init') {
    init = message;
    out = createWriteStream(init.outFile, { flags: 'a' });
    for (const port of init.nodePorts) proxies.push(await ChaosProxy.start(() => ({ host: '127.0.0.1', port })));
    for (const spec of init.bots) bots.push(new Bot(spec));
    const step = init.rampMs / Math.max(1, bots.length);
    for (const [i, bot] of bots.entries()) setTimeout(() => bot.start(), i * step);
    const readyTimer = setInterval(() => {
      const connected = bots.filter((b) => b.everConnected).length;
      if (connected === bots.length) {
        clearInterval(readyTimer);
        send({ type: 'ready', connected });
      }
    }, 200);
  } else if (message.type === 'go') {
    go = message;
    for (const bot of bots) bot.go();
  } else if (message.type === 'end') {
    ending = true;
    for (const bot of bots) bot.end();
    send({ type: 'state', bots: bots.map((b) => ({ userId: b.spec.userId, status: b.status, since: b.since })) });
  } else if (message.type === 'finish') {
    for (const bot of bots) bot.finish();
    out.end(() => {
      send({ type: 'done' });
      for (const proxy of proxies) void proxy.close();
      setTimeout(() => process.exit(0), 200);
    });
  }
});
