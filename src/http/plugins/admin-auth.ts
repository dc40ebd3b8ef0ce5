/**
 * Authorization hooks of the REST API, so no route repeats the checks:
 * - `requireAdmin` (onRequest): `Authorization: Bearer <ADMIN_TOKEN>`; 401 without a valid
 *   token, 403 with a player token.
 * - `authenticate` (onRequest) + `requireAdminOrSelf(select)` (preHandler): the admin, or the
 *   player whose JWT `sub` is the userId the request acts on (403 otherwise).
 * Authentication runs in onRequest, before the body is parsed, so a caller without a valid
 * token learns nothing about the request schema (401 before any 400). The self check runs
 * after validation, when the userId in the body is known to be well-formed.
 */
import fp from 'fastify-plugin';
import type { FastifyRequest, onRequestAsyncHookHandler, preHandlerAsyncHookHandler } from 'fastify';
import { GatewayErrors } from '../../errors.ts';
import type { Caller } from './auth.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by `authenticate` / `requireAdmin`; null on routes without them. */
    caller: Caller | null;
  }
  interface FastifyInstance {
    /** onRequest hook: the admin token only (401 without a valid token, 403 for a player). */
    requireAdmin: onRequestAsyncHookHandler;
    /** onRequest hook: any valid admin or player token (401 otherwise); sets `request.caller`. */
    authenticate: onRequestAsyncHookHandler;
    /**
     * preHandler hook (after `authenticate`): the admin, or the player whose userId is
     * `select(request)`; 403 otherwise.
     */
    requireAdminOrSelf(select: (request: FastifyRequest) => string | undefined): preHandlerAsyncHookHandler;
  }
}

export default fp(
  async (app) => {
    app.decorateRequest('caller', null);

    app.decorate('authenticate', async function authenticate(request: FastifyRequest) {
      request.caller = await app.identifyCaller(request);
    });

    app.decorate('requireAdmin', async function requireAdmin(request: FastifyRequest) {
      const caller = await app.identifyCaller(request);
      request.caller = caller;
      if (caller.kind !== 'admin') throw new GatewayErrors.Forbidden('admin token required');
    });

    app.decorate('requireAdminOrSelf', (select: (request: FastifyRequest) => string | undefined) => {
      return async function requireAdminOrSelf(request: FastifyRequest) {
        const caller = request.caller ?? (await app.identifyCaller(request));
        request.caller = caller;
        if (caller.kind === 'admin') return;
        if (caller.identity.userId !== select(request)) {
          throw new GatewayErrors.Forbidden('a player token may only act on its own userId');
        }
      };
    });
  },
  { name: 'admin-auth', dependencies: ['auth'] },
);
