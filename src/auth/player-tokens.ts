/**
 * Player tokens: JWTs signed by the studio's auth service, verified with jose.
 * Key sources, any of them together:
 * - AUTH_JWT_SECRET: HS256;
 * - AUTH_JWT_PUBLIC_KEY: one PEM public key, RS256 (RSA) or ES256 (EC P-256);
 * - AUTH_JWT_JWKS_URL: the auth service's key set, keys chosen by the token's `kid`, refetched
 *   every AUTH_JWT_JWKS_REFRESH_S and when a token names a kid the set lacks (at most once per
 *   AUTH_JWT_JWKS_COOLDOWN_S, so made-up kids cannot hammer the auth service); first fetched at
 *   startup. While the auth service cannot be reached the last fetched set stays in use.
 * Claims: `exp` required; `nbf` and `iat` honoured (with AUTH_JWT_CLOCK_TOLERANCE_S); lifetime
 * (exp - iat, or exp - now without iat) at most AUTH_JWT_MAX_LIFETIME_S; iss / aud when
 * configured. A refusal is a TokenRefused with a short message a client may see.
 */
import { createLocalJWKSet, createRemoteJWKSet, errors, type FlattenedJWSInput, importSPKI, type JWSHeaderParameters, type JWTPayload, jwtVerify } from 'jose';
import type { CoreLogger } from '../core-logger.ts';

export interface PlayerTokenSettings {
  secret?: string | undefined;
  publicKeyPem?: string | undefined;
  jwksUrl?: string | undefined;
  jwksRefreshMs: number;
  jwksCooldownMs: number;
  issuer?: string | undefined;
  audience?: string | undefined;
  maxLifetimeS: number;
  clockToleranceS: number;
  log: CoreLogger;
}

/** Tokens longer than this are not parsed at all: no real player token comes close. */
export const MAX_TOKEN_CHARS = 8192;

/** Why a token was refused: 401 (the token) or 503 (the auth service's keys cannot be fetched). */
export class TokenRefused extends Error {
  override name = 'TokenRefused';
  constructor(
    message: string,
    readonly status: 401 | 503 = 401,
  ) {
    super(message);
  }
}

type VerifyKey = CryptoKey | Uint8Array;
type KeyResolver = (header: JWSHeaderParameters, token: FlattenedJWSInput) => Promise<VerifyKey>;

/** The algorithm a PEM public key signs with: the key type decides, never the token. */
async function importPublicKey(pem: string): Promise<{ alg: 'RS256' | 'ES256'; key: CryptoKey }> {
  try {
    return { alg: 'RS256', key: await importSPKI(pem, 'RS256') };
  } catch {
    return { alg: 'ES256', key: await importSPKI(pem, 'ES256') };
  }
}

/** Fetch failures of the key set (as opposed to a token the set does not verify). */
function isFetchFailure(error: unknown): boolean {
  if (!(error instanceof errors.JOSEError)) return true; // fetch itself: refused, DNS, TLS
  return error instanceof errors.JWKSTimeout || error instanceof errors.JWKSInvalid || error.code === 'ERR_JOSE_GENERIC';
}

/**
 * jose's remote key set, plus: the last fetched set keeps verifying while a refresh fails (an
 * auth-service outage must not lock every player out once the cache is old), and after a
 * failed fetch the next attempt waits for the cooldown (no fetch per handshake).
 */
function remoteKeys(url: string, settings: PlayerTokenSettings): KeyResolver {
  const remote = createRemoteJWKSet(new URL(url), { cacheMaxAge: settings.jwksRefreshMs, cooldownDuration: settings.jwksCooldownMs, timeoutDuration: 5000 });
  let lastSet: ReturnType<typeof createLocalJWKSet> | null = null;
  let failedAt = Number.NEGATIVE_INFINITY;
  /** A copy of the set just fetched (jose hands out copies only: taken once per fetch). */
  const remember = () => {
    const jwks = remote.jwks();
    if (jwks) lastSet = createLocalJWKSet(jwks);
  };
  const failed = (error: unknown) => {
    failedAt = Date.now();
    settings.log.warn({ url, err: (error as Error).message }, 'player token key set fetch failed');
  };
  const coolingDown = () => Date.now() - failedAt < settings.jwksCooldownMs;
  // Fetched at startup, so the first handshake does not wait for it (nor fails alone if it fails).
  remote.reload().then(remember, failed);

  return async (header, token) => {
    if (lastSet && (!remote.fresh || coolingDown())) {
      // Stale (or the auth service just failed): verify with what we have, refresh behind.
      if (!remote.reloading && !coolingDown()) remote.reload().then(remember, failed);
      return (await lastSet(header, token)) as VerifyKey;
    }
    if (!lastSet && coolingDown()) throw new TokenRefused('player token keys unavailable, try again later', 503);
    // Only a fetch turns `fresh` or `coolingDown` on (time only turns them off): that tells
    // whether this call fetched a new set.
    const fresh = remote.fresh;
    const cooling = remote.coolingDown;
    const fetched = () => (!fresh && remote.fresh) || (!cooling && remote.coolingDown);
    try {
      const key = (await remote(header, token)) as VerifyKey;
      if (fetched()) remember();
      return key;
    } catch (error) {
      if (!isFetchFailure(error)) {
        if (fetched()) remember();
        throw error;
      }
      failed(error);
      if (lastSet) return (await lastSet(header, token)) as VerifyKey;
      throw new TokenRefused('player token keys unavailable, try again later', 503);
    }
  };
}

function refusalOf(error: unknown): TokenRefused {
  if (error instanceof TokenRefused) return error;
  if (error instanceof errors.JWTExpired) return new TokenRefused('token expired');
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === 'exp' && error.reason === 'missing') return new TokenRefused('token has no exp');
    if (error.claim === 'nbf') return new TokenRefused('token not yet valid');
    if (error.claim === 'iss') return new TokenRefused('wrong issuer');
    if (error.claim === 'aud') return new TokenRefused('wrong audience');
  }
  if (error instanceof errors.JWKSNoMatchingKey) return new TokenRefused('unknown signing key');
  if (error instanceof errors.JOSEAlgNotAllowed) return new TokenRefused('signing algorithm not accepted');
  return new TokenRefused('invalid token');
}

export class PlayerTokens {
  private constructor(
    private readonly settings: PlayerTokenSettings,
    private readonly algorithms: string[],
    private readonly resolve: KeyResolver,
  ) {}

  /** Imports the configured keys; null when none is configured (no player tokens at all). */
  static async create(settings: PlayerTokenSettings): Promise<PlayerTokens | null> {
    const { secret, publicKeyPem, jwksUrl } = settings;
    if (!secret && !publicKeyPem && !jwksUrl) return null;
    const hmac = secret ? await crypto.subtle.importKey('raw', new TextEncoder().encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']) : null;
    const pem = publicKeyPem ? await importPublicKey(publicKeyPem) : null;
    const jwks = jwksUrl ? remoteKeys(jwksUrl, settings) : null;
    const algorithms = new Set<string>();
    if (hmac) algorithms.add('HS256');
    if (pem) algorithms.add(pem.alg);
    if (jwks) for (const alg of ['RS256', 'ES256']) algorithms.add(alg);

    const resolve: KeyResolver = async (header, token) => {
      if (header.alg === 'HS256' && hmac) return hmac;
      // The PEM key for its own algorithm; the key set for a kid (or when there is no PEM key).
      if (pem && header.alg === pem.alg && (!jwks || header.kid === undefined)) return pem.key;
      if (jwks) return jwks(header, token);
      throw new TokenRefused('signing algorithm not accepted');
    };
    return new PlayerTokens(settings, [...algorithms], resolve);
  }

  /** The verified claims; throws TokenRefused. */
  async verify(token: string): Promise<JWTPayload> {
    if (token.length > MAX_TOKEN_CHARS) throw new TokenRefused('invalid token');
    const { issuer, audience, clockToleranceS, maxLifetimeS } = this.settings;
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.resolve, {
        algorithms: this.algorithms,
        requiredClaims: ['exp'],
        clockTolerance: clockToleranceS,
        ...(issuer !== undefined ? { issuer } : {}),
        ...(audience !== undefined ? { audience } : {}),
      }));
    } catch (error) {
      throw refusalOf(error);
    }
    // jose checked exp and nbf; iat in the future and the lifetime are ours.
    const nowS = Date.now() / 1000;
    const exp = payload.exp as number;
    if (payload.iat !== undefined && payload.iat > nowS + clockToleranceS) throw new TokenRefused('token issued in the future');
    if (exp - (payload.iat ?? nowS) > maxLifetimeS) throw new TokenRefused('token lifetime too long');
    return payload;
  }
}
