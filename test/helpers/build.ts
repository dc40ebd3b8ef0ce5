/**
 * Builds a gateway for a test: on the embedded defaults (in-memory PGlite + memory online store)
 * or on the real services (own PostgreSQL schema + own Redis key prefix). Listens on port 0,
 * closes at teardown, captures log lines.
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { createSigner } from 'fast-jwt';
import { buildApp } from '../../src/app.ts';
import { loadConfig, type Config } from '../../src/config.ts';
import { loggerOptions } from '../../src/logger.ts';
import { testPostgres, testRedis } from './services.ts';

export type Backend = 'embedded' | 'real';

export interface TestApp {
  app: FastifyInstance;
  config: Config;
  /** http://127.0.0.1:<port> */
  baseUrl: string;
  /** ws://127.0.0.1:<port> */
  wsUrl: string;
  /** Every log line, raw JSON. */
  logs: string[];
  /** A signed player token (JWT mode only). */
  token(userId: string, claims?: Record<string, unknown>, expiresIn?: string): string;
}

type Tap = Parameters<typeof testPostgres>[0];

export const TEST_JWT_SECRET = 'test-secret-test-secret-test-secret-0123';
export const TEST_ADMIN_TOKEN = 'test-admin-token-0123456789';

/** Env for a backend; null when the real services are skipped. */
export async function backendEnv(t: Tap, backend: Backend): Promise<Record<string, string> | null> {
  if (backend === 'embedded') return { PGLITE_DIR: 'memory://' };
  const pgInfo = await testPostgres(t);
  if (!pgInfo) return null;
  const redisInfo = await testRedis(t);
  if (!redisInfo) return null;
  return {
    DATABASE_URL: pgInfo.url,
    DATABASE_SCHEMA: pgInfo.schema,
    REDIS_URL: redisInfo.url,
    REDIS_KEY_PREFIX: redisInfo.prefix,
  };
}

/** A listening gateway, or null when its services are unavailable (the test was skipped). */
export async function buildTestApp(t: Tap, backend: Backend = 'embedded', env: Record<string, string> = {}): Promise<TestApp | null> {
  const services = await backendEnv(t, backend);
  if (!services) return null;
  const nodeId = `test-${Math.random().toString(36).slice(2, 8)}`;
  const config = loadConfig({
    NODE_ENV: 'test',
    // Suites run in parallel: each app keeps its own crash-recovery state (memory store + a real database).
    NODE_STATE_FILE: join(tmpdir(), `gatehouse-${nodeId}.json`),
    LOG_LEVEL: 'info',
    AUTH_JWT_SECRET: TEST_JWT_SECRET,
    ADMIN_TOKEN: TEST_ADMIN_TOKEN,
    HOST: '127.0.0.1',
    PORT: '0',
    NODE_ID: nodeId,
    // Immediate logouts unless a test is about the grace period.
    LOGOUT_GRACE_MS: '0',
    // Suites open hundreds of connections at once to set a scene; admission control
    // (MAX_PENDING_LOGINS, MAX_EVENT_LOOP_LAG_MS) has its own suite, test/ws/login-admission.test.ts.
    MAX_PENDING_LOGINS: '100000',
    MAX_EVENT_LOOP_LAG_MS: '0',
    ...services,
    ...env,
  });
  const logs: string[] = [];
  const app = await buildApp(config, {
    logger: { ...(loggerOptions(config) as object), stream: { write: (line: string) => void logs.push(line) } },
  });
  t.teardown(() => app.close());
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    app,
    config,
    baseUrl: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}`,
    logs,
    token: (userId, claims = {}, expiresIn = '1h') => createSigner({ key: config.AUTH_JWT_SECRET ?? TEST_JWT_SECRET, expiresIn })({ sub: userId, ...claims }),
  };
}

/** Parsed log lines matching a message. */
export function logLines(logs: string[], msg: string): Array<Record<string, unknown>> {
  return logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === msg);
}

/** Polls `check` until it returns a truthy value or the timeout passes. */
export async function eventually<T>(check: () => T | Promise<T>, timeoutMs = 5000, stepMs = 25): Promise<Exclude<T, undefined | null | false | 0 | ''>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value as Exclude<T, undefined | null | false | 0 | ''>;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, stepMs));
  }
}
