/**
 * The client side of the wire protocol as the hostile benchmark speaks it: tokens, handshakes
 * whose refusal is any non-101 answer, and a client that counts what comes back generically (acks
 * by `status`, error frames by `code`, every frame by `type`), so the benchmark runs unchanged
 * whatever statuses and codes the gateway adds.
 */
import { createSigner } from 'fast-jwt';
import WebSocket from 'ws';

export interface NodeAddress {
  port: number;
  jwtSecret: string;
  adminToken: string;
}

const signers = new Map<string, (payload: Record<string, unknown>) => string>();

/** An HS256 player token for `sub`, valid for an hour (or with no `exp` at all). */
export function playerToken(secret: string, sub: string, withExp = true): string {
  const key = `${withExp}:${secret}`;
  let sign = signers.get(key);
  if (!sign) {
    sign = createSigner({ key: secret, algorithm: 'HS256', ...(withExp ? { expiresIn: 3_600_000 } : {}) }) as (p: Record<string, unknown>) => string;
    signers.set(key, sign);
  }
  return sign({ sub });
}

export const wsUrl = (port: number, token: string) => `ws://127.0.0.1:${port}/ws?token=${encodeURIComponent(token)}`;

export type Frame = Record<string, unknown> & { type?: unknown };

export type Handshake = { ok: true; ws: WebSocket; connected: Frame } | { ok: false; status: number; body: string };

/**
 * Opens a WebSocket and waits for the `connected` frame. Anything else than a 101 is a refusal
 * (status 0: no HTTP answer at all, e.g. the connection was reset).
 */
export function handshake(url: string, headers: Record<string, string> = {}, timeoutMs = 10_000): Promise<Handshake> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { headers, perMessageDeflate: false, handshakeTimeout: timeoutMs });
    let done = false;
    const finish = (h: Handshake) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve(h);
    };
    const timer = setTimeout(() => {
      ws.terminate();
      finish({ ok: false, status: 0, body: 'timeout' });
    }, timeoutMs);
    ws.on('unexpected-response', (req, res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => finish({ ok: false, status: res.statusCode ?? 0, body: body.slice(0, 300) }));
      res.on('error', () => finish({ ok: false, status: res.statusCode ?? 0, body }));
      req.on('error', () => {});
    });
    ws.on('error', (error) => finish({ ok: false, status: 0, body: error.message }));
    ws.once('message', (data) => {
      let frame: Frame;
      try {
        frame = JSON.parse(data.toString()) as Frame;
      } catch {
        frame = { type: 'unparsable' };
      }
      finish({ ok: true, ws, connected: frame });
    });
  });
}

const bump = (counts: Record<string, number>, key: string, n = 1) => {
  counts[key] = (counts[key] ?? 0) + n;
};

/** A connected client that counts every frame it gets back. */
export class CountingClient {
  readonly frames: Record<string, number> = {};
  readonly acks: Record<string, number> = {};
  /** Error frames by code. */
  readonly errors: Record<string, number> = {};
  /** Frames refused by code: an error frame's `count` when it has one (coalesced), else 1. */
  readonly refused: Record<string, number> = {};
  /** Acks by status, per client message id. */
  readonly ackById = new Map<string, string>();
  closeCode: number | undefined;
  closedAt: number | undefined;
  onFrame: ((frame: Frame) => void) | undefined;

  constructor(
    readonly ws: WebSocket,
    readonly userId: string,
  ) {
    ws.on('message', (data) => {
      let frame: Frame;
      try {
        frame = JSON.parse(data.toString()) as Frame;
      } catch {
        bump(this.frames, 'unparsable');
        return;
      }
      const type = String(frame.type);
      bump(this.frames, type);
      if (type === 'ack') {
        const status = String(frame.status);
        bump(this.acks, status);
        if (typeof frame.id === 'string') this.ackById.set(frame.id, status);
      } else if (type === 'error') {
        bump(this.errors, String(frame.code));
        // A coalesced refusal may say how many frames it stands for.
        bump(this.refused, String(frame.code), typeof frame.count === 'number' && frame.count > 0 ? frame.count : 1);
      }
      this.onFrame?.(frame);
    });
    ws.on('close', (code) => {
      this.closeCode = code;
      this.closedAt = Date.now();
    });
    ws.on('error', () => {});
  }

  get open(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  /** Sends a text frame (a Buffer too: prepared once, sent as text, never as a binary frame). */
  send(text: string | Buffer): boolean {
    if (!this.open) return false;
    this.ws.send(text, { binary: false });
    return true;
  }

  /** Pings once a second (a session that only sends now and then would time out meanwhile). */
  keepAlive(): void {
    const timer = setInterval(() => {
      if (!this.open) clearInterval(timer);
      else this.ws.send('{"type":"ping"}');
    }, 1000);
    this.ws.once('close', () => clearInterval(timer));
  }

  close(): void {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.terminate();
  }
}

/** Connects `userId` with a fresh token; throws on a refusal. */
export async function connect(node: NodeAddress, userId: string, via?: number): Promise<CountingClient> {
  const h = await handshake(wsUrl(via ?? node.port, playerToken(node.jwtSecret, userId)));
  if (!h.ok) throw new Error(`${userId} refused: HTTP ${h.status} ${h.body}`);
  return new CountingClient(h.ws, userId);
}

/** Sums counters of several clients. */
export function sumCounts(clients: CountingClient[], key: 'frames' | 'acks' | 'errors' | 'refused'): Record<string, number> {
  const out: Record<string, number> = {};
  for (const c of clients) for (const [k, n] of Object.entries(c[key])) bump(out, k, n);
  return out;
}

/** JSON text nested `depth` levels: [[[...]]] (with `inner` in the middle). */
export function nested(depth: number, inner = ''): string {
  return `${'['.repeat(depth)}${inner}${']'.repeat(depth)}`;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
