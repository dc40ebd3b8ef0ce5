/**
 * Every Lua script of the Redis stores, registered on the caller's client with `defineCommand`
 * (EVALSHA, falling back to EVAL after a script cache flush): one loader for the online stores,
 * the offline queue, the room directory and the owner publisher. Scripts live in
 * ./lua/<concern>/; each is read once, with its shared preludes from ./lua/lib/ prepended (Lua
 * scripts cannot include one another). Key names come from keys.ts and are passed in KEYS.
 */
import { readFileSync } from 'node:fs';
import { groupBy } from '../../util/group-by.ts';
import type { ChainableCommander, Cluster, Redis } from 'ioredis';

/** A single Redis (standalone, Sentinel) or a Redis Cluster: the stores speak to either. */
export type RedisClient = Redis | Cluster;

const SCRIPTS = {
  // presence/
  login: { file: 'presence/login.lua', libs: ['connection-ids.lua'] },
  endSession: { file: 'presence/end-session.lua', libs: ['go-offline.lua', 'connection-ids.lua'] },
  forceLogout: { file: 'presence/force-logout.lua', libs: ['go-offline.lua'] },
  expireGrace: { file: 'presence/expire-grace.lua', libs: ['go-offline.lua'] },
  getPlayer: { file: 'presence/get-player.lua', libs: [] },
  listOnline: { file: 'presence/list-online.lua', libs: [] },
  // outbox/
  claimPending: { file: 'outbox/claim-pending.lua', libs: [] },
  ackPending: { file: 'outbox/ack-pending.lua', libs: [] },
  retryPending: { file: 'outbox/retry-pending.lua', libs: [] },
  // nodes/
  renewLease: { file: 'nodes/renew-lease.lua', libs: [] },
  removeNode: { file: 'nodes/remove-node.lua', libs: [] },
  reapClaim: { file: 'nodes/reap-claim.lua', libs: ['finish-node.lua'] },
  reapClaimed: { file: 'nodes/reap-claimed.lua', libs: ['go-offline.lua', 'drop-node-share.lua', 'finish-node.lua'] },
  reassert: { file: 'nodes/reassert.lua', libs: ['store-missed.lua'] },
  reassertGraces: { file: 'nodes/reassert-graces.lua', libs: ['store-missed.lua'] },
  releaseAbsent: { file: 'nodes/release-absent.lua', libs: ['go-offline.lua', 'drop-node-share.lua'] },
  // locks/
  tryLock: { file: 'locks/try-lock.lua', libs: [] },
  unlock: { file: 'locks/unlock.lua', libs: [] },
  // offline/
  offlinePush: { file: 'offline/push.lua', libs: ['offline-lanes.lua'] },
  offlineRead: { file: 'offline/read.lua', libs: ['offline-lanes.lua'] },
  offlineAck: { file: 'offline/ack.lua', libs: ['offline-lanes.lua'] },
  offlineSweep: { file: 'offline/sweep.lua', libs: [] },
  offlineReserveSender: { file: 'offline/reserve-sender.lua', libs: [] },
  offlineReleaseSender: { file: 'offline/release-sender.lua', libs: [] },
  // rooms/
  roomApply: { file: 'rooms/apply.lua', libs: ['room-drop-node.lua'] },
  roomPurgeNode: { file: 'rooms/purge-node.lua', libs: ['room-drop-node.lua'] },
  roomList: { file: 'rooms/list.lua', libs: [] },
  roomMembers: { file: 'rooms/members.lua', libs: [] },
  // chat/
  nextConversationSeq: { file: 'chat/next-seq.lua', libs: [] },
  // routing/
  publishToOwners: { file: 'routing/publish-to-owners.lua', libs: [] },
} as const satisfies Record<string, { file: string; libs: readonly string[] }>;

export type ScriptName = keyof typeof SCRIPTS;

/** Runs one script: KEYS then ARGV. Replies are untyped; callers decode them (replies.ts). */
export type RunScript = (script: ScriptName, keys: readonly string[], args: readonly (string | number)[]) => Promise<unknown>;

/** One call of a script in a batch (`runScriptBatch`). */
export interface ScriptCall {
  keys: readonly string[];
  args: readonly (string | number)[];
}

type DefinedCommand = (numberOfKeys: number, ...keysAndArgs: (string | number)[]) => Promise<unknown>;

const read = (path: string) => readFileSync(new URL(`./lua/${path}`, import.meta.url), 'utf8');

let sources: Map<ScriptName, string> | undefined;

function loadSources(): Map<ScriptName, string> {
  if (!sources) {
    sources = new Map();
    for (const [name, def] of Object.entries(SCRIPTS) as [ScriptName, (typeof SCRIPTS)[ScriptName]][]) {
      sources.set(name, [...def.libs.map((lib) => read(`lib/${lib}`)), read(def.file)].join('\n'));
    }
  }
  return sources;
}

/** Namespaced so the stores can share a client with other users of `defineCommand`. */
const commandName = (script: ScriptName) => `gatehouse_${script}`;

/** Per client, so stores sharing a connection define the scripts once. */
const defined = new WeakMap<RedisClient, RunScript>();

/** Defines every script on `redis` (once per client) and returns a typed way to run them. */
export function defineScripts(redis: RedisClient): RunScript {
  const known = defined.get(redis);
  if (known) return known;
  const commands = new Map<ScriptName, DefinedCommand>();
  for (const [name, lua] of loadSources()) {
    // numberOfKeys omitted: each call passes its own count (some scripts take variable KEYS).
    redis.defineCommand(commandName(name), { lua });
    const command = (redis as unknown as Record<string, DefinedCommand | undefined>)[commandName(name)];
    if (!command) throw new Error(`ioredis did not define ${commandName(name)}`);
    commands.set(name, command.bind(redis));
  }
  const run: RunScript = (script, keys, args) => commands.get(script)!(keys.length, ...keys, ...args);
  defined.set(redis, run);
  return run;
}

/**
 * Adds one call of `script` to a pipeline of a client whose scripts are defined (`defineScripts`
 * before the pipeline was made: a pipeline copies its client's defined commands).
 */
export function addScript(pipeline: ChainableCommander, script: ScriptName, keys: readonly string[], args: readonly (string | number)[]): void {
  const command = (pipeline as unknown as Record<string, DefinedCommand | undefined>)[commandName(script)];
  if (!command) throw new Error(`ioredis pipeline lacks ${commandName(script)}`);
  command.call(pipeline, keys.length, ...keys, ...args);
}

/**
 * Runs `script` once per call in one pipeline: one socket write and one round trip for all of
 * them (1,000 separate calls are 1,000 writes), each call still atomic on its own. Resolves with
 * `[error, reply]` per call, in order; rejects when the pipeline could not be sent at all.
 * An explicit pipeline rather than ioredis' `enableAutoPipelining`: that would regroup every
 * command of the shared client, and it has had bugs with `defineCommand` scripts (ioredis #1931).
 */
export async function runScriptBatch(redis: RedisClient, script: ScriptName, calls: readonly ScriptCall[]): Promise<Array<[Error | null, unknown]>> {
  if (calls.length === 0) return [];
  defineScripts(redis);
  const pipeline = redis.pipeline();
  // A pipeline gets every command defined on its client (ioredis copies `scriptsSet`).
  for (const { keys, args } of calls) addScript(pipeline, script, keys, args);
  const replies = (await pipeline.exec()) ?? [];
  return calls.map((_, i) => replies[i] ?? [new Error(`${script}: no reply in the pipeline`), null]);
}

/**
 * `runScriptBatch` for calls that may touch different buckets: one pipeline per bucket (a Redis
 * Cluster pipelines commands of one slot only), sent together. Resolves with `[error, reply]`
 * per call, in the order of `calls`.
 */
export async function runBucketedScriptBatch(
  redis: RedisClient,
  script: ScriptName,
  calls: ReadonlyArray<ScriptCall & { bucket: number }>,
): Promise<Array<[Error | null, unknown]>> {
  const byBucket = groupBy(calls.keys(), (i) => calls[i]!.bucket);
  const results = new Array<[Error | null, unknown]>(calls.length);
  await Promise.all(
    [...byBucket.values()].map(async (indexes) => {
      const replies = await runScriptBatch(
        redis,
        script,
        indexes.map((i) => calls[i]!),
      );
      indexes.forEach((callIndex, j) => {
        results[callIndex] = replies[j]!;
      });
    }),
  );
  return results;
}
