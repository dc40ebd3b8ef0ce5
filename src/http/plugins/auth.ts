/**
 * Who is calling. Players: a JWT (`sub` = userId, optional `name`) in `?token=` or
 * `Authorization: Bearer`, verified by src/auth/player-tokens.ts (HS256, RS256, ES256; exp
 * required), or — AUTH_MODE=none, development only — `?userId=`. Admins:
 * `Authorization: Bearer <ADMIN_TOKEN>`, compared in constant time. Browsers: the handshake's
 * Origin against ALLOWED_ORIGINS (src/auth/allowed-origins.ts).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import fp from 'fastify-plugin';
import type { FastifyRequest } from 'fastify';
import { GatewayErrors } from '../../errors.ts';
import type { Identity } from '../../gateway/gateway.ts';
import { USER_ID_RE } from '../../protocol/ids.ts';
import { PlayerTokens, TokenRefused } from '../../auth/player-tokens.ts';
import { originPolicy } from '../../auth/allowed-origins.ts';

export type Caller = { kind: 'admin' } | { kind: 'player'; identity: Identity };

declare module 'fastify' {
  interface FastifyInstance {
    /** The player of a WebSocket handshake; throws a coded 400/401 (503 when the key set cannot be fetched). */
    identifyPlayer(request: FastifyRequest): Promise<Identity>;
    /** An admin or a player (by token); throws a coded 401. */
    identifyCaller(request: FastifyRequest): Promise<Caller>;
    /** Throws a coded 403 when the request's Origin may not open /ws. */
    checkOrigin(request: FastifyRequest): void;
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
    const tokens = await PlayerTokens.create({
      secret: config.AUTH_JWT_SECRET,
      publicKeyPem: config.AUTH_JWT_PUBLIC_KEY,
      jwksUrl: config.AUTH_JWT_JWKS_URL,
      jwksRefreshMs: config.AUTH_JWT_JWKS_REFRESH_S * 1000,
      jwksCooldownMs: config.AUTH_JWT_JWKS_COOLDOWN_S * 1000,
      issuer: config.AUTH_JWT_ISSUER,
      audience: config.AUTH_JWT_AUDIENCE,
      maxLifetimeS: config.AUTH_JWT_MAX_LIFETIME_S,
      clockToleranceS: config.AUTH_JWT_CLOCK_TOLERANCE_S,
      log: app.log,
    });
    const origins = originPolicy(config.ALLOWED_ORIGINS, config.NODE_ENV === 'production');
    if (config.AUTH_MODE === 'none') {
      app.log.warn('AUTH_MODE=none: players are trusted by ?userId= without a token (development only)');
    }
    if (origins.refusesEveryBrowser) {
      app.log.warn(
        'ALLOWED_ORIGINS is unset: browser handshakes (with an Origin header) are refused with 403; set ALLOWED_ORIGINS to the origins of the game pages',
      );
    }

    async function playerFromToken(token: string): Promise<Identity> {
      if (!tokens) throw new GatewayErrors.Unauthorized('invalid token');
      let claims: { sub?: unknown; name?: unknown };
      try {
        claims = await tokens.verify(token);
      } catch (error) {
        if (error instanceof TokenRefused && error.status === 503) throw new GatewayErrors.Unavailable(error.message);
        throw new GatewayErrors.Unauthorized(error instanceof TokenRefused ? error.message : 'invalid token');
      }
      if (typeof claims.sub !== 'string' || !USER_ID_RE.test(claims.sub)) throw new GatewayErrors.BadUserId();
      const username = typeof claims.name === 'string' && claims.name.length > 0 ? claims.name.slice(0, 64) : claims.sub;
      return { userId: claims.sub, username };
    }

    app.decorate('identifyPlayer', async (request: FastifyRequest): Promise<Identity> => {
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

    app.decorate('identifyCaller', async (request: FastifyRequest): Promise<Caller> => {
      const token = bearer(request);
      if (!token) throw new GatewayErrors.Unauthorized('Authorization: Bearer token required');
      if (config.ADMIN_TOKEN && sameSecret(token, config.ADMIN_TOKEN)) return { kind: 'admin' };
      if (tokens) return { kind: 'player', identity: await playerFromToken(token) };
      throw new GatewayErrors.Unauthorized('invalid token');
    });

    app.decorate('checkOrigin', (request: FastifyRequest): void => {
      const origin = request.headers.origin;
      if (!origins.allows(origin)) throw new GatewayErrors.OriginRefused();
    });
  },
  { name: 'auth', dependencies: ['config'] },
);
