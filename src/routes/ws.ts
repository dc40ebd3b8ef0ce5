/**
 * GET /ws: the WebSocket endpoint. Every check runs in preValidation, before the upgrade, so a
 * refused handshake is a plain HTTP answer (400/401/503) and no socket is ever opened.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { FastifyInstance, FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import type { Identity } from '../core/gateway.ts';
import { GatewayErrors, RETRY_AFTER_SECONDS, type ErrorBody } from '../errors.ts';

const identities = new WeakMap<FastifyRequest, Identity>();

/**
 * @fastify/websocket (11.3) keeps the upgrade's Fastify request and reply, with the raw
 * IncomingMessage, the stand-in ServerResponse it routes with and a child logger, reachable for
 * the whole life of the connection: its 'error' listener closes over them, and the TCP socket
 * still points at the ServerResponse. That is several KB per connection that nothing needs after
 * the upgrade (bench/heap-profile.ts shows it). The route's own 'error' listener replaces the
 * plugin's (whose default only logs and terminates: ws destroys an erroring socket itself), and
 * the ServerResponse lets go of the socket.
 */
function releaseUpgradeRequest(socket: WebSocket, request: FastifyRequest): void {
  socket.removeAllListeners('error');
  const tcp = request.raw.socket as Socket & { _httpMessage?: ServerResponse | null };
  tcp._httpMessage?.detachSocket(tcp);
}

type UpgradeListener = (request: IncomingMessage, socket: Duplex, head: Buffer) => void;

/**
 * Upgrades that arrive while the node drains. Once `app.close()` began, Fastify answers every
 * request with a bare 503 before any hook runs (return503OnClosing), so the route's own refusal
 * never runs; on an upgrade socket nobody then closes the connection either (the hook of
 * @fastify/websocket that would is skipped), and a single reconnect attempt against a draining
 * node kept its HTTP server from closing until SHUTDOWN_TIMEOUT_MS (exit 1). So while the
 * gateway drains, upgrades are answered here, in front of @fastify/websocket's listener: the
 * coded 503 of PROTOCOL.md with Retry-After, and the socket closed once the answer is written.
 */
function refuseUpgradesWhileDraining(app: FastifyInstance): void {
  const server = app.server;
  const delegates = server.listeners('upgrade') as UpgradeListener[];
  server.removeAllListeners('upgrade');
  server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (!app.gateway.draining) {
      for (const listener of delegates) listener.call(server, request, socket, head);
      return;
    }
    const error = new GatewayErrors.Draining();
    const body: ErrorBody = { statusCode: 503, code: error.code, error: 'Service Unavailable', message: error.message };
    const text = JSON.stringify(body);
    socket.on('error', () => socket.destroy());
    socket.end(
      'HTTP/1.1 503 Service Unavailable\r\n' +
        'Content-Type: application/json; charset=utf-8\r\n' +
        `Content-Length: ${Buffer.byteLength(text)}\r\n` +
        `Retry-After: ${RETRY_AFTER_SECONDS}\r\n` +
        'Connection: close\r\n\r\n' +
        text,
      () => socket.destroy(),
    );
  });
}

const wsRoute: FastifyPluginAsync = async (app) => {
  const { gateway, metrics } = app;
  refuseUpgradesWhileDraining(app);
  app.get(
    '/ws',
    {
      websocket: true,
      preValidation: async (request) => {
        const refusal = gateway.admit();
        if (refusal === 'draining') throw new GatewayErrors.Draining();
        if (refusal === 'full') throw new GatewayErrors.Full();
        identities.set(request, app.identifyPlayer(request));
      },
    },
    (socket, request) => {
      releaseUpgradeRequest(socket, request);
      const identity = identities.get(request);
      if (!identity) {
        socket.terminate(); // unreachable: preValidation always ran
        return;
      }
      const session = gateway.open(socket, identity);
      socket.on('message', (data, isBinary) => {
        gateway.onFrame(session, isBinary ? '' : data.toString(), isBinary);
      });
      socket.on('pong', () => {
        // Answer to the watchdog's ping (stamped in session.wsPingSentAt): its round trip. An
        // unsolicited pong, or a second one, finds 0 and measures nothing.
        const sentAt = session.wsPingSentAt;
        if (sentAt !== 0) {
          session.wsPingSentAt = 0;
          metrics.pingRtt.observe((performance.now() - sentAt) / 1000);
        }
        gateway.onPong(session);
      });
      socket.on('error', () => {
        session.endReason ??= 'error';
      });
      socket.on('close', (code) => gateway.onClose(session, code));
    },
  );
};

export default wsRoute;
