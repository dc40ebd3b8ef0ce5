/**
 * A TCP proxy on 127.0.0.1 that limits each direction of every connection to `bytesPerSec`: a
 * slow player's link (a phone on a bad network) in front of one client's connection. Bytes wait
 * in the proxy while the budget is spent and the sending side is paused (TCP backpressure), so
 * the server sees a socket that drains at the link's rate, as it would on a real slow link.
 */
import net from 'node:net';

const TICK_MS = 10;
/** Bytes the proxy holds per direction before it pauses the sender. */
const HOLD_BYTES = 64 * 1024;

class Pipe {
  private readonly chunks: Buffer[] = [];
  private held = 0;
  private credit = 0;

  constructor(
    private readonly from: net.Socket,
    private readonly to: net.Socket,
    private readonly perMs: number,
  ) {
    from.on('data', (chunk: Buffer) => {
      this.chunks.push(chunk);
      this.held += chunk.length;
      if (this.held >= HOLD_BYTES) from.pause();
    });
    // What the sender wrote before closing still crosses the link, then the close follows.
    from.on('end', () => (this.ended = true));
    from.on('close', () => (this.ended = true));
  }

  private ended = false;

  /** Releases the budget of `elapsedMs` (unused budget is kept for two ticks at most: no bursts). */
  tick(elapsedMs: number): void {
    this.credit = Math.min(this.credit + this.perMs * elapsedMs, this.perMs * TICK_MS * 2);
    while (this.credit > 0 && this.chunks.length > 0) {
      const chunk = this.chunks[0]!;
      const n = Math.min(chunk.length, Math.floor(this.credit));
      if (n === 0) break;
      if (!this.to.destroyed) this.to.write(n === chunk.length ? chunk : chunk.subarray(0, n));
      if (n === chunk.length) this.chunks.shift();
      else this.chunks[0] = chunk.subarray(n);
      this.credit -= n;
      this.held -= n;
    }
    if (this.held < HOLD_BYTES && this.from.isPaused()) this.from.resume();
    if (this.ended && this.chunks.length === 0 && !this.to.writableEnded) this.to.end();
  }

  get done(): boolean {
    return this.ended && this.chunks.length === 0;
  }
}

export class ThrottledProxy {
  private readonly server: net.Server;
  private readonly pipes = new Set<Pipe>();
  private readonly sockets = new Set<net.Socket>();
  private readonly timer: NodeJS.Timeout;
  port = 0;

  private constructor(
    private readonly targetPort: number,
    bytesPerSec: number,
  ) {
    const perMs = bytesPerSec / 1000;
    this.server = net.createServer((client) => {
      const upstream = net.connect(this.targetPort, '127.0.0.1');
      client.setNoDelay(true);
      upstream.setNoDelay(true);
      const down = new Pipe(upstream, client, perMs);
      const up = new Pipe(client, upstream, perMs);
      this.pipes.add(down).add(up);
      this.sockets.add(client).add(upstream);
      const drop = () => {
        client.destroy();
        upstream.destroy();
        this.pipes.delete(down);
        this.pipes.delete(up);
        this.sockets.delete(client);
        this.sockets.delete(upstream);
      };
      // A reset kills both sides at once; a close waits until the bytes held for the other side
      // have crossed (each pipe ends its reader then), and both sockets are gone.
      client.on('error', drop);
      upstream.on('error', drop);
      const closed = () => {
        if (client.destroyed && upstream.destroyed) drop();
        else if (down.done && up.done) drop();
      };
      client.on('close', closed);
      upstream.on('close', closed);
    });
    let last = performance.now();
    this.timer = setInterval(() => {
      const now = performance.now();
      for (const pipe of this.pipes) pipe.tick(now - last);
      last = now;
    }, TICK_MS);
    this.timer.unref();
  }

  static async start(targetPort: number, bytesPerSec: number): Promise<ThrottledProxy> {
    const proxy = new ThrottledProxy(targetPort, bytesPerSec);
    await new Promise<void>((resolve) => proxy.server.listen(0, '127.0.0.1', resolve));
    proxy.port = (proxy.server.address() as net.AddressInfo).port;
    return proxy;
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    this.pipes.clear();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
