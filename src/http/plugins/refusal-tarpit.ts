/**
 * Late answers to request heads the HTTP parser refuses (src/http/refusal-tarpit.ts says why).
 * `answerClientError` is Fastify's `clientErrorHandler` (a constructor option: app.ts passes it;
 * Fastify calls it with the instance as `this`): it answers as Fastify's default does (408 / 431 /
 * 400 with a JSON body, connection closed, nothing logged), the 431s and 400s after
 * HTTP_REFUSAL_DELAY_MS with the connection held unread. Connections still waiting at shutdown
 * are closed then.
 */
import type { Socket } from 'node:net';
import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import { RefusalTarpit } from '../refusal-tarpit.ts';
import { counterFrom, gaugeFrom } from '../../metrics/read-at-scrape.ts';

/** Connections waiting for their refusal at once, at most. */
const MAX_HELD = 1024;

declare module 'fastify' {
  interface FastifyInstance {
    refusalTarpit: RefusalTarpit<Socket>;
  }
}

const TIMEOUT = '{"error":"Request Timeout","message":"Client Timeout","statusCode":408}';
const TOO_LARGE = '{"error":"Request Header Fields Too Large","message":"Exceeded maximum allowed HTTP header size","statusCode":431}';
const BAD_REQUEST = '{"error":"Bad Request","message":"Client Error","statusCode":400}';

function answer(socket: Socket, status: 400 | 408 | 431, body: string): void {
  const reason = status === 431 ? 'Request Header Fields Too Large' : status === 408 ? 'Request Timeout' : 'Bad Request';
  // As Node and Fastify do: written when the socket still takes it, then closed at once.
  if (socket.writable) socket.write(`HTTP/1.1 ${status} ${reason}\r\nContent-Length: ${body.length}\r\nContent-Type: application/json\r\n\r\n${body}`);
  socket.destroy();
}

export function answerClientError(this: FastifyInstance, error: Error & { code?: string }, socket: Socket): void {
  // A reset connection is gone: nothing to answer (Fastify's default does the same).
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const tarpit = this.hasDecorator('refusalTarpit') ? this.refusalTarpit : undefined;
  // Already waiting for its answer: the parser refused more of its bytes, or its head timed out.
  if (tarpit?.isHeld(socket)) return;
  if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    answer(socket, 408, TIMEOUT);
    return;
  }
  const [status, body] = error.code === 'HPE_HEADER_OVERFLOW' ? ([431, TOO_LARGE] as const) : ([400, BAD_REQUEST] as const);
  if (!tarpit?.hold(socket)) {
    answer(socket, status, body);
    return;
  }
  // Held unread: whatever else the client sends stays in the kernel's buffers.
  socket.pause();
  const timer = setTimeout(() => answer(socket, status, body), this.config.HTTP_REFUSAL_DELAY_MS);
  socket.once('close', () => {
    clearTimeout(timer);
    tarpit.done(socket);
  });
}

export default fp(
  async (app) => {
    const tarpit = new RefusalTarpit<Socket>({ delayMs: app.config.HTTP_REFUSAL_DELAY_MS, maxHeld: MAX_HELD });
    app.decorate('refusalTarpit', tarpit);
    // Before the server closes: it would wait for them.
    app.addHook('preClose', async () => {
      for (const socket of tarpit.held()) socket.destroy();
    });
    const registry = app.metrics.registry;
    counterFrom(
      registry,
      'gatehouse_http_refusals_delayed_total',
      'Request heads refused by the HTTP parser (431 / 400) and answered HTTP_REFUSAL_DELAY_MS later',
      () => tarpit.delayed,
    );
    counterFrom(
      registry,
      'gatehouse_http_refusals_undelayed_total',
      'Request heads refused by the HTTP parser and answered at once because 1,024 refusals were already waiting',
      () => tarpit.answeredAtOnce,
    );
    gaugeFrom(registry, 'gatehouse_http_refusals_waiting', 'Connections waiting for their refusal right now', () => tarpit.size);
  },
  { name: 'refusal-tarpit', dependencies: ['config', 'metrics'] },
);
