/**
 * Game clients that go silent, and the watchers that see when their node has logged them out:
 * shared by the frozen-client scenario test and the silent-clients bench (bench/silent-clients.ts),
 * so both measure the same thing the same way.
 * - `RawClient`: a plain `ws` socket that auto-answers WebSocket pings (as `ws` and browsers do)
 *   and sends the app's `ping` frame only when told (`ping`);
 * - `watchLogouts`: polls the store (`status` of `player:online:<userId>`) and PostgreSQL (the
 *   `player_sessions` row's `disconnected_at`) in two loops of their own, and stamps when each
 *   client is first seen offline / written.
 */
import type pg from 'pg';
import type { Redis } from 'ioredis';
import WebSocket from 'ws';
import { TEST_ADMIN_TOKEN } from './build.ts';

export interface RawClient {
  userId: string;
  ws: WebSocket;
  /** WebSocket-level pings received (each answered by `ws` itself). */
  wsPings: number;
  closed: { code: number; at: number } | undefined;
  /** Date.now() when the client sent its last frame. */
  lastFrame: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A plain `ws` client on `url`, resolved on `connected`. */
export function openRaw(url: string, userId: string): Promise<RawClient> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    const client: RawClient = { userId, ws, wsPings: 0, closed: undefined, lastFrame: 0 };
    ws.on('ping', () => client.wsPings++);
    ws.on('close', (code) => {
      client.closed = { code, at: Date.now() };
      reject(new Error(`${userId} closed with ${code} before connected`));
    });
    ws.on('error', reject);
    ws.on('message', (data) => {
      if (String(data).startsWith('{"type":"connected"')) resolve(client);
    });
  });
}

export function ping(client: RawClient): void {
  client.lastFrame = Date.now();
  client.ws.send(`{"type":"ping","ts":${client.lastFrame}}`);
}

/** `count` clients named `<prefix>-<i>` (URL from `urlOf(userId)`), opened 25 at a time. */
export async function openMany(urlOf: (userId: string) => string, prefix: string, count: number): Promise<RawClient[]> {
  const clients: RawClient[] = [];
  for (let i = 0; i < count; i += 25) {
    const batch = Array.from({ length: Math.min(25, count - i) }, (_, k) => {
      const userId = `${prefix}-${i + k}`;
      return openRaw(urlOf(userId), userId);
    });
    clients.push(...(await Promise.all(batch)));
  }
  return clients;
}

/** Logout rows (PlayerSession closed) of these users: userId -> [disconnectedAt ms, reason]. */
export async function logoutRows(db: pg.Client, schema: string, userIds: string[]): Promise<Map<string, [number, string]>> {
  const { rows } = await db.query<{ user_id: string; disconnected_at: Date; reason: string }>(
    `SELECT user_id, disconnected_at, reason FROM "${schema}".player_sessions WHERE disconnected_at IS NOT NULL AND user_id = ANY($1)`,
    [userIds],
  );
  return new Map(rows.map((r) => [r.user_id, [r.disconnected_at.getTime(), r.reason]]));
}

/** The node's `gatehouse_node_stalled_seconds_total`, in ms. */
export async function nodeStalledMs(baseUrl: string): Promise<number> {
  const res = await fetch(`${baseUrl}/metrics`, { headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` } });
  const match = /^gatehouse_node_stalled_seconds_total (\S+)$/m.exec(await res.text());
  if (!match) throw new Error('no gatehouse_node_stalled_seconds_total in /metrics');
  return Math.round(Number(match[1]) * 1000);
}

export interface LogoutWatch {
  /** userId -> Date.now() when the store first showed the user offline. */
  offlineAt: Map<string, number>;
  /** userId -> Date.now() when PostgreSQL first showed the logout row. */
  writtenAt: Map<string, number>;
  /** userId -> [disconnectedAt ms, reason] of that row. */
  rows: Map<string, [number, string]>;
}

/**
 * Polls every 10 ms, the store and the database each in a loop of its own (neither waits for
 * the other), until every client is offline and written or `giveUpAt` passes.
 */
export async function watchLogouts(
  redis: Redis,
  db: pg.Client,
  where: { prefix: string; schema: string },
  clients: readonly RawClient[],
  giveUpAt: number,
): Promise<LogoutWatch> {
  const watch: LogoutWatch = { offlineAt: new Map(), writtenAt: new Map(), rows: new Map() };
  const key = (u: string) => `${where.prefix}player:online:${u}`;
  const watchStore = async () => {
    while (watch.offlineAt.size < clients.length && Date.now() < giveUpAt) {
      const pending = clients.filter((c) => !watch.offlineAt.has(c.userId));
      const batch = redis.pipeline();
      for (const c of pending) batch.hget(key(c.userId), 'status');
      const statuses = (await batch.exec()) ?? [];
      const now = Date.now();
      pending.forEach((c, i) => {
        if (statuses[i]?.[1] === 'offline') watch.offlineAt.set(c.userId, now);
      });
      await sleep(10);
    }
  };
  const watchDatabase = async () => {
    while (watch.writtenAt.size < clients.length && Date.now() < giveUpAt) {
      const pending = clients.filter((c) => !watch.writtenAt.has(c.userId)).map((c) => c.userId);
      const found = await logoutRows(db, where.schema, pending);
      const now = Date.now();
      for (const [userId, row] of found) {
        watch.writtenAt.set(userId, now);
        watch.rows.set(userId, row);
      }
      await sleep(10);
    }
  };
  await Promise.all([watchStore(), watchDatabase()]);
  return watch;
}
