/**
 * `gatehouse token <userId>`: a player JWT signed with AUTH_JWT_SECRET (HS256), for trying the
 * gateway and for tests, carrying exactly what the gateway checks: `sub`, `iat`, `exp` (within
 * AUTH_JWT_MAX_LIFETIME_S), and `iss` / `aud` when the gateway is configured to demand them.
 * Tokens of an RS256/ES256 deployment come from the studio's auth service, which holds the
 * private key; the gateway never has it.
 */
import { SignJWT } from 'jose';
import type { Config } from '../config.ts';
import { USER_ID_RE } from '../protocol/ids.ts';

export interface MintRequest {
  userId: string;
  ttlSeconds: number;
  name?: string | undefined;
}

export class MintRefused extends Error {
  override name = 'MintRefused';
}

export async function mintPlayerToken(config: Config, request: MintRequest): Promise<string> {
  if (!config.AUTH_JWT_SECRET) {
    throw new MintRefused('AUTH_JWT_SECRET is not set: tokens of a public-key deployment are signed by your auth service');
  }
  if (!USER_ID_RE.test(request.userId)) throw new MintRefused(`"${request.userId}" is not a valid userId`);
  if (request.ttlSeconds > config.AUTH_JWT_MAX_LIFETIME_S) {
    throw new MintRefused(
      `--ttl ${request.ttlSeconds}s exceeds AUTH_JWT_MAX_LIFETIME_S (${config.AUTH_JWT_MAX_LIFETIME_S}s): the gateway would refuse the token`,
    );
  }
  const now = Math.floor(Date.now() / 1000);
  const jwt = new SignJWT(request.name ? { name: request.name } : {})
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(request.userId)
    .setIssuedAt(now)
    .setExpirationTime(now + request.ttlSeconds);
  if (config.AUTH_JWT_ISSUER) jwt.setIssuer(config.AUTH_JWT_ISSUER);
  if (config.AUTH_JWT_AUDIENCE) jwt.setAudience(config.AUTH_JWT_AUDIENCE);
  return jwt.sign(new TextEncoder().encode(config.AUTH_JWT_SECRET));
}
