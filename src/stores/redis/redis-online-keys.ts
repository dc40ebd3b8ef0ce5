/**
 * Redis key names of the online store (ARCHITECTURE.md, Storage). Every key the TypeScript side
 * touches is built here; the Lua scripts that must derive per-player or per-node keys from data
 * they read (list-online, get-player, force-logout, reap-node, register-node) receive the prefix
 * as an argument and build `player:online:<userId>` and `server:node:<nodeId>:{players,heartbeats}`
 * the same way.
 *
 * Without hash tags these keys span slots, so the scripts need a single Redis (or a cluster
 * with one shard); the store is designed for that.
 */
export class OnlineKeys {
  /** `server:online:players`: set of online userIds (PROTOCOL.md contract: SREM on logout). */
  readonly online: string;
  /** `server:online:index`: the same userIds in a score-0 sorted set, for lex cursor paging. */
  readonly index: string;
  /** `logout:pending`: pending logout ids scored by due time (ms). */
  readonly pending: string;
  /** `logout:pending:data`: id -> JSON { record, attempts }. */
  readonly pendingData: string;
  /** `server:nodes`: nodeId scored by its last lease renewal (ms). */
  readonly nodes: string;
  /** `logout:grace`: userIds in their logout grace period, scored by its end (ms). */
  readonly grace: string;

  constructor(readonly prefix: string) {
    this.online = `${prefix}server:online:players`;
    this.index = `${prefix}server:online:index`;
    this.pending = `${prefix}logout:pending`;
    this.pendingData = `${prefix}logout:pending:data`;
    this.nodes = `${prefix}server:nodes`;
    this.grace = `${prefix}logout:grace`;
  }

  /** `player:online:<userId>`: the presence hash. */
  player(userId: string): string {
    return `${this.prefix}player:online:${userId}`;
  }

  /** `server:node:<nodeId>:players`: users with a live connection on the node. */
  nodePlayers(nodeId: string): string {
    return `${this.prefix}server:node:${nodeId}:players`;
  }

  /** `server:node:<nodeId>:heartbeats`: userId -> last heartbeat (ms) flushed by the node. */
  nodeHeartbeats(nodeId: string): string {
    return `${this.prefix}server:node:${nodeId}:heartbeats`;
  }

  /** `server:lock:<name>`: hash { owner, expiresAt } of a named lock (the reaper's). */
  lock(name: string): string {
    return `${this.prefix}server:lock:${name}`;
  }
}
