/**
 * The offline queue on Redis: one list per user, `<prefix>websocket:queue:<userId>`, each
 * element `<id> <queuedAt> <frame>` (the id and time first, so the scripts find an entry without
 * decoding JSON). Push, read and ack each touch several things (append + trim + expiry; scan +
 * trim), so each is one Lua script in ./lua/: atomic, one round trip.
 */
import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';
import { checkOfflineEntry, checkOfflineLimits, type OfflineEntry, type OfflineQueue, type OfflineQueueLimits } from '../../delivery/offline-queue.ts';

export interface RedisOfflineQueueOptions extends OfflineQueueLimits {
  /** Owned by the caller: `close()` leaves it open. Must not use ioredis' own `keyPrefix`. */
  redis: Redis;
  /** Prepended to every key (REDIS_KEY_PREFIX); default none. */
  keyPrefix?: string;
}

const SCRIPTS = { push: 'offline-push.lua', read: 'offline-read.lua', ack: 'offline-ack.lua' } as const;
type Script = keyof typeof SCRIPTS;
type Command = (numberOfKeys: number, ...keysAndArgs: (string | number)[]) => Promise<unknown>;

const sources = new Map<Script, string>();
const source = (script: Script) => {
  let text = sources.get(script);
  if (text === undefined) sources.set(script, (text = readFileSync(new URL(`./lua/${SCRIPTS[script]}`, import.meta.url), 'utf8')));
  return text;
};

/** Parses `<id> <queuedAt> <frame>`; null for anything else (never written by this class). */
export function decodeOfflineEntry(raw: string): OfflineEntry | null {
  const a = raw.indexOf(' ');
  const b = a < 0 ? -1 : raw.indexOf(' ', a + 1);
  if (a <= 0 || b < 0) return null;
  const queuedAt = Number(raw.slice(a + 1, b));
  if (!Number.isSafeInteger(queuedAt)) return null;
  return { id: raw.slice(0, a), queuedAt, frame: raw.slice(b + 1) };
}

export class RedisOfflineQueue implements OfflineQueue {
  readonly limits: OfflineQueueLimits;
  private readonly redis: Redis;
  private readonly prefix: string;
  private readonly commands = new Map<Script, Command>();

  constructor(options: RedisOfflineQueueOptions) {
    checkOfflineLimits(options);
    if (options.redis.options.keyPrefix) throw new Error('RedisOfflineQueue: use the keyPrefix option of the queue, not of the ioredis client');
    this.limits = { max: options.max, ttlMs: options.ttlMs };
    this.redis = options.redis;
    this.prefix = options.keyPrefix ?? '';
    for (const script of Object.keys(SCRIPTS) as Script[]) {
      const name = `gatehouseOffline_${script}`;
      this.redis.defineCommand(name, { lua: source(script) });
      const command = (this.redis as unknown as Record<string, Command | undefined>)[name];
      if (!command) throw new Error(`ioredis did not define ${name}`);
      this.commands.set(script, command.bind(this.redis));
    }
  }

  /** `websocket:queue:<userId>` (ARCHITECTURE.md). */
  key(userId: string): string {
    return `${this.prefix}websocket:queue:${userId}`;
  }

  async push(userId: string, entry: OfflineEntry): Promise<number> {
    checkOfflineEntry(entry);
    if (this.limits.max === 0) return 0;
    const reply = await this.run('push', this.key(userId), `${entry.id} ${entry.queuedAt} ${entry.frame}`, this.limits.max, this.limits.ttlMs);
    return Number(reply);
  }

  async read(userId: string, now: number): Promise<OfflineEntry[]> {
    const reply = await this.run('read', this.key(userId), now - this.limits.ttlMs);
    if (!Array.isArray(reply)) throw new Error('offline-read: unexpected reply');
    const entries: OfflineEntry[] = [];
    for (const raw of reply) {
      const entry = typeof raw === 'string' ? decodeOfflineEntry(raw) : null;
      if (entry) entries.push(entry);
    }
    return entries;
  }

  async ack(userId: string, id: string): Promise<number> {
    if (id.length === 0 || /\s/.test(id)) return 0; // cannot be queued
    return Number(await this.run('ack', this.key(userId), id));
  }

  async length(userId: string): Promise<number> {
    return this.redis.llen(this.key(userId));
  }

  async close(): Promise<void> {}

  private run(script: Script, key: string, ...args: (string | number)[]): Promise<unknown> {
    return this.commands.get(script)!(1, key, ...args);
  }
}
