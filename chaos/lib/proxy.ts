/**
 * A TCP proxy for the chaos run. Two faults need it:
 * - a lost network for one connection (`blackhole`): from then on nothing passes in either
 *   direction and the upstream side is never closed (no FIN, no RST, no data: the node sees a
 *   peer that is silent, exactly like a player whose Wi-Fi died);
 * - a node cut from Redis (`cut` / `restore`): every connection is destroyed and new ones are
 *   refused.
 * The target is asked for at every new connection (`target()`), so a proxy in front of Redis can
 * follow whatever Sentinel names as the primary; `dropAll` ends the current connections when the
 * primary moved (what a failover does to clients of the old primary).
 */
import net from 'node:net';

export interface Target {
  host: string;
  port: number;
}

interface Pair {
  down: net.Socket;
  up: net.Socket;
  holed: boolean;
}

export class ChaosProxy {
  private readonly server: net.Server;
  private readonly pairs = new Map<number, Pair>();
  /** Blackholed upstream sockets, kept open (and read, their data dropped) until close(). */
  private readonly holes = new Set<net.Socket>();
  private blocked = false;
  port = 0;

  constructor(private readonly target: () => Target | undefined) {
    this.server = net.createServer((down) => this.accept(down));
  }

  static async start(target: () => Target | undefined, port = 0): Promise<ChaosProxy> {
    const proxy = new ChaosProxy(target);
    await new Promise<void>((resolve, reject) => {
      proxy.server.once('error', reject);
      proxy.server.listen(port, '127.0.0.1', () => resolve());
    });
    proxy.port = (proxy.server.address() as net.AddressInfo).port;
    return proxy;
  }

  private accept(down: net.Socket): void {
    const target = this.target();
    if (this.blocked || !target) {
      down.destroy();
      return;
    }
    const up = net.connect(target.port, target.host);
    down.setNoDelay(true);
    up.setNoDelay(true);
    const key = down.remotePort ?? -1;
    const pair: Pair = { down, up, holed: false };
    this.pairs.set(key, pair);
    const drop = () => {
      if (this.pairs.get(key) === pair) this.pairs.delete(key);
      if (pair.holed) {
        down.destroy();
        return;
      }
      down.destroy();
      up.destroy();
    };
    down.on('error', drop).on('close', drop);
    up.on('error', drop).on('close', drop);
    down.pipe(up);
    up.pipe(down);
  }

  /**
   * The connection whose client side has local port `clientPort` goes silent for good: the
   * upstream socket stays open and its data is read and dropped; the client side is destroyed.
   */
  blackhole(clientPort: number): boolean {
    const pair = this.pairs.get(clientPort);
    if (!pair) return false;
    pair.holed = true;
    this.pairs.delete(clientPort);
    pair.down.unpipe(pair.up);
    pair.up.unpipe(pair.down);
    pair.up.removeAllListeners('data');
    pair.up.on('data', () => {});
    pair.up.on('error', () => {});
    pair.up.on('close', () => this.holes.delete(pair.up));
    this.holes.add(pair.up);
    pair.down.destroy();
    return true;
  }

  /** The outage: every connection dies, new ones are refused. */
  cut(): void {
    this.blocked = true;
    this.dropAll();
  }

  restore(): void {
    this.blocked = false;
  }

  /** Ends every current (not blackholed) connection; new ones are accepted as usual. */
  dropAll(): void {
    for (const pair of this.pairs.values()) {
      pair.down.destroy();
      pair.up.destroy();
    }
    this.pairs.clear();
  }

  get connections(): number {
    return this.pairs.size;
  }

  async close(): Promise<void> {
    this.cut();
    for (const hole of this.holes) hole.destroy();
    this.holes.clear();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
