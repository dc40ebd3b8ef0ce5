/**
 * GET /ws: the WebSocket endpoint. Every check runs in preValidation, before the upgrade, so a
 * refused handshake is a plain HTTP answer (400/401/403/503) and no socket is ever opened.
 */
import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { RawData, WebSocket } from 'ws';
import type { Identity } from '../../gateway/gateway.ts';
import type { Session } from '../../connection/session.ts';
import { GatewayErrors } from '../../errors.ts';

/** What preValidation hands the route: who, and how to end the login's admission ticket. */
const admitted = new WeakMap<FastifyRequest, { identity: Identity; loginDone: () => void }>();

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

/**
 * The socket's session, kept on the socket: the listeners below are one set of functions for
 * every connection of the node, where closures built per connection would cost each a few
 * hundred bytes. ws calls a listener with the socket as `this`.
 */
const SESSION = Symbol('gatehouse.session');
type SocketWithSession = WebSocket & { [SESSION]: Session };
const sessionOf = (socket: WebSocket): Session => (socket as SocketWithSession)[SESSION];

const wsRoute: FastifyPluginAsync = async (app) => {
  const { gateway, metrics } = app;

  function onMessage(this: WebSocket, data: RawData, isBinary: boolean): void {
    // ws hands a text or binary message over as one Buffer (binaryType 'nodebuffer').
    gateway.onFrame(sessionOf(this), data as Buffer, isBinary);
  }
  function onPong(this: WebSocket): void {
    // Answer to the watchdog's ping (stamped in session.wsPingSentAt): its round trip. An
    // unsolicited pong, or a second one, finds 0 and measures nothing. Never liveness: `ws` and
    // browsers answer pings by themselves, even when the game loop that sends `ping` is frozen.
    const session = sessionOf(this);
    const sentAt = session.wsPingSentAt;
    if (sentAt !== 0) {
      session.wsPingSentAt = 0;
      metrics.pingRtt.observe((performance.now() - sentAt) / 1000);
    }
  }
  function onError(this: WebSocket): void {
    sessionOf(this).endReason ??= 'error';
  }
  function onClose(this: WebSocket, code: number): void {
    gateway.onClose(sessionOf(this), code);
  }

  function admitOrRefuse(): void {
    const refusal = gateway.admit();
    if (refusal === 'draining') throw new GatewayErrors.Draining();
    if (refusal === 'full') throw new GatewayErrors.Full();
  }

  app.get(
    '/ws',
    {
      websocket: true,
      preValidation: async (request, reply) => {
        // A refusal's socket is destroyed once answered (@fastify/websocket): say so, or an HTTP
        // client keeping connections alive would send its next request into a closed socket.
        reply.header('connection', 'close');
        // Cheapest first: a foreign browser page learns nothing else about the node.
        app.checkOrigin(request);
        admitOrRefuse();
        // Before any token work: a deferred handshake costs the node next to nothing.
        const ticket = gateway.admission.enter();
        if (!ticket) {
          reply.header('retry-after', String(gateway.admission.retryAfterS()));
          throw new GatewayErrors.Busy();
        }
        // A handshake abandoned before its login ends (client gone, upgrade failed) gives its
        // place back when its TCP socket closes; a login that ended gives it back itself.
        const tcp = request.raw.socket;
        const loginDone = () => {
          tcp.off('close', loginDone);
          ticket.release();
        };
        tcp.once('close', loginDone);
        try {
          const identity = await app.identifyPlayer(request);
          // Token verification is asynchronous: the node may have filled up or begun draining meanwhile.
          admitOrRefuse();
          admitted.set(request, { identity, loginDone });
        } catch (error) {
          loginDone();
          throw error;
        }
      },
    },
    (socket, request) => {
      releaseUpgradeRequest(socket, request);
      const entry = admitted.get(request);
      if (!entry) {
        socket.terminate(); // unreachable: preValidation always ran
        return;
      }
      (socket as SocketWithSession)[SESSION] = gateway.open(socket, entry.identity, entry.loginDone);
      socket.on('message', onMessage);
      socket.on('pong', onPong);
      socket.on('error', onError);
      socket.on('close', onClose);
    },
  );
};

export default wsRoute;
