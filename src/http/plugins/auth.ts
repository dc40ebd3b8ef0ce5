/**
 * Who is calling. Players: a JWT (HS256, `sub` = userId, optional `name`, `exp` checked) in
 * `?token=` or `Authorization: Bearer`, or — AUTH_MODE=none, development only — `?userId=`.
 * Admins: `Authorization: Bearer <ADMIN_TOKEN>`, compared in constant time.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import fp from 'fastify-plugin';
import fastifyJwt from '@fastify/jwt';
import type { FastifyRequest } from 'fastify';
import { GatewayErrors } from '../../errors.ts';
import type { Identity } from '../../gateway/gateway.ts';
import { USER_ID_RE } from '../../protocol/ids.ts';

export type Caller = { kind: 'admin' } | { kind: 'player'; identity: Identity };

declare module 'fastify' {
  interface FastifyInstance {
    /** The player of a WebSocket handshake; throws a coded 400/401. */
    identifyPlayer(request: FastifyRequest): Identity;
    /** An admin or a player (by token); throws a coded 401. */
    identifyCaller(request: FastifyRequest): Caller;
  }
}

function bearer(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (!header) return undefined;
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  return match?.[1];
}

function queryParam(request: FastifyRequest, name: string): string | undefined {
  const value = (request.query as Record<string, unknown> | undefined)?.[name];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** Hashing first makes the comparison constant-time whatever the lengths. */
function sameSecret(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

export default fp(
  async (app) => {
    const { config } = app;
    if (config.AUTH_JWT_SECRET) {
      await app.register(fastifyJwt, {
        secret: config.AUTH_JWT_SECRET,
        verify: { algorithms: ['HS256'] },
        sign: { algorithm: 'HS256' },
      });
    }
    if (config.AUTH_MODE === 'none') {
      app.log.warn('AUTH_MODE=none: players are trusted by ?userId= without a token (development only)');
    }

    function playerFromToken(token: string): Identity {
      let claims: { sub?: unknown; name?: unknown };
      try {
        claims = app.jwt.verify(token);
      } catch (error) {
        const text = (error as { code?: string }).code === 'FAST_JWT_EXPIRED' ? 'token expired' : 'invalid token';
        throw new GatewayErrors.Unauthorized(text);
      }
      if (typeof claims.sub !== 'string' || !USER_ID_RE.test(claims.sub)) throw new GatewayErrors.BadUserId();
      const username = typeof claims.name === 'string' && claims.name.length > 0 ? claims.name.slice(0, 64) : claims.sub;
      return { userId: claims.sub, username };
    }

    app.decorate('identifyPlayer', (request: FastifyRequest): Identity => {
      if (config.AUTH_MODE === 'none') {
        const userId = queryParam(request, 'userId');
        if (userId === undefined) throw new GatewayErrors.Unauthorized('userId query parameter required');
        if (!USER_ID_RE.test(userId)) throw new GatewayErrors.BadUserId();
        const name = queryParam(request, 'name');
        return { userId, username: name?.slice(0, 64) ?? userId };
      }
      const token = queryParam(request, 'token') ?? bearer(request);
      if (!token) throw new GatewayErrors.Unauthorized('token required');
      return playerFromToken(token);
    });

    app.decorate('identifyCaller', (request: FastifyRequest): Caller => {
      const token = bearer(request);
      if (!token) throw new GatewayErrors.Unauthorized('Authorization: Bearer token required');
      if (config.ADMIN_TOKEN && sameSecret(token, config.ADMIN_TOKEN)) return { kind: 'admin' };
      if (config.AUTH_JWT_SECRET) return { kind: 'player', identity: playerFromToken(token) };
      throw new GatewayErrors.Unauthorized('invalid token');
    });
  },
  { name: 'auth', dependencies: ['config'] },
);
