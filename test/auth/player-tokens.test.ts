/**
 * Player tokens against a real JWKS endpoint (node:http serving a generated key set, which the
 * test rotates and takes down): RS256 and ES256 by kid, the claim rules (exp required, nbf,
 * iat, lifetime, iss, aud, clock tolerance), unknown kids (one refetch per cooldown), key
 * rotation, an auth-service outage (the last set keeps working; no set at all = 503), a PEM key,
 * and the algorithm rules (no alg confusion, no `none`). Then the same through real handshakes
 * and a REST call of a gateway configured with the JWKS URL or the PEM key.
 */
import { generateKeyPairSync } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import t from 'tap';
import { exportJWK, exportSPKI, generateKeyPair, type JWK, type JWTPayload, SignJWT } from 'jose';
import { PlayerTokens, TokenRefused, type PlayerTokenSettings } from '../../src/auth/player-tokens.ts';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { buildTestApp } from '../helpers/build.ts';
import { HandshakeRefused, TestClient } from '../helpers/ws-client.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const nowS = () => Math.floor(Date.now() / 1000);

type Alg = 'RS256' | 'ES256';
interface SigningKey {
  kid: string;
  alg: Alg;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  jwk: JWK;
}

async function signingKey(kid: string, alg: Alg): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { kid, alg, privateKey, publicKey, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
}

type Claims = Omit<JWTPayload, 'exp'> & { exp?: number | null };

/** A JWT with these claims; `exp` one hour ahead unless given (null: no exp). */
function sign(key: SigningKey, claims: Claims, header: { kid?: string | null } = {}): Promise<string> {
  const { exp = nowS() + 3600, ...rest } = claims;
  const payload: JWTPayload = { iat: nowS(), ...rest, ...(exp === null ? {} : { exp }) };
  const kid = header.kid === undefined ? key.kid : header.kid;
  return new SignJWT(payload).setProtectedHeader({ alg: key.alg, ...(kid === null ? {} : { kid }) }).sign(key.privateKey);
}

/** The studio's auth service: its key set over real HTTP, counted, rotatable, breakable. */
class JwksServer {
  keys: JWK[] = [];
  fetches = 0;
  down = false;
  private server: Server = createServer((_req, res) => {
    this.fetches++;
    if (this.down) {
      res.writeHead(500).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: this.keys }));
  });
  url = '';
  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    const address = this.server.address();
    this.url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/.well-known/jwks.json`;
  }
  stop(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

function settings(overrides: Partial<PlayerTokenSettings>, warnings: string[] = []): PlayerTokenSettings {
  return {
    jwksRefreshMs: 600_000,
    jwksCooldownMs: 1000,
    maxLifetimeS: 86_400,
    clockToleranceS: 5,
    log: { info: () => {}, warn: (_obj, msg) => void warnings.push(msg), error: () => {} },
    ...overrides,
  };
}

/** The refusal message of a token, or 'accepted'. */
async function outcome(tokens: PlayerTokens, token: string): Promise<string> {
  try {
    const claims = await tokens.verify(token);
    return `accepted ${claims.sub}`;
  } catch (error) {
    if (error instanceof TokenRefused) return error.status === 401 ? error.message : `${error.status} ${error.message}`;
    throw error;
  }
}

t.test('JWKS: RS256 and ES256 by kid, claim rules, unknown kid, rotation, outage', async (t) => {
  const jwks = new JwksServer();
  await jwks.start();
  t.teardown(() => jwks.stop());
  const rsa1 = await signingKey('rsa-1', 'RS256');
  const ec1 = await signingKey('ec-1', 'ES256');
  jwks.keys = [rsa1.jwk, ec1.jwk];
  const warnings: string[] = [];
  const tokens = (await PlayerTokens.create(settings({ jwksUrl: jwks.url, issuer: 'https://auth.studio.test', audience: 'gatehouse' }, warnings)))!;
  const claims = { iss: 'https://auth.studio.test', aud: 'gatehouse' };

  t.equal(await outcome(tokens, await sign(rsa1, { ...claims, sub: 'alice' })), 'accepted alice', 'RS256 token');
  t.equal(await outcome(tokens, await sign(ec1, { ...claims, sub: 'bob' })), 'accepted bob', 'ES256 token');
  t.equal(jwks.fetches, 1, 'the key set is fetched once and cached');

  const rules: Array<[string, Claims, string]> = [
    ['expired', { exp: nowS() - 60 }, 'token expired'],
    ['expired within the clock tolerance', { exp: nowS() - 2 }, 'accepted p'],
    ['no exp', { exp: null }, 'token has no exp'],
    ['nbf in the future', { nbf: nowS() + 60 }, 'token not yet valid'],
    ['nbf within the clock tolerance', { nbf: nowS() + 2 }, 'accepted p'],
    ['iat in the future', { iat: nowS() + 60 }, 'token issued in the future'],
    ['lifetime (exp - iat) too long', { iat: nowS() - 10, exp: nowS() + 86_400 }, 'token lifetime too long'],
    ['lifetime at the maximum', { iat: nowS(), exp: nowS() + 86_400 }, 'accepted p'],
    ['no iat: exp - now too long', { iat: undefined, exp: nowS() + 86_400 + 60 }, 'token lifetime too long'],
    ['no iat, short exp', { iat: undefined, exp: nowS() + 60 }, 'accepted p'],
    ['wrong issuer', { iss: 'https://evil.test' }, 'wrong issuer'],
    ['no issuer', { iss: undefined }, 'wrong issuer'],
    ['wrong audience', { aud: 'another-game' }, 'wrong audience'],
    ['audience in a list', { aud: ['another-game', 'gatehouse'] }, 'accepted p'],
  ];
  for (const [name, extra, expected] of rules) {
    const payload = { ...claims, sub: 'p', ...extra };
    t.equal(await outcome(tokens, await sign(rsa1, payload)), expected, name);
  }
  const forged = await sign(await signingKey('rsa-1', 'RS256'), { ...claims, sub: 'mallory' });
  t.equal(await outcome(tokens, forged), 'invalid token', 'a key of the same kid but not the published one');

  // Unknown kids: one refetch per cooldown, however many tokens name them.
  await sleep(1100);
  const fetchesBefore = jwks.fetches;
  const stranger = await signingKey('who-knows', 'RS256');
  for (let i = 0; i < 5; i++) {
    t.equal(await outcome(tokens, await sign(stranger, { ...claims, sub: 'x' })), 'unknown signing key');
  }
  t.equal(jwks.fetches, fetchesBefore + 1, 'five unknown-kid tokens: one refetch (cooldown)');

  // Rotation: the auth service publishes rsa-2 and drops rsa-1.
  const rsa2 = await signingKey('rsa-2', 'RS256');
  jwks.keys = [rsa2.jwk, ec1.jwk];
  const rotated = await sign(rsa2, { ...claims, sub: 'carol' });
  t.equal(await outcome(tokens, rotated), 'unknown signing key', 'within the cooldown the new kid is not fetched yet');
  await sleep(1100);
  t.equal(await outcome(tokens, rotated), 'accepted carol', 'after the cooldown the new kid triggers a refetch');
  t.equal(jwks.fetches, fetchesBefore + 2);
  t.equal(await outcome(tokens, await sign(rsa1, { ...claims, sub: 'alice' })), 'unknown signing key', 'the dropped key no longer verifies');

  // Outage: the auth service answers 500. Known keys keep verifying; a new kid cannot be learned.
  jwks.down = true;
  await sleep(1100);
  t.equal(await outcome(tokens, await sign(stranger, { ...claims, sub: 'y' })), 'unknown signing key', 'unknown kid during the outage');
  t.ok(warnings.includes('player token key set fetch failed'), 'the failed fetch is logged');
  t.equal(await outcome(tokens, await sign(ec1, { ...claims, sub: 'dave' })), 'accepted dave', 'known key during the outage');
  t.equal(await outcome(tokens, await sign(rsa2, { ...claims, sub: 'erin' })), 'accepted erin', 'the last fetched set stays in use');
});

t.test('JWKS: a stale set keeps verifying while the auth service is down; no set at all is a 503', async (t) => {
  const jwks = new JwksServer();
  await jwks.start();
  t.teardown(() => jwks.stop());
  const ec = await signingKey('ec', 'ES256');
  jwks.keys = [ec.jwk];
  const tokens = (await PlayerTokens.create(settings({ jwksUrl: jwks.url, jwksRefreshMs: 500, jwksCooldownMs: 1000 })))!;
  t.equal(await outcome(tokens, await sign(ec, { sub: 'a' })), 'accepted a');
  jwks.down = true;
  await sleep(600); // past the refresh period: the set is stale
  const before = jwks.fetches;
  for (let i = 0; i < 5; i++) t.equal(await outcome(tokens, await sign(ec, { sub: 'b' })), 'accepted b', 'stale set used');
  t.ok(jwks.fetches - before <= 1, `${jwks.fetches - before} fetch attempt(s) for 5 tokens during the outage`);

  const cold = (await PlayerTokens.create(settings({ jwksUrl: jwks.url })))!;
  t.equal(await outcome(cold, await sign(ec, { sub: 'c' })), '503 player token keys unavailable, try again later');
  const attempts = jwks.fetches;
  t.equal(await outcome(cold, await sign(ec, { sub: 'c' })), '503 player token keys unavailable, try again later');
  t.equal(jwks.fetches, attempts, 'no second fetch within the cooldown');
  jwks.down = false;
  await sleep(1100);
  t.equal(await outcome(cold, await sign(ec, { sub: 'c' })), 'accepted c', 'the service is back: keys fetched');
});

t.test('PEM key and algorithm rules', async (t) => {
  const ec = await signingKey('ignored', 'ES256');
  const rsa = await signingKey('r', 'RS256');
  const pem = await exportSPKI(ec.publicKey);
  const secret = 'hs256-secret-hs256-secret-0123456789';
  const tokens = (await PlayerTokens.create(settings({ publicKeyPem: pem, secret })))!;
  t.equal(await outcome(tokens, await sign(ec, { sub: 'pem' })), 'accepted pem', 'ES256 by the PEM key (the kid is ignored)');
  t.equal(await outcome(tokens, await sign(ec, { sub: 'pem' }, { kid: null })), 'accepted pem', 'without a kid');
  t.equal(await outcome(tokens, await sign(rsa, { sub: 'r' })), 'signing algorithm not accepted', 'RS256 while the PEM key is EC');
  const hs = await new SignJWT({ sub: 'h', exp: nowS() + 60 }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(secret));
  t.equal(await outcome(tokens, hs), 'accepted h', 'HS256 with the secret alongside');
  // Algorithm confusion: an HS256 token "signed" with the public key text as the secret.
  const confused = await new SignJWT({ sub: 'admin', exp: nowS() + 60 }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(pem));
  t.equal(await outcome(tokens, confused), 'invalid token', 'HS256 signed with the public key is refused');
  const pemOnly = (await PlayerTokens.create(settings({ publicKeyPem: pem })))!;
  t.equal(await outcome(pemOnly, confused), 'signing algorithm not accepted', 'no HS256 without a secret');
  const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify({ sub: 'admin', exp: nowS() + 60 })).toString('base64url')}.`;
  t.equal(await outcome(tokens, none), 'signing algorithm not accepted', 'alg none');
  t.equal(await outcome(tokens, 'x'.repeat(10_000)), 'invalid token', 'oversized token');
  t.equal(await PlayerTokens.create(settings({})), null, 'no key source: no player tokens');
});

t.test('configuration', async (t) => {
  const admin = { ADMIN_TOKEN: 'a'.repeat(16), GATEHOUSE_EMBEDDED: '1' };
  const { publicKey } = await generateKeyPair('RS256', { extractable: true });
  const pem = await exportSPKI(publicKey);
  const escaped = pem.replace(/\n/g, '\\n');
  t.equal(loadConfig({ NODE_ENV: 'production', ...admin, AUTH_JWT_JWKS_URL: 'https://auth.example.com/jwks.json' }).AUTH_MODE, 'jwt', 'JWKS URL alone');
  const withPem = loadConfig({ NODE_ENV: 'production', ...admin, AUTH_JWT_PUBLIC_KEY: escaped });
  t.equal(withPem.AUTH_MODE, 'jwt', 'PEM key alone (\\n escapes)');
  t.equal(withPem.AUTH_JWT_PUBLIC_KEY, pem, '\\n escapes turned into newlines');
  t.throws(() => loadConfig({ NODE_ENV: 'production', ...admin }), /AUTH_JWT_SECRET, AUTH_JWT_PUBLIC_KEY or AUTH_JWT_JWKS_URL must be set/);
  t.throws(() => loadConfig({ AUTH_MODE: 'jwt' }), /AUTH_JWT_SECRET, AUTH_JWT_PUBLIC_KEY or AUTH_JWT_JWKS_URL/);
  t.throws(() => loadConfig({ AUTH_JWT_PUBLIC_KEY: '-----BEGIN PUBLIC KEY-----\nnot a key\n-----END PUBLIC KEY-----' }), ConfigError);
  const smallPem = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const p384 = generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
  t.throws(() => loadConfig({ AUTH_JWT_PUBLIC_KEY: p384 }), /EC P-256/, 'only P-256 curves (ES256)');
  t.throws(() => loadConfig({ AUTH_JWT_PUBLIC_KEY: smallPem }), /at least 2048 bits/);
  t.throws(() => loadConfig({ AUTH_JWT_JWKS_URL: 'ftp://auth/jwks' }), /AUTH_JWT_JWKS_URL/);
  t.throws(() => loadConfig({ AUTH_JWT_MAX_LIFETIME_S: '0' }), /AUTH_JWT_MAX_LIFETIME_S/);
});

t.test('through the gateway: handshakes and REST with JWKS and PEM keys', async (t) => {
  const jwks = new JwksServer();
  await jwks.start();
  t.teardown(() => jwks.stop());
  const rsa = await signingKey('rsa', 'RS256');
  const ec = await signingKey('ec', 'ES256');
  jwks.keys = [rsa.jwk, ec.jwk];
  const h = await buildTestApp(t, 'embedded', { AUTH_JWT_SECRET: '', AUTH_JWT_JWKS_URL: jwks.url, AUTH_JWT_ISSUER: 'studio' });
  if (!h) return;
  t.equal(h.config.AUTH_MODE, 'jwt');
  const refusal = async (token: string) => {
    try {
      await (await TestClient.connect(`${h.wsUrl}/ws?token=${token}`)).close();
      return 'accepted';
    } catch (error) {
      if (!(error instanceof HandshakeRefused)) throw error;
      const body = JSON.parse(error.body) as { code: string; message: string };
      return `${error.status} ${body.code} ${body.message}`;
    }
  };
  const { client, connected } = await TestClient.open(`${h.wsUrl}/ws?token=${await sign(rsa, { sub: 'rs-player', iss: 'studio' })}`);
  t.equal(connected.userId, 'rs-player', 'RS256 handshake');
  await client.close();
  const es = await TestClient.open(`${h.wsUrl}/ws`, { headers: { authorization: `Bearer ${await sign(ec, { sub: 'es-player', iss: 'studio' })}` } });
  t.equal(es.connected.userId, 'es-player', 'ES256 handshake (Authorization header)');
  await es.client.close();

  t.equal(await refusal(await sign(rsa, { sub: 'p', iss: 'studio', exp: nowS() - 60 })), '401 GW_UNAUTHORIZED token expired');
  t.equal(await refusal(await sign(rsa, { sub: 'p', iss: 'studio', exp: null })), '401 GW_UNAUTHORIZED token has no exp');
  t.equal(await refusal(await sign(rsa, { sub: 'p', iss: 'studio', nbf: nowS() + 600 })), '401 GW_UNAUTHORIZED token not yet valid');
  t.equal(await refusal(await sign(rsa, { sub: 'p', iss: 'studio', exp: nowS() + 2 * 86_400 })), '401 GW_UNAUTHORIZED token lifetime too long');
  t.equal(await refusal(await sign(rsa, { sub: 'p', iss: 'other' })), '401 GW_UNAUTHORIZED wrong issuer');
  t.equal(await refusal(await sign(await signingKey('nope', 'ES256'), { sub: 'p', iss: 'studio' })), '401 GW_UNAUTHORIZED unknown signing key');
  t.equal(await refusal(h.token('hs-player')), '401 GW_UNAUTHORIZED signing algorithm not accepted', 'no HS256 without AUTH_JWT_SECRET');
  t.match(await refusal(await sign(rsa, { sub: 'bad user!', iss: 'studio' })), /^400 GW_BAD_USER_ID/);
  t.equal(h.app.gateway.connections.size, 0, 'no session from any refusal');

  // REST: a player token (ES256, from the key set) logs its own user out.
  const self = await fetch(`${h.baseUrl}/api/online/logout`, {
    method: 'POST',
    headers: { authorization: `Bearer ${await sign(ec, { sub: 'es-player', iss: 'studio' })}`, 'content-type': 'application/json' },
    body: JSON.stringify({ userId: 'es-player' }),
  });
  t.equal(self.status, 200, 'REST self-logout with an ES256 player token');
  const expired = await fetch(`${h.baseUrl}/ws/stats`, {
    headers: { authorization: `Bearer ${await sign(ec, { sub: 'x', iss: 'studio', exp: nowS() - 60 })}` },
  });
  t.match(await expired.json(), { statusCode: 401, code: 'GW_UNAUTHORIZED', message: 'token expired' });

  const ecPem = await exportSPKI(ec.publicKey);
  const p = await buildTestApp(t, 'embedded', { AUTH_JWT_SECRET: '', AUTH_JWT_PUBLIC_KEY: ecPem });
  if (!p) return;
  const viaPem = await TestClient.open(`${p.wsUrl}/ws?token=${await sign(ec, { sub: 'pem-player' })}`);
  t.equal(viaPem.connected.userId, 'pem-player', 'ES256 handshake with AUTH_JWT_PUBLIC_KEY');
  await viaPem.client.close();
});
