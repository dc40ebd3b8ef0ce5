/**
 * A small typed WebSocket client for tests: connect, send, wait for a frame of a type, ping
 * loop, and the close code. Frames are kept in order so a test can assert on everything a
 * session received.
 */
import WebSocket from 'ws';

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

export class TestClient {
  readonly frames: Frame[] = [];
  readonly closed: Promise<Closed>;
  private waiters: Array<{ match: (f: Frame) => boolean; resolve: (f: Frame) => void }> = [];
  private pingTimer: NodeJS.Timeout | undefined;
  private pingSeq = 0;

  private constructor(readonly socket: WebSocket) {
    this.closed = new Promise((resolve) => {
      socket.on('close', (code, reason) => {
        this.stopPing();
        resolve({ code, reason: reason.toString() });
      });
    });
    socket.on('message', (data, isBinary) => {
      if (isBinary) return;
      const frame = JSON.parse(data.toString()) as Frame;
      this.frames.push(frame);
      this.waiters = this.waiters.filter((w) => {
        if (!w.match(frame)) return true;
        w.resolve(frame);
        return false;
      });
    });
    socket.on('error', () => {});
  }

  /** Opens a connection; rejects with HandshakeRefused when the server answers plain HTTP. */
  static connect(url: string, options: { headers?: Record<string, string>; autoPong?: boolean } = {}): Promise<TestClient> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url, { headers: options.headers, autoPong: options.autoPong ?? true });
      socket.once('open', () => resolve(new TestClient(socket)));
      socket.once('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => reject(new HandshakeRefused(res.statusCode ?? 0, body, res.headers)));
      });
      socket.once('error', reject);
    });
  }

  /** Connects and waits for the `connected` frame. */
  static async open(url: string, options?: { headers?: Record<string, string>; autoPong?: boolean }): Promise<{ client: TestClient; connected: Frame }> {
    const client = await TestClient.connect(url, options);
    const connected = await client.next('connected');
    return { client, connected };
  }

  send(frame: object | string): void {
    this.socket.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
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

  /** Sends a ping and waits for its pong. */
  async ping(timeoutMs = 5000): Promise<Frame> {
    const ts = ++this.pingSeq;
    this.send({ type: 'ping', ts });
    return this.next('pong', timeoutMs, (f) => f.ts === ts);
  }

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
    if (this.socket.readyState === WebSocket.OPEN || this.socket.readyState === WebSocket.CONNECTING) this.socket.close(code);
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
 * A client that pings and reconnects when the connection is lost (not after 1000, 4001, 4002),
 * trying the given URLs in turn: how a game client behaves when its node dies.
 */
export class ReconnectingClient {
  current: TestClient | undefined;
  /** Every `connected` frame received, in order (one per successful connection). */
  readonly connections: Frame[] = [];
  readonly closes: Closed[] = [];
  private stopped = false;
  private attempt = 0;

  constructor(
    private readonly urls: string[],
    private readonly options: { pingMs: number; backoffMs: number },
  ) {}

  async start(): Promise<void> {
    await this.connect(0);
  }

  private async connect(index: number): Promise<void> {
    const { client, connected } = await TestClient.open(this.urls[index % this.urls.length]!);
    this.current = client;
    this.connections.push(connected);
    client.startPing(this.options.pingMs);
    void client.closed.then((closed) => {
      this.closes.push(closed);
      if (this.stopped || [1000, 4001, 4002].includes(closed.code)) return;
      void this.reconnect(index + 1);
    });
  }

  private async reconnect(index: number): Promise<void> {
    while (!this.stopped) {
      await new Promise((resolve) => setTimeout(resolve, this.options.backoffMs));
      try {
        await this.connect(index + this.attempt++);
        return;
      } catch {
        // that node is down too: try the next one
      }
    }
  }

  stop(): void {
    this.stopped = true;
    this.current?.socket.terminate();
  }
}
