/**
 * The Lua scripts of the Redis online store, registered on the caller's client with
 * `defineCommand` (EVALSHA, falling back to EVAL after a script cache flush). Each script is
 * read once from ./lua/, with its shared preludes from ./lua/lib/ prepended (Lua scripts cannot
 * include one another).
 */
import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';

const SCRIPTS = {
  login: { file: 'login.lua', libs: ['connection-ids.lua'] },
  endSession: { file: 'end-session.lua', libs: ['go-offline.lua', 'connection-ids.lua'] },
  forceLogout: { file: 'force-logout.lua', libs: ['go-offline.lua'] },
  expireGrace: { file: 'expire-grace.lua', libs: ['go-offline.lua'] },
  claimPending: { file: 'claim-pending.lua', libs: [] },
  ackPending: { file: 'ack-pending.lua', libs: [] },
  retryPending: { file: 'retry-pending.lua', libs: [] },
  getPlayer: { file: 'get-player.lua', libs: ['read-presence.lua'] },
  listOnline: { file: 'list-online.lua', libs: ['read-presence.lua'] },
  registerNode: { file: 'register-node.lua', libs: ['go-offline.lua', 'reap-batch.lua'] },
  renewLease: { file: 'renew-lease.lua', libs: [] },
  removeNode: { file: 'remove-node.lua', libs: [] },
  reapNode: { file: 'reap-node.lua', libs: ['go-offline.lua', 'reap-batch.lua'] },
  reassert: { file: 'reassert.lua', libs: [] },
  tryLock: { file: 'try-lock.lua', libs: [] },
  unlock: { file: 'unlock.lua', libs: [] },
} as const satisfies Record<string, { file: string; libs: readonly string[] }>;

export type OnlineScript = keyof typeof SCRIPTS;

/** Runs one script: KEYS then ARGV. Replies are untyped; callers check their shape. */
export type RunScript = (script: OnlineScript, keys: readonly string[], args: readonly (string | number)[]) => Promise<unknown>;

type DefinedCommand = (numberOfKeys: number, ...keysAndArgs: (string | number)[]) => Promise<unknown>;

const read = (path: string) => readFileSync(new URL(`./lua/${path}`, import.meta.url), 'utf8');

let sources: Map<OnlineScript, string> | undefined;

function loadSources(): Map<OnlineScript, string> {
  if (!sources) {
    sources = new Map();
    for (const [name, def] of Object.entries(SCRIPTS) as [OnlineScript, (typeof SCRIPTS)[OnlineScript]][]) {
      sources.set(name, [...def.libs.map((lib) => read(`lib/${lib}`)), read(def.file)].join('\n'));
    }
  }
  return sources;
}

/** Namespaced so the store can share a client with other users of `defineCommand`. */
const commandName = (script: OnlineScript) => `gatehouseOnline_${script}`;

/** Defines every script on `redis` (idempotent) and returns a typed way to run them. */
export function defineOnlineScripts(redis: Redis): RunScript {
  const commands = new Map<OnlineScript, DefinedCommand>();
  for (const [name, lua] of loadSources()) {
    // numberOfKeys omitted: each call passes its own count (some scripts take variable ARGV).
    redis.defineCommand(commandName(name), { lua });
    const command = (redis as unknown as Record<string, DefinedCommand | undefined>)[commandName(name)];
    if (!command) throw new Error(`ioredis did not define ${commandName(name)}`);
    commands.set(name, command.bind(redis));
  }
  return (script, keys, args) => commands.get(script)!(keys.length, ...keys, ...args);
}
