/**
 * What users pick instead: Socket.IO 4 with the Redis adapter, WebSocket transport only. Same
 * behaviour as the raw server: `message` events carry the same JSON frames (a ping is answered
 * with a pong echoing `ts`), an application liveness map swept once a second, every socket
 * joins a room named after its userId (the documented way to address a user across nodes), and
 * rooms / broadcasts go through the adapter, hence through Redis when there are several nodes.
 *
 * Started by the benchmark: PORT, HOST, NODE_ID, ADMIN_TOKEN, REDIS_URL, REDIS_KEY_PREFIX.
 */
import { createServer } from 'node:http';
import { Server, type Socket } from 'socket.io';
import { createAdapter } from '@socket.io/redis-adapter';
import { Redis } from 'ioredis';
import { env, exitWithParent, httpHandler, USER_ID_RE, type Frame } from './common.ts';

exitWithParent();

if (!env.redisUrl) {
  process.stderr.write('socketio bench server: REDIS_URL is required (Redis adapter)\n');
  process.exit(1);
}

/** The liveness map. */
const live = new Map<Socket, number>();
let nextId = 0;

const server = createServer(
  httpHandler((content) => {
    io.emit('message', { type: 'broadcast', content, ts: Date.now() });
    return live.size;
  }),
);
const io = new Server(server, {
  transports: ['websocket'],
  serveClient: false,
  maxHttpBufferSize: 512 * 1024,
  perMessageDeflate: false,
});
const pub = new Redis(env.redisUrl);
const sub = pub.duplicate();
io.adapter(createAdapter(pub, sub, { key: `${env.redisPrefix}socket.io` }));

io.on('connection', (socket) => {
  const raw = socket.handshake.query.userId;
  const userId = typeof raw === 'string' ? raw : '';
  if (!USER_ID_RE.test(userId)) {
    socket.disconnect(true);
    return;
  }
  live.set(socket, Date.now());
  void socket.join(userId);
  socket.send({ type: 'connected', userId, nodeId: env.nodeId, serverTime: Date.now() });

  socket.on('message', (f: Frame) => {
    const now = Date.now();
    live.set(socket, now);
    if (f === null || typeof f !== 'object') return;
    switch (f.type) {
      case 'ping':
        socket.send({ type: 'pong', ts: f.ts, serverTime: now });
        return;
      case 'message':
        if (typeof f.to !== 'string') return;
        io.to(f.to).emit('message', { type: 'message', from: userId, content: f.content, id: `m${++nextId}`, ts: now });
        socket.send({ type: 'ack', id: f.id, status: 'delivered' });
        return;
      case 'join':
        if (typeof f.room !== 'string') return;
        void socket.join(`room:${f.room}`);
        socket.send({ type: 'joined', room: f.room });
        return;
      case 'room':
        if (typeof f.room !== 'string' || !socket.rooms.has(`room:${f.room}`)) return;
        socket.to(`room:${f.room}`).emit('message', { type: 'room', room: f.room, from: userId, content: f.content, id: `m${++nextId}`, ts: now });
        socket.send({ type: 'ack', id: f.id, status: 'delivered' });
        return;
    }
  });
  socket.on('disconnect', () => live.delete(socket));
});

/** The watchdog: one sweep per second over the liveness map. */
setInterval(() => {
  const deadline = Date.now() - env.heartbeatTimeoutMs;
  for (const [socket, lastSeen] of live) if (lastSeen < deadline) socket.disconnect(true);
}, 1000);

server.listen(env.port, env.host);
