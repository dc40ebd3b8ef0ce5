/**
 * WebSocket clients of the tests, on top of the client SDK (src/client):
 * - `TestClient`: one connection, no automatic pings, acks or reconnects, so protocol tests see
 *   exactly what the server sends. Every frame is kept in order (`frames`, consumed by `next`);
 *   raw text, binary frames and the `ws` socket itself (`socket`: pause the TCP, terminate) stay
 *   reachable for tests of malformed input and misbehaving clients.
 * - `ReconnectingClient`: the SDK as a game uses it (ping loop, backoff with jitter, stop codes),
 *   trying the given URLs in turn: how a game client behaves when its node dies.
 */
import type { Socket } from 'node:net';
import WebSocket from 'ws';
import { GatehouseClient, type WebSocketConstructor } from '../../src/client/index.ts';

export type Frame = { type: string; [key: string]: unknown };

export interface Closed {
  code: number;
  reason: string;
}

export class HandshakeRefused extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
    readonly headers: Record<string, string | string[] | undefined>,
  ) {
    super(`handshake refused with HTTP ${status}`);
  }
}

interface ConnectOptions {
  headers?: Record<string, string>;
  autoPong?: boolean;
}

/**
 * A `ws` WebSocket class for the SDK that passes test-only options (headers, autoPong) and
 * reports what the SDK cannot know: a refused handshake's status, body and headers, and the
 * underlying connection error.
 */
function testSocketClass(options: ConnectOptions, report: { refused?: HandshakeRefused; error?: Error }): WebSocketConstructor {
  return class TestSocket extends WebSocket {
    constructor(url: string) {
      try {
        super(url, { headers: options.headers, autoPong: options.autoPong ?? true });
      } catch (error) {
        report.error = error as Error;
        throw error;
      }
      this.once('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => {
          report.refused = new HandshakeRefused(res.statusCode ?? 0, body, res.headers);
          this.terminate(); // the SDK sees the failed attempt and stops (reconnect: false)
        });
      });
      this.on('error', (error) => (report.error ??= error));
    }
  };
}

/** The client's TCP socket under ws: tests pause it to play a client that stops reading. */
export const tcpOf = (client: TestClient): Socket => (client.socket as unknown as { _socket: Socket })._socket;

export class TestClient {
  readonly frames: Frame[] = [];
  readonly closed: Promise<Closed>;
  /** How the connection closed, once it did (`closed`, readable without awaiting). */
  closedWith: Closed | undefined;
  private waiters: Array<{ match: (f: Frame) => boolean; resolve: (f: Frame) => void }> = [];
  private pingTimer: NodeJS.Timeout | undefined;
  private pingSeq = 0;

  /** A view of the SDK's current connection: its frames until it closes. */
  private constructor(
    /** The SDK client carrying this connection. */
    readonly sdk: GatehouseClient,
    readonly socket: WebSocket,
  ) {
    const offFrame = sdk.on('frame', (frame) => {
      this.frames.push(frame as Frame);
      this.waiters = this.waiters.filter((w) => {
        if (!w.match(frame as Frame)) return true;
        w.resolve(frame as Frame);
        return false;
      });
    });
    this.closed = new Promise((resolve) => {
      const offClose = sdk.on('close', (info) => {
        offClose();
        offFrame();
        this.stopPing();
        this.closedWith = { code: info.code, reason: info.reason };
        resolve(this.closedWith);
      });
    });
  }

  /** Attaches a view to the connection an SDK client just opened (call from its `open` event). */
  static attach(sdk: GatehouseClient): TestClient {
    return new TestClient(sdk, sdk.rawSocket as WebSocket);
  }

  /** Opens a connection; rejects with HandshakeRefused when the server answers plain HTTP. */
  static connect(url: string, options: ConnectOptions = {}): Promise<TestClient> {
    const report: { refused?: HandshakeRefused; error?: Error } = {};
    const sdk = new GatehouseClient({
      url,
      WebSocket: testSocketClass(options, report),
      reconnect: false,
      pingIntervalMs: 0,
      autoAck: false,
      // Protocol tests send `received` and fetch history themselves.
      acknowledgeStored: false,
      fillGaps: false,
    });
    return new Promise((resolve, reject) => {
      sdk.once('open', () => resolve(TestClient.attach(sdk)));
      // Before `open` this rejects the promise; after, it is moot (the view reports the close).
      sdk.connect().catch((error: unknown) => reject(report.refused ?? report.error ?? error));
    });
  }

  /** Connects and waits for the `connected` frame. */
  static async open(url: string, options?: ConnectOptions): Promise<{ client: TestClient; connected: Frame }> {
    const client = await TestClient.connect(url, options);
    const connected = await client.next('connected');
    return { client, connected };
  }

  /** Sends a frame object as JSON, or a string as is (malformed input included). */
  send(frame: object | string): void {
    this.sdk.send(frame as Parameters<GatehouseClient['send']>[0]);
  }

  sendBinary(data: Buffer): void {
    this.socket.send(data, { binary: true });
  }

  /** The next frame (already received or future) of `type` matching `where`. */
  next(type: string, timeoutMs = 5000, where: (f: Frame) => boolean = () => true): Promise<Frame> {
    const match = (f: Frame) => f.type === type && where(f);
    const seen = this.frames.find(match);
    if (seen) {
      this.frames.splice(this.frames.indexOf(seen), 1);
      return Promise.resolve(seen);
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.resolve !== done);
        reject(new Error(`no ${type} frame within ${timeoutMs} ms`));
      }, timeoutMs);
      const done = (f: Frame) => {
        clearTimeout(timer);
        this.frames.splice(this.frames.indexOf(f), 1);
        resolve(f);
      };
      this.waiters.push({ match, resolve: done });
    });
  }

  /** Sends a ping and waits for its pong (the pong frame, consumed from `frames`). */
  async ping(timeoutMs = 5000): Promise<Frame> {
    const ts = ++this.pingSeq;
    this.send({ type: 'ping', ts });
    return this.next('pong', timeoutMs, (f) => f.ts === ts);
  }

  /** Pings every `intervalMs` (pongs land in `frames`). */
  startPing(intervalMs: number): void {
    this.stopPing();
    this.pingTimer = setInterval(() => {
      if (this.socket.readyState === WebSocket.OPEN) this.send({ type: 'ping', ts: Date.now() });
    }, intervalMs);
  }

  stopPing(): void {
    if (this.pingTimer) clearInterval(this.pingTimer);
    this.pingTimer = undefined;
  }

  close(code = 1000): Promise<Closed> {
    this.stopPing();
    if (this.socket.readyState === WebSocket.OPEN || this.socket.readyState === WebSocket.CONNECTING) void this.sdk.close(code, '');
    return this.closed;
  }

  /** Kills the TCP connection without a close frame (a vanished client). */
  terminate(): Promise<Closed> {
    this.stopPing();
    this.socket.terminate();
    return this.closed;
  }
}

/**
 * The SDK reconnecting through the given URLs in turn (not after 1000, 1008, 1009, 4001, 4002),
 * pinging every `pingMs`, with backoff delays of random(0, backoffMs).
 */
export class ReconnectingClient {
  /** The current (or last) connection. */
  current: TestClient | undefined;
  /** Every `connected` frame received, in order (one per successful connection). */
  readonly connections: Frame[] = [];
  /** The close of every connection that opened (failed attempts are not listed). */
  readonly closes: Closed[] = [];
  readonly sdk: GatehouseClient;

  constructor(urls: string[], options: { pingMs: number; backoffMs: number }) {
    // URL order: the first connection uses urls[0]; after connection i closes, attempts go to
    // i + 1 + k, where k counts every reconnect attempt of this client (never reset).
    let current = 0;
    let base = 0;
    let attempts = -1;
    this.sdk = new GatehouseClient({
      url: () => {
        current = attempts < 0 ? 0 : base + attempts;
        attempts++;
        return urls[current % urls.length]!;
      },
      WebSocket,
      pingIntervalMs: options.pingMs,
      reconnect: { initialDelayMs: options.backoffMs, maxDelayMs: options.backoffMs, factor: 1 },
    });
    this.sdk.on('open', () => {
      const view = TestClient.attach(this.sdk);
      this.current = view;
      void view.closed.then((closed) => this.closes.push(closed));
    });
    this.sdk.on('connected', (frame) => {
      base = current + 1;
      this.connections.push(frame);
    });
  }

  /** Resolves at the first `connected` (retrying the URLs until one answers). */
  async start(): Promise<void> {
    await this.sdk.connect();
  }

  /** Stops reconnecting and drops the connection without a close handshake. */
  stop(): void {
    const socket = this.sdk.rawSocket as WebSocket | undefined;
    void this.sdk.close();
    socket?.terminate();
  }
}
