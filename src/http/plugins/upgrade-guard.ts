/**
 * WebSocket upgrades only at /ws. @fastify/websocket (11.3) upgrades an upgrade request on any
 * GET route that has no WebSocket handler, closes the socket at once and logs an info line with
 * the full URL, so an anonymous client could open sockets on /health/live and write 15 KB of
 * log per request through its query string. Refused here instead, as a coded 404 before any
 * route runs (logged like every refusal: path only, once per address per window).
 */
import fp from 'fastify-plugin';
import { GatewayErrors } from '../../errors.ts';

/** The one WebSocket route (src/http/routes/ws.ts). */
export const WS_PATH = '/ws';

export default fp(
  async (app) => {
    app.addHook('onRequest', async (request, reply) => {
      if (request.headers.upgrade === undefined || request.routeOptions.url === WS_PATH) return;
      // Node's HTTP server let go of an upgrade request's socket: once the answer is out, nobody
      // else would close it (the plugin does so for /ws only, in a hook this refusal skips).
      // Ended, then destroyed once flushed: destroying at once could drop the answer.
      const socket = request.raw.socket;
      reply.header('connection', 'close');
      reply.raw.once('finish', () => {
        socket.once('finish', () => socket.destroy());
        socket.end();
      });
      throw new GatewayErrors.NotFound(`no WebSocket endpoint here: connect to ${WS_PATH}`);
    });
  },
  { name: 'upgrade-guard' },
);
