/**
 * Helpers of the bus suites: polling, and Redis connections as the gateway opens them. Kept here
 * rather than importing from test/helpers/build.ts, which loads the whole app (Fastify, Prisma)
 * for a transport test.
 */
import type { Test } from 'tap';
import { Redis } from 'ioredis';
import { redisOptions } from '../../../src/http/plugins/online-store.ts';

/** A command connection as the gateway creates it (redisOptions), connected, quit at teardown. */
export async function gatewayRedis(t: Test, url: string): Promise<Redis> {
  const redis = new Redis(url, redisOptions());
  redis.on('error', () => {});
  t.teardown(() => redis.quit().catch(() => redis.disconnect()));
  await redis.connect();
  return redis;
}

/** Polls `check` until it is true; fails with `what` after `timeoutMs`. */
export async function waitFor(check: () => boolean, what: string, timeoutMs = 5000, stepMs = 5): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, stepMs));
  }
}
