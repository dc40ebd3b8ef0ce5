/**
 * The load generator speaks Socket.IO through a minimal Engine.IO/Socket.IO v4 client (so every
 * server is driven by the same `ws` client code). This check proves that the reference server
 * answers the official `socket.io-client` the same way: connect over the websocket transport,
 * send a ping, get the pong with the echoed `ts`.
 */
import { io } from 'socket.io-client';
import { SERVERS } from '../lib/servers.ts';
import { deploy, type BenchContext } from './context.ts';

export async function checkOfficialSocketIoClient(ctx: BenchContext): Promise<string> {
  const deployment = await deploy(ctx, SERVERS.socketio, 1, { profileName: 'sio-check' });
  const server = deployment.servers[0]!;
  const socket = io(server.httpBase, { transports: ['websocket'], query: { userId: 'sio-check' }, reconnection: false, timeout: 10_000 });
  try {
    const ts = 12345.678;
    const pong = await new Promise<{ type?: string; ts?: number }>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no pong within 10 s')), 10_000);
      socket.on('connect_error', (error: Error) => {
        clearTimeout(timer);
        reject(error);
      });
      socket.on('message', (frame: { type?: string; ts?: number }) => {
        if (frame?.type !== 'pong') return;
        clearTimeout(timer);
        resolve(frame);
      });
      socket.on('connect', () => socket.send({ type: 'ping', ts }));
    });
    if (pong.ts !== ts) throw new Error(`pong echoed ts ${pong.ts}, expected ${ts}`);
    return `official socket.io-client ${SERVERS.socketio.label}: ping/pong ok over the websocket transport`;
  } finally {
    socket.close();
    await deployment.teardown();
  }
}
