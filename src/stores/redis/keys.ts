/**
 * The Redis key schema: every key name and pub/sub channel of the project is spelled here, once
 * (docs/architecture.md's storage table is generated from `STORAGE_KEYS` by
 * scripts/storage-keys.ts). Every key is prefixed with REDIS_KEY_PREFIX (`prefix`). Lua scripts
 * never build a key name: they receive every key they touch in KEYS.
 *
 * The presence keys are split into buckets (buckets.ts): with more than one, each of those keys
 * starts with its bucket's hash tag (`{<bucket>}:` in the table), so every presence script
 * touches one slot of a Redis Cluster. With one bucket (the default) they carry no tag. Room
 * keys are in the room's bucket; they also name the room as a hash tag (`room:{<room>}:...`),
 * which decides their slot only in the one-bucket layout.
 */
import { BucketLayout } from './buckets.ts';

/** One row of the storage table. */
export interface StorageKey {
  /** The key (or channel) pattern, without the prefix. */
  pattern: string;
  /** The Redis type, or `pub/sub channel`. */
  type: string;
  /** What it holds. */
  holds: string;
}

/** The storage table, in the order of docs/architecture.md. Keep in step with `RedisKeys`. */
export const STORAGE_KEYS: readonly StorageKey[] = [
  {
    pattern: '{<bucket>}:player:online:<userId>',
    type: 'hash',
    holds:
      '`status` online/reconnecting/offline, `username`, `nodeId`, `epoch`, `sessions`, `sid` (logical session id), `connectedAt`, `lastHeartbeat`, `logoutTime`, `logoutReason`; `n:<nodeId>` live connections per node, `c:<nodeId>` their connection ids (JSON); while reconnecting `graceUntil`, `endedAt`, `endReason`, `endNode`. Offline, it expires PRESENCE_OFFLINE_TTL_S after its logout is written to the database (PERSIST on login)',
  },
  { pattern: '{<bucket>}:server:online:players', type: 'set', holds: 'userIds currently online (SREM on logout)' },
  { pattern: '{<bucket>}:server:online:index', type: 'sorted set', holds: 'the same userIds, score 0, for lex cursor paging and prefix counts' },
  { pattern: '{<bucket>}:server:node:<nodeId>:players', type: 'set', holds: 'users with a live connection on that node' },
  { pattern: '{<bucket>}:server:node:<nodeId>:heartbeats', type: 'hash', holds: 'userId -> last heartbeat (ms) flushed by that node' },
  {
    pattern: '{<bucket>}:server:node:<nodeId>:reaping',
    type: 'hash',
    holds:
      "userId -> claim time (Redis TIME, ms): users a reaper took off that node's players set and has not finished; a claim older than the claim TTL is taken again",
  },
  {
    pattern: '{<bucket>}:server:node:<nodeId>:fence',
    type: 'hash',
    holds:
      '`gen`: the generation of the lease (`<process incarnation>/<n>`, set by registration; a later generation of the same process replaces it); `lapsedAt`: the last renewal that found the previous lease missing or late (every renewal reports it, so each renewer of the node learns of a lapse); `fenced`: a generation a reaper started reaping, whose renewals are refused so the frozen or cut-off process learns it was reaped (expires 7 days after the fencing)',
  },
  { pattern: '{<bucket>}:server:nodes', type: 'sorted set', holds: 'nodeId -> last lease renewal (ms, cluster clock)' },
  { pattern: 'server:lock:<name>', type: 'hash', holds: "`owner`, `expiresAt` (ms) of a named lock (the reaper's); PEXPIRE collects it" },
  { pattern: '{<bucket>}:logout:pending', type: 'sorted set', holds: 'pending logout ids (logical session ids) by due time (ms)' },
  { pattern: '{<bucket>}:logout:pending:data', type: 'hash', holds: 'id -> JSON `{ record, attempts }` of each pending logout' },
  { pattern: '{<bucket>}:logout:grace', type: 'sorted set', holds: 'userIds in their logout grace period, by its end (ms)' },
  {
    pattern: '{<bucket>}:websocket:queue:<userId>',
    type: 'list',
    holds:
      'offline messages `<id> <queuedAt> <origin> <frame>` in arrival order, origin `@<senderId>` (player lane) or `!` (server lane); per lane at most OFFLINE_QUEUE_MAX entries and OFFLINE_QUEUE_MAX_BYTES; expires OFFLINE_QUEUE_TTL_S after its newest entry',
  },
  {
    pattern: '{<bucket>}:websocket:queue-meta:<userId>',
    type: 'hash',
    holds: '`pc`/`pb` player-lane entries/bytes, `sc`/`sb` server-lane entries/bytes of that queue; same expiry as the queue',
  },
  {
    pattern: '{<bucket>}:websocket:queue-sender:<userId>',
    type: 'hash',
    holds: '`c`/`b` messages/bytes that sender queued in its current window (OFFLINE_QUEUE_SENDER_MAX / _BYTES); expires OFFLINE_QUEUE_TTL_S after the first',
  },
  {
    pattern: '{<bucket>}:websocket:queue-total',
    type: 'string',
    holds:
      "bytes held by the bucket's offline queues (each bucket may hold OFFLINE_QUEUE_TOTAL_MAX_BYTES / REDIS_BUCKETS); kept by the scripts, expired queues subtracted by the sweep",
  },
  {
    pattern: '{<bucket>}:websocket:queue-bytes',
    type: 'hash',
    holds: "userId -> bytes of that user's queue, so the sweep can subtract a queue whose key expired",
  },
  { pattern: '{<bucket>}:rooms:index', type: 'sorted set', holds: 'rooms with at least one member session anywhere (score 0, by name)' },
  { pattern: '{<bucket>}:room:{<room>}:nodes', type: 'hash', holds: 'nodeId -> member sessions of the room on that node' },
  { pattern: '{<bucket>}:room:{<room>}:members', type: 'sorted set', holds: '`<userId>|<nodeId>`, one per user and node (score 0)' },
  { pattern: '{<bucket>}:room:{<room>}:node:<nodeId>', type: 'hash', holds: "userId -> that user's member sessions of the room on the node" },
  { pattern: '{<bucket>}:rooms:node:<nodeId>', type: 'set', holds: "rooms the node has members of (to purge a node's share)" },
  {
    pattern: 'chat:seq:{<conversationId>}',
    type: 'string',
    holds:
      "the last seq handed out in a stored direct conversation (MESSAGE_PERSISTENCE with Redis: a message is numbered here, delivered, then stored); seeded from the database's `last_seq` when missing; expires 7 days after the conversation's last message",
  },
  { pattern: 'gateway:<nodeId>', type: 'pub/sub channel', holds: 'frames for one node, each envelope carrying its origin nodeId' },
  { pattern: 'gateway:broadcast', type: 'pub/sub channel', holds: 'frames for every node' },
  { pattern: 'gateway:room:<room>', type: 'pub/sub channel', holds: 'room frames, to the nodes with local members of the room' },
];

/** Key and channel names under one prefix (REDIS_KEY_PREFIX), in one bucket layout (REDIS_BUCKETS). */
export class RedisKeys {
  /** How the presence keys are split into buckets (buckets.ts). */
  readonly buckets: BucketLayout;
  /** `gateway:`: a node's channel is this plus its id. */
  readonly nodeChannelPrefix: string;
  /** `gateway:broadcast`. */
  readonly broadcastChannel: string;
  /** `gateway:room:`: a room's channel is this plus its name. */
  readonly roomChannelPrefix: string;
  /** Per bucket: the prefix, then the bucket's hash tag (none in the one-bucket layout). */
  private readonly starts: readonly string[];

  constructor(
    readonly prefix: string,
    buckets: BucketLayout | number = 1,
  ) {
    this.buckets = typeof buckets === 'number' ? new BucketLayout(buckets) : buckets;
    // A brace in the prefix would become the hash tag of every key, taking the bucket's place.
    if (this.buckets.count > 1 && /[{}]/.test(prefix)) throw new RangeError(`REDIS_KEY_PREFIX must not contain { or } with more than one bucket: ${prefix}`);
    this.starts = this.buckets.all().map((b) => prefix + this.buckets.tagPart(b));
    this.nodeChannelPrefix = `${prefix}gateway:`;
    this.broadcastChannel = `${prefix}gateway:broadcast`;
    this.roomChannelPrefix = `${prefix}gateway:room:`;
  }

  /** The start of every key of bucket `b`. */
  private at(b: number): string {
    const start = this.starts[b];
    if (start === undefined) throw new RangeError(`no bucket ${b} in a layout of ${this.buckets.count}`);
    return start;
  }

  /** The bucket of a user's keys. */
  bucketOf(userId: string): number {
    return this.buckets.of(userId);
  }

  /** `server:online:players` of bucket `b`. */
  online(b: number): string {
    return `${this.at(b)}server:online:players`;
  }

  /** `server:online:index` of bucket `b`. */
  index(b: number): string {
    return `${this.at(b)}server:online:index`;
  }

  /** `logout:pending` of bucket `b`. */
  pending(b: number): string {
    return `${this.at(b)}logout:pending`;
  }

  /** `logout:pending:data` of bucket `b`. */
  pendingData(b: number): string {
    return `${this.at(b)}logout:pending:data`;
  }

  /** `server:nodes` of bucket `b`. */
  nodes(b: number): string {
    return `${this.at(b)}server:nodes`;
  }

  /** `logout:grace` of bucket `b`. */
  grace(b: number): string {
    return `${this.at(b)}logout:grace`;
  }

  /** `player:online:<userId>`, in the user's bucket. */
  player(userId: string): string {
    return `${this.at(this.bucketOf(userId))}player:online:${userId}`;
  }

  /** `server:node:<nodeId>:players` of bucket `b`. */
  nodePlayers(nodeId: string, b: number): string {
    return `${this.at(b)}server:node:${nodeId}:players`;
  }

  /** `server:node:<nodeId>:heartbeats` of bucket `b`. */
  nodeHeartbeats(nodeId: string, b: number): string {
    return `${this.at(b)}server:node:${nodeId}:heartbeats`;
  }

  /** `server:node:<nodeId>:reaping` of bucket `b`. */
  nodeReaping(nodeId: string, b: number): string {
    return `${this.at(b)}server:node:${nodeId}:reaping`;
  }

  /** `server:node:<nodeId>:fence` of bucket `b`. */
  nodeFence(nodeId: string, b: number): string {
    return `${this.at(b)}server:node:${nodeId}:fence`;
  }

  /** `server:lock:<name>` (one key: no bucket). */
  lock(name: string): string {
    return `${this.prefix}server:lock:${name}`;
  }

  /** `chat:seq:{<conversationId>}` (one key, its own slot: no bucket). */
  conversationSeq(conversationId: string): string {
    return `${this.prefix}chat:seq:{${conversationId}}`;
  }

  /** `websocket:queue:<userId>`, in the user's bucket. */
  offlineQueue(userId: string): string {
    return `${this.at(this.bucketOf(userId))}websocket:queue:${userId}`;
  }

  /** `websocket:queue-meta:<userId>`, in the user's bucket. */
  offlineQueueMeta(userId: string): string {
    return `${this.at(this.bucketOf(userId))}websocket:queue-meta:${userId}`;
  }

  /** `websocket:queue-sender:<userId>`, in the sender's bucket. */
  offlineQueueSender(userId: string): string {
    return `${this.at(this.bucketOf(userId))}websocket:queue-sender:${userId}`;
  }

  /** `websocket:queue-total` of bucket `b`. */
  offlineQueueTotal(b: number): string {
    return `${this.at(b)}websocket:queue-total`;
  }

  /** `websocket:queue-bytes` of bucket `b`. */
  offlineQueueBytes(b: number): string {
    return `${this.at(b)}websocket:queue-bytes`;
  }

  /** `rooms:index` of bucket `b`. */
  roomsIndex(b: number): string {
    return `${this.at(b)}rooms:index`;
  }

  /** `room:{<room>}:nodes`, in the room's bucket. */
  roomNodes(room: string): string {
    return `${this.at(this.bucketOf(room))}room:{${room}}:nodes`;
  }

  /** `room:{<room>}:members`, in the room's bucket. */
  roomMembers(room: string): string {
    return `${this.at(this.bucketOf(room))}room:{${room}}:members`;
  }

  /** `room:{<room>}:node:<nodeId>`, in the room's bucket. */
  roomNodeUsers(room: string, nodeId: string): string {
    return `${this.at(this.bucketOf(room))}room:{${room}}:node:${nodeId}`;
  }

  /** `rooms:node:<nodeId>` of bucket `b`: the node's rooms of that bucket. */
  nodeRooms(nodeId: string, b: number): string {
    return `${this.at(b)}rooms:node:${nodeId}`;
  }

  /** `gateway:<nodeId>`. */
  nodeChannel(nodeId: string): string {
    return this.nodeChannelPrefix + nodeId;
  }
}
