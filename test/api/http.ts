/**
 * Helpers of the API suites: requests through `inject` (the whole Fastify pipeline, without a
 * socket per call) and many real WebSocket players.
 */
import type { TestApp } from '../helpers/build.ts';
import { TestClient } from '../helpers/ws-client.ts';

export interface Answer<T = Record<string, unknown>> {
  status: number;
  body: T;
  headers: Record<string, string | string[] | number | undefined>;
}

export interface CallOptions {
  /** Bearer token; omit for none. */
  token?: string;
  /** A raw Authorization header (wins over token). */
  authorization?: string;
  body?: unknown;
}

/** One request; the body is parsed as JSON. */
export async function call<T = Record<string, unknown>>(h: TestApp, method: 'GET' | 'POST', url: string, options: CallOptions = {}): Promise<Answer<T>> {
  const headers: Record<string, string> = {};
  if (options.authorization !== undefined) headers.authorization = options.authorization;
  else if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  const res = await h.app.inject({ method, url, headers, ...(options.body === undefined ? {} : { payload: options.body as object }) });
  return { status: res.statusCode, body: res.json() as T, headers: res.headers };
}

/** The error body every error answer has. */
export const errorShape = (statusCode: number, code: string) => ({
  statusCode,
  code,
  error: String,
  message: String,
});

/**
 * Opens a real WebSocket session per userId (batches of `batch`, each waiting for `connected`,
 * so the online-store login has happened) and returns them by userId.
 */
export async function connectPlayers(url: (userId: string) => string, userIds: readonly string[], batch = 200): Promise<Map<string, TestClient>> {
  const clients = new Map<string, TestClient>();
  for (let i = 0; i < userIds.length; i += batch) {
    const slice = userIds.slice(i, i + batch);
    const opened = await Promise.all(slice.map((userId) => TestClient.open(url(userId))));
    slice.forEach((userId, j) => clients.set(userId, opened[j]!.client));
  }
  return clients;
}

/** Kills every connection (no close handshake) and waits for the sockets to close. */
export async function terminateAll(clients: Iterable<TestClient>): Promise<void> {
  await Promise.all([...clients].map((c) => c.terminate()));
}
