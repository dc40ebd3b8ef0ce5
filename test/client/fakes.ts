/**
 * Deterministic stand-ins for the SDK's unit tests: a scripted WebSocket (the test plays the
 * server) and manual timers.
 */
import { GatehouseClient, type GatehouseClientOptions, type Timers, type WebSocketLike } from '../../src/client/index.ts';

type Listener = (event: Record<string, unknown>) => void;

/** A WebSocket whose server side is driven by the test. Every instance is kept in `sockets`. */
export class FakeSocket implements WebSocketLike {
  static sockets: FakeSocket[] = [];
  readyState = 0;
  readonly sent: string[] = [];
  closedWith: { code?: number; reason?: string } | undefined;
  private readonly listeners = new Map<string, Listener[]>();

  constructor(readonly url: string) {
    FakeSocket.sockets.push(this);
  }

  static reset(): void {
    FakeSocket.sockets = [];
  }

  static last(): FakeSocket {
    const socket = FakeSocket.sockets.at(-1);
    if (!socket) throw new Error('no socket was opened');
    return socket;
  }

  addEventListener(type: string, listener: Listener): void {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), listener]);
  }

  private fire(type: string, event: Record<string, unknown> = {}): void {
    for (const listener of this.listeners.get(type) ?? []) listener(event);
  }

  send(data: string): void {
    if (this.readyState !== 1) throw new Error('not open');
    this.sent.push(data);
  }

  /** Frames the client sent, parsed. */
  frames(): Array<Record<string, unknown>> {
    return this.sent.map((s) => JSON.parse(s) as Record<string, unknown>);
  }

  close(code?: number, reason?: string): void {
    this.closedWith = { code, reason };
    if (this.readyState >= 2) return;
    this.readyState = 2;
    // The server echoes the close frame.
    queueMicrotask(() => this.serverClose(code ?? 1005, reason ?? ''));
  }

  // ---- the test plays the server -------------------------------------------------------------

  open(): void {
    this.readyState = 1;
    this.fire('open');
  }

  receive(frame: object | string): void {
    this.fire('message', { data: typeof frame === 'string' ? frame : JSON.stringify(frame) });
  }

  /** Opens and sends the `connected` frame. */
  accept(userId = 'alice', heartbeat = { intervalMs: 1000, timeoutMs: 10_000 }): void {
    this.open();
    this.receive({ type: 'connected', sessionId: `s-${FakeSocket.sockets.length}`, userId, nodeId: 'n1', heartbeat, serverTime: 1 });
  }

  serverClose(code: number, reason = ''): void {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.fire('close', { code, reason });
  }

  /** A failed connection attempt (refused, or a refused handshake with `status`, as `ws` reports it). */
  fail(status?: number): void {
    this.fire('error', { message: status === undefined ? 'connect ECONNREFUSED' : `Unexpected server response: ${status}` });
    this.serverClose(1006);
  }
}

/** Manual timers: nothing runs until `advance`. */
export class FakeTimers implements Timers {
  now = 0;
  private seq = 0;
  private readonly timers = new Map<number, { at: number; ms: number; callback: () => void }>();

  setTimeout = (callback: () => void, ms: number): unknown => {
    const id = ++this.seq;
    this.timers.set(id, { at: this.now + ms, ms, callback });
    return id;
  };

  clearTimeout = (handle: unknown): void => {
    this.timers.delete(handle as number);
  };

  /** Delays of the pending timers, in creation order. */
  pending(): number[] {
    return [...this.timers.values()].map((t) => t.ms);
  }

  /** Runs every timer due within `ms`, in time order (timers added meanwhile included). */
  advance(ms: number): void {
    const end = this.now + ms;
    for (;;) {
      let next: [number, { at: number; callback: () => void }] | undefined;
      for (const entry of this.timers) if (entry[1].at <= end && (!next || entry[1].at < next[1].at)) next = entry;
      if (!next) break;
      this.timers.delete(next[0]);
      this.now = next[1].at;
      next[1].callback();
    }
    this.now = end;
  }
}

/** Lets queued microtasks (and the SDK's async URL building) run. */
export const flush = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await Promise.resolve();
};

/** A client's options for user alice on FakeSocket and `timers`. */
export const fakeClientOptions = (timers: FakeTimers) => ({ url: 'ws://game.test/ws', userId: 'alice', WebSocket: FakeSocket, timers, now: () => timers.now });

/**
 * A client on FakeSocket and `timers` as user alice (no ping loop unless `options` set one,
 * reconnect after 10 ms), connected and accepted; the socket's `sent` emptied.
 */
export async function connectedFakeClient(
  options: Partial<GatehouseClientOptions> = {},
): Promise<{ client: GatehouseClient; timers: FakeTimers; socket: FakeSocket }> {
  FakeSocket.reset();
  const timers = new FakeTimers();
  const client = new GatehouseClient({
    ...fakeClientOptions(timers),
    pingIntervalMs: 0,
    reconnect: { initialDelayMs: 10, maxDelayMs: 10 },
    ...options,
  });
  const ready = client.connect();
  await flush();
  FakeSocket.last().accept();
  await ready;
  const socket = FakeSocket.last();
  socket.sent.length = 0;
  return { client, timers, socket };
}

/** The server drops the connection; a client of connectedFakeClient reconnects (delay 10 ms) and is accepted. */
export async function reconnectFake(timers: FakeTimers): Promise<FakeSocket> {
  FakeSocket.last().serverClose(1001, 'going away');
  timers.advance(10);
  await flush();
  const socket = FakeSocket.last();
  socket.accept();
  socket.sent.length = 0;
  return socket;
}
