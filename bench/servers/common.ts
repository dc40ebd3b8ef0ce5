/**
 * What both reference servers share: env parsing, the HTTP side (GET /health/live and an admin
 * POST /api/broadcast like Gatehouse's), and exiting when the benchmark that started them is gone.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

export const env = {
  port: Number(process.env.PORT ?? 3000),
  host: process.env.HOST ?? '127.0.0.1',
  nodeId: process.env.NODE_ID ?? `bench-${process.pid}`,
  redisUrl: process.env.REDIS_URL,
  redisPrefix: process.env.REDIS_KEY_PREFIX ?? '',
  adminToken: process.env.ADMIN_TOKEN ?? '',
  heartbeatTimeoutMs: Number(process.env.HEARTBEAT_TIMEOUT_MS ?? 10_000),
};

/** Same userId rule as Gatehouse's handshake. */
export const USER_ID_RE = /^[A-Za-z0-9_.:-]{1,64}$/;

function readBody(req: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) reject(new Error('body too large'));
      else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString()));
    req.on('error', reject);
  });
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** The HTTP handler: liveness and the broadcast endpoint (`broadcast` returns sessions reached). */
export function httpHandler(broadcast: (content: unknown) => number) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    if (req.method === 'GET' && req.url === '/health/live') return reply(res, 200, { status: 'ok' });
    if (req.method === 'POST' && req.url === '/api/broadcast') {
      if (!env.adminToken || req.headers.authorization !== `Bearer ${env.adminToken}`) {
        return reply(res, 401, { statusCode: 401, error: 'Unauthorized' });
      }
      readBody(req, 1024 * 1024).then(
        (text) => {
          let body: { content?: unknown };
          try {
            body = JSON.parse(text) as { content?: unknown };
          } catch {
            return reply(res, 400, { statusCode: 400, error: 'Bad Request' });
          }
          reply(res, 200, { localSessions: broadcast(body.content) });
        },
        () => reply(res, 413, { statusCode: 413, error: 'Payload Too Large' }),
      );
      return;
    }
    reply(res, 404, { statusCode: 404, error: 'Not Found' });
  };
}

/** Exits when the process that started us is gone (so a killed benchmark leaves no server behind). */
export function exitWithParent(): void {
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) process.exit(0);
  }, 1000).unref();
  process.on('SIGTERM', () => process.exit(0));
  process.on('SIGINT', () => process.exit(0));
}

/** A parsed client frame: only the fields the servers use. */
export interface Frame {
  type?: unknown;
  ts?: unknown;
  to?: unknown;
  content?: unknown;
  id?: unknown;
  room?: unknown;
}
