/**
 * The platform limit: a bare `ws` server doing what a heartbeat gateway must do and nothing
 * more. A liveness map (socket -> last frame time) swept once a second closes sockets silent
 * for HEARTBEAT_TIMEOUT_MS; `ping` is answered with a pong echoing `ts`. For the other
 * scenarios it also routes direct messages by userId, keeps rooms as sets, and broadcasts with
 * a plain loop. With REDIS_URL, direct messages for users not on this node go to every other
 * node over one Redis pub/sub channel (the least a cluster can do).
 *
 * Started by the benchmark: PORT, HOST, NODE_ID, ADMIN_TOKEN, [REDIS_URL, REDIS_KEY_PREFIX].
 */
import { createServer } from 'node:http';
import { WebSocketServer, type WebSocket } from 'ws';
import { Redis } from 'ioredis';
import { env, exitWithParent, httpHandler, USER_ID_RE, type Frame } from './common.ts';

exitWithParent();

interface Conn {
  ws: WebSocket;
  userId: string;
  lastSeen: number;
  rooms: Set<string> | undefined;
}

/** The liveness map. */
const live = new Map<WebSocket, Conn>();
const users = new Map<string, Conn>();
const rooms = new Map<string, Set<Conn>>();
let nextId = 0;

const channel = `${env.redisPrefix}raw:dm`;
const pub = env.redisUrl ? new Redis(env.redisUrl) : undefined;
const sub = pub?.duplicate();
sub?.on('message', (_channel: string, text: string) => {
  const { origin, to, frame } = JSON.parse(text) as { origin: string; to: string; frame: string };
  if (origin === env.nodeId) return;
  users.get(to)?.ws.send(frame);
});
if (sub) await sub.subscribe(channel);

const server = createServer(
  httpHandler((content) => {
    const frame = JSON.stringify({ type: 'broadcast', content, ts: Date.now() });
    for (const ws of live.keys()) ws.send(frame);
    return live.size;
  }),
);
const wss = new WebSocketServer({ server, path: '/ws', maxPayload: 512 * 1024, perMessageDeflate: false });

wss.on('connection', (ws, req) => {
  const userId = new URL(req.url ?? '/', 'http://localhost').searchParams.get('userId') ?? '';
  if (!USER_ID_RE.test(userId)) {
    ws.close(1008, 'bad userId');
    return;
  }
  const conn: Conn = { ws, userId, lastSeen: Date.now(), rooms: undefined };
  live.set(ws, conn);
  users.get(userId)?.ws.close(4001, 'replaced');
  users.set(userId, conn);
  ws.send(JSON.stringify({ type: 'connected', userId, nodeId: env.nodeId, serverTime: Date.now() }));

  ws.on('message', (data, isBinary) => {
    const now = Date.now();
    conn.lastSeen = now;
    if (isBinary) return;
    let f: Frame;
    try {
      f = JSON.parse(data.toString()) as Frame;
    } catch {
      return;
    }
    if (f === null || typeof f !== 'object') return;
    switch (f.type) {
      case 'ping':
        ws.send(JSON.stringify({ type: 'pong', ts: f.ts, serverTime: now }));
        return;
      case 'message': {
        if (typeof f.to !== 'string') return;
        const frame = JSON.stringify({ type: 'message', from: userId, content: f.content, id: `m${++nextId}`, ts: now });
        const ack = JSON.stringify({ type: 'ack', id: f.id, status: 'delivered' });
        const target = users.get(f.to);
        if (target) {
          target.ws.send(frame);
          ws.send(ack);
        } else if (pub) {
          pub.publish(channel, JSON.stringify({ origin: env.nodeId, to: f.to, frame })).then(
            () => ws.send(ack),
            () => ws.send(JSON.stringify({ type: 'error', code: 'NOT_AVAILABLE', ref: f.id })),
          );
        } else {
          ws.send(JSON.stringify({ type: 'error', code: 'USER_OFFLINE', ref: f.id }));
        }
        return;
      }
      case 'join': {
        if (typeof f.room !== 'string') return;
        let members = rooms.get(f.room);
        if (!members) rooms.set(f.room, (members = new Set()));
        members.add(conn);
        (conn.rooms ??= new Set()).add(f.room);
        ws.send(JSON.stringify({ type: 'joined', room: f.room }));
        return;
      }
      case 'room': {
        if (typeof f.room !== 'string') return;
        const members = rooms.get(f.room);
        if (!members?.has(conn)) return;
        const frame = JSON.stringify({ type: 'room', room: f.room, from: userId, content: f.content, id: `m${++nextId}`, ts: now });
        for (const m of members) if (m !== conn) m.ws.send(frame);
        ws.send(JSON.stringify({ type: 'ack', id: f.id, status: 'delivered' }));
        return;
      }
    }
  });
  ws.on('close', () => {
    live.delete(ws);
    if (users.get(userId) === conn) users.delete(userId);
    for (const r of conn.rooms ?? []) rooms.get(r)?.delete(conn);
  });
  ws.on('error', () => {});
});

/** The watchdog: one sweep per second over the liveness map. */
setInterval(() => {
  const deadline = Date.now() - env.heartbeatTimeoutMs;
  for (const [ws, conn] of live) if (conn.lastSeen < deadline) ws.terminate();
}, 1000);

server.listen(env.port, env.host);
