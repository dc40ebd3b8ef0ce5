/**
 * The one place that reads the environment. Every setting of PROTOCOL.md and ARCHITECTURE.md
 * is declared here with its type, bounds and default; `loadConfig` turns `process.env` into a
 * typed, frozen `Config` or throws a `ConfigError` whose message is one line naming the
 * variable and what is wrong with it.
 */
import { hostname } from 'node:os';
import { createPublicKey, randomBytes, type KeyObject } from 'node:crypto';
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { NODE_ID_PATTERN, NON_ID_CHARS_RE } from './protocol/ids.ts';
import { MAX_BUCKETS } from './stores/redis/buckets.ts';

/** REDIS_BUCKETS on a Redis Cluster when not set: room for 64 primaries, spread evenly. */
export const DEFAULT_CLUSTER_BUCKETS = 64;

const int = (def: number, min: number, max: number, description: string) => Type.Integer({ default: def, minimum: min, maximum: max, description });
const bool = (def: boolean, description: string) => Type.Boolean({ default: def, description });
const str = (description: string, extra: { minLength?: number; pattern?: string } = {}) => Type.String({ description, ...extra });

const MS_DAY = 86_400_000;

/**
 * The environment schema. Keys are the variable names; optional keys have no default (their
 * absence means something, e.g. no DATABASE_URL = embedded PGlite).
 */
export const EnvSchema = Type.Object({
  NODE_ENV: Type.Union([Type.Literal('development'), Type.Literal('production'), Type.Literal('test')], {
    default: 'development',
    description:
      'production refuses AUTH_MODE=none, player tokens without a key (none of AUTH_JWT_SECRET, AUTH_JWT_PUBLIC_KEY, AUTH_JWT_JWKS_URL), a missing ADMIN_TOKEN and a missing DATABASE_URL or REDIS_URL (unless GATEHOUSE_EMBEDDED=1), and refuses browser handshakes (with an Origin header) while ALLOWED_ORIGINS is unset. development without ADMIN_TOKEN makes one for the run and prints it at startup',
  }),
  HOST: Type.String({ default: '0.0.0.0', description: 'Interface to listen on' }),
  PORT: int(3000, 0, 65535, 'HTTP and WebSocket port (0 = any free port)'),
  NODE_ID: Type.Optional(
    str('Unique id of this gateway process in the cluster (default: hostname + random suffix)', {
      pattern: NODE_ID_PATTERN,
    }),
  ),
  LOG_LEVEL: Type.Union(
    ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)),
    { default: 'info', description: 'pino log level' },
  ),
  HTTP_MAX_HEADER_BYTES: int(
    8192,
    1024,
    1024 * 1024,
    "Largest request line + headers of an HTTP request or WebSocket handshake (Node's maxHeaderSize); larger is answered 431 by the HTTP parser and the connection closed, before any route, hook or log line costs anything. 8 KiB holds a handshake with a JWT and cookies (nginx's default line buffer is as large)",
  ),
  HTTP_REFUSAL_DELAY_MS: int(
    2000,
    0,
    60_000,
    'A request head the HTTP parser refuses (over HTTP_MAX_HEADER_BYTES: 431; not HTTP: 400) is answered this much later, its connection held unread meanwhile: players never send one, and a client looping such requests waits instead of costing every player on the node the accepting and refusing (at most 1,024 connections held at once; beyond, answered at once). 0 = answer at once',
  ),
  LOG_REFUSALS_WINDOW_MS: int(
    10_000,
    100,
    3_600_000,
    'Refused HTTP requests and handshakes (4xx/5xx answers) are logged at most once per client address per window (path only, no query string, no headers), the next line counting those suppressed',
  ),

  GATEHOUSE_EMBEDDED: bool(
    false,
    'With NODE_ENV=production, allow the embedded database (no DATABASE_URL) and the in-process online store (no REDIS_URL) on purpose; otherwise production refuses to start without both URLs, so that a container that lost its settings never runs on private data of its own',
  ),
  DATABASE_URL: Type.Optional(str('PostgreSQL URL; unset = embedded PGlite in PGLITE_DIR', { pattern: '^postgres(ql)?://' })),
  DATABASE_SCHEMA: Type.Optional(
    str("PostgreSQL schema to use (search_path); default: the URL's own or public", {
      pattern: '^[a-z_][a-z0-9_]{0,62}$',
    }),
  ),
  DATABASE_POOL_MAX: int(10, 1, 200, 'PostgreSQL connection pool size'),
  PGLITE_DIR: Type.String({
    default: './data/pglite',
    description: 'Embedded database directory when DATABASE_URL is unset (memory:// = in memory)',
  }),
  DB_MIGRATE_ON_START: bool(true, 'Apply pending migrations at startup'),
  NODE_STATE_FILE: Type.String({
    default: './data/node-state.json',
    description:
      'Without REDIS_URL and with a durable database: where the node keeps its last-alive time and its logouts not yet in the database, so that after a crash or a restart during a database outage the next start writes them (nothing is lost)',
  }),
  REDIS_URL: Type.Optional(
    str('Redis URL (redis:// or rediss://); unset = in-process online store, single node only', {
      pattern: '^rediss?://',
    }),
  ),
  REDIS_KEY_PREFIX: Type.String({ default: '', description: 'Prefix for every Redis key and channel' }),
  REDIS_SENTINELS: Type.Optional(
    str("Redis Sentinel addresses host:port[,host:port...]; with REDIS_SENTINEL_NAME, used instead of REDIS_URL's host", {
      pattern: '^[A-Za-z0-9_.:\\[\\]-]+:\\d+(,[A-Za-z0-9_.:\\[\\]-]+:\\d+)*$',
    }),
  ),
  REDIS_SENTINEL_NAME: Type.Optional(str('Name of the master monitored by the sentinels', { pattern: '^[A-Za-z0-9_.-]{1,64}$' })),
  REDIS_CLUSTER_NODES: Type.Optional(
    str(
      'Redis Cluster seed nodes host:port[,host:port...]: the online store, rooms, offline queues and bus run on the cluster, sharded by bucket (REDIS_BUCKETS), node and room channels over sharded pub/sub; REDIS_URL still gives the username, password and TLS (rediss://), its host is not used',
      { pattern: '^[A-Za-z0-9_.:\\[\\]-]+:\\d+(,[A-Za-z0-9_.:\\[\\]-]+:\\d+)*$' },
    ),
  ),
  REDIS_BUCKETS: Type.Optional(
    Type.Integer({
      minimum: 1,
      maximum: MAX_BUCKETS,
      description:
        'How many buckets the Redis data is split into, each in one cluster slot (its hash tag), spread evenly over the slots: the most primaries the data can use. Default 64 with REDIS_CLUSTER_NODES, else 1 (keys without hash tags). Every node of a deployment must use the same value; changing it is like starting on an empty Redis (nodes re-assert their sessions)',
    }),
  ),
  NODE_LEASE_INTERVAL_MS: int(1000, 50, 60_000, 'How often a node renews its lease in server:nodes'),
  NODE_DEAD_AFTER_MS: int(
    5000,
    200,
    600_000,
    "A node whose lease is older is dead: its players are logged out (node_lost). A node judges others only after renewing its own lease this long without a lapse (after it starts, and after a failed or late renewal), so a cluster-wide Redis outage logs nobody out; after such a lapse a dead node's players may take up to twice this long",
  ),
  NODE_STALL_LIMIT_MS: int(
    30_000,
    200,
    3_600_000,
    'With Redis, the lease is renewed from a worker thread, so a main event loop lagging under load does not get the node reaped; it stops renewing once the main loop has made no progress for this long (then the node is reaped as dead). Must exceed NODE_DEAD_AFTER_MS; when left unset and NODE_DEAD_AFTER_MS is larger, twice NODE_DEAD_AFTER_MS',
  ),

  AUTH_MODE: Type.Optional(
    Type.Union([Type.Literal('jwt'), Type.Literal('none')], {
      description: 'jwt (default when AUTH_JWT_SECRET is set) or none (development only: ?userId=)',
    }),
  ),
  AUTH_JWT_SECRET: Type.Optional(str('HS256 secret for player tokens (at least 32 characters)', { minLength: 32 })),
  AUTH_JWT_PUBLIC_KEY: Type.Optional(
    str(
      'PEM public key (SPKI, "-----BEGIN PUBLIC KEY-----") of RS256 (RSA, at least 2048 bits) or ES256 (EC P-256) player tokens: the PEM text itself, with real newlines or \\n escapes',
      { pattern: '-----BEGIN PUBLIC KEY-----' },
    ),
  ),
  AUTH_JWT_JWKS_URL: Type.Optional(
    str("URL of the studio auth service's JSON Web Key Set (RS256 / ES256 keys chosen by the token's kid)", { pattern: '^https?://' }),
  ),
  AUTH_JWT_JWKS_REFRESH_S: int(
    600,
    1,
    86_400,
    'Seconds the fetched key set is used before it is fetched again (while the auth service cannot be reached the last set stays in use)',
  ),
  AUTH_JWT_JWKS_COOLDOWN_S: int(
    30,
    1,
    3600,
    'A token signed with a kid the cached key set lacks refetches the set at most once per this many seconds (key rotation; unknown kids cannot hammer the auth service)',
  ),
  AUTH_JWT_ISSUER: Type.Optional(str('When set, player tokens must carry this iss', { minLength: 1 })),
  AUTH_JWT_AUDIENCE: Type.Optional(str('When set, player tokens must carry this aud (or list it)', { minLength: 1 })),
  AUTH_JWT_MAX_LIFETIME_S: int(
    86_400,
    1,
    31_536_000,
    'Longest accepted player token lifetime: exp - iat (exp - now without iat); longer tokens are refused (exp is always required)',
  ),
  AUTH_JWT_CLOCK_TOLERANCE_S: int(5, 0, 300, 'Clock skew allowed when checking exp, nbf and iat of player tokens'),
  ALLOWED_ORIGINS: Type.Optional(
    str(
      'Browser origins allowed to open /ws: comma list of exact origins (https://game.example.com) or *; a handshake with another Origin header gets 403 GW_ORIGIN_REFUSED, one without Origin (native clients) is allowed. Unset: any origin, except in production where browser handshakes are refused',
      { pattern: '^(\\*|[A-Za-z][A-Za-z0-9+.-]*://[^/,\\s]+(\\s*,\\s*[A-Za-z][A-Za-z0-9+.-]*://[^/,\\s]+)*)$' },
    ),
  ),
  ADMIN_TOKEN: Type.Optional(str('Bearer token of the admin API (at least 16 characters)', { minLength: 16 })),
  METRICS_TOKEN: Type.Optional(
    str('Bearer token that may read GET /metrics only, for a Prometheus scraper (at least 16 characters); the ADMIN_TOKEN works too', {
      minLength: 16,
    }),
  ),
  STATS_HISTORY_INTERVAL_MS: int(10_000, 100, 600_000, "Sampling interval of the admin dashboard's in-memory chart (the last hour is kept per node)"),

  HEARTBEAT_INTERVAL_MS: int(1000, 100, 60_000, 'Ping interval advertised to clients in the connected frame'),
  HEARTBEAT_TIMEOUT_MS: int(
    10_000,
    200,
    600_000,
    'A session whose client sends no frame for longer is logged out at once, stamped last frame + this, then closed with 4000 (WebSocket pongs do not count; time the node was stalled is not silence)',
  ),
  WATCHDOG_INTERVAL_MS: int(1000, 20, 60_000, 'Tick of the one watchdog timer per process'),
  WS_PING_INTERVAL_MS: int(25_000, 100, 600_000, 'Interval of WebSocket-level pings sent by the server'),
  HEARTBEAT_FLUSH_INTERVAL_MS: int(
    5000,
    100,
    60_000,
    'Coalesced flush of lastHeartbeat to the online store: how stale the stored (REST) value may be; each flush writes every pinging user',
  ),

  MAX_CONNECTIONS: int(19_000, 1, 1_000_000, 'WebSocket connections per node; more get HTTP 503'),
  MAX_PENDING_LOGINS: int(
    128,
    1,
    100_000,
    'Logins in flight per node (handshake checked until `connected` sent); more get HTTP 503 GW_BUSY with Retry-After 1-4 s (a reconnect storm taken in a trickle)',
  ),
  MAX_EVENT_LOOP_LAG_MS: int(
    100,
    0,
    60_000,
    'Handshakes get HTTP 503 GW_BUSY with Retry-After 1-4 s while the event loop runs late by more than this (a 20 ms timer; lateness counts for 250 ms), however few logins are in flight: in a storm the node sheds handshakes instead of letting them wait in its accept queue and connected players wait for their pongs. 0 = off',
  ),
  LISTEN_BACKLOG: int(
    2048,
    1,
    65_535,
    "Accept queue of the listening socket (the kernel caps it at net.core.somaxconn): a reconnect storm's connections wait there instead of being reset (Node's default is 511)",
  ),
  MAX_SESSIONS_PER_USER: int(5, 1, 1000, 'Live sessions of one user (SESSION_POLICY=multi)'),
  SESSION_POLICY: Type.Union([Type.Literal('replace'), Type.Literal('multi')], {
    default: 'replace',
    description: 'replace: a new connection closes the older one with 4001; multi: several devices',
  }),
  MAX_PAYLOAD_BYTES: int(
    69_632,
    1024,
    64 * 1024 * 1024,
    'Largest inbound frame; larger closes with 1009, refused from its header before its payload is read. When unset, MAX_CONTENT_BYTES + 4096 (the largest valid frame: its content plus the envelope), so a client cannot make the node receive and buffer what it would refuse anyway',
  ),
  MAX_CONTENT_BYTES: int(65_536, 16, 64 * 1024 * 1024, 'Largest message content (JSON-encoded); larger gets TOO_LARGE'),
  MAX_MESSAGES_PER_SEC: int(
    50,
    1,
    100_000,
    'Inbound frames per second per session before RATE_LIMITED; a session over this or MAX_INBOUND_BYTES_PER_SEC is not read until its second ends',
  ),
  MAX_INBOUND_BYTES_PER_SEC: int(
    262_144,
    1024,
    1024 * 1024 * 1024,
    'Inbound frame text per second per session (characters: bytes for ASCII JSON) before RATE_LIMITED. 256 KiB: far above what a game sends ' +
      '(pings, inputs, chat: a few KiB/s), low enough to cap one session at about 4 parses of a 64 KiB frame a second (50 frames/s of 500 KB nested JSON took a whole CPU)',
  ),
  RATE_LIMIT_STRIKES: int(5, 1, 1000, 'Consecutive rate-limited seconds before close 4008'),
  SEND_QUEUE_MAX: int(64, 1, 100_000, 'Messages queued per session before drops (control frames: as many again, in their own lane)'),
  SEND_QUEUE_MAX_BYTES: int(1_048_576, 1024, 1024 * 1024 * 1024, 'Bytes queued + socket-buffered per session'),
  SLOW_CONSUMER_DROPS: int(0, 0, 1_000_000, 'Consecutive drops before close 4003 (0 = never)'),
  WRITE_TIMEOUT_MS: int(10_000, 100, 600_000, 'A socket whose buffer has not drained for this long is terminated'),
  DELIVERY_RECEIPT_TIMEOUT_MS: int(
    2000,
    10,
    60_000,
    "How long a direct message's ack waits for the recipient's other node(s) to confirm that a session took it; no answer by then: status unconfirmed",
  ),
  CLOSE_TIMEOUT_MS: int(
    2000,
    10,
    60_000,
    'After a server-side close (heartbeat timeout, kick, drain) the peer gets this long to answer the close frame before the socket is destroyed: a vanished peer never answers (the end of a kicked or drained session waits for the socket; a heartbeat timeout is logged out at once)',
  ),

  MAX_ROOMS_PER_SESSION: int(64, 1, 10_000, 'Rooms one session may be a member of at once; more joins get FORBIDDEN'),
  MAX_ROOM_CHANGES_PER_SEC: int(
    10,
    1,
    10_000,
    'Join/leave frames per second per session (bursts of as many, refilled continuously); more get ROOM_RATE_LIMITED and change nothing',
  ),
  ROOM_FLUSH_MS: int(
    50,
    0,
    1000,
    "How long a node collects its sessions' joins and leaves before writing them to the room directory and (un)subscribing room channels in one batch (0 = the same event-loop turn); joined/left answers wait for it",
  ),
  OFFLINE_QUEUE_MAX: int(
    100,
    0,
    10_000,
    "Messages kept per offline user and lane: players' messages over it are refused (QUOTA_EXCEEDED recipient), server pushes evict the oldest push; 0 = no offline queue, USER_OFFLINE instead",
  ),
  OFFLINE_QUEUE_TTL_S: int(
    1800,
    1,
    30 * 86_400,
    'Seconds a queued offline message is kept (the whole queue expires this long after its newest message); also the window of the sender quota',
  ),
  OFFLINE_QUEUE_MAX_BYTES: int(
    262_144,
    1024,
    1024 * 1024 * 1024,
    'Bytes kept per offline user and lane (the player lane refuses past it, the server lane evicts its oldest push)',
  ),
  // One sender's worst case in Redis: an entry outlives its window by at most two TTLs (until a
  // push or read trims it, or its queue key expires), so <= 3 windows: 3 x 256 KiB < 1 MB.
  OFFLINE_QUEUE_SENDER_MAX: int(
    200,
    1,
    1_000_000,
    'Messages one user may queue for offline users (all recipients together) per OFFLINE_QUEUE_TTL_S window; more get QUOTA_EXCEEDED sender',
  ),
  OFFLINE_QUEUE_SENDER_MAX_BYTES: int(
    262_144,
    1024,
    1024 * 1024 * 1024,
    'Bytes one user may queue for offline users per OFFLINE_QUEUE_TTL_S window (bounds what one account can make Redis hold); more get QUOTA_EXCEEDED sender',
  ),
  OFFLINE_QUEUE_TOTAL_MAX_BYTES: int(
    268_435_456,
    1024,
    64 * 1024 * 1024 * 1024,
    "Bytes all offline queues of the cluster may hold; past it players' messages get QUOTA_EXCEEDED cluster (server pushes still get in, bounded per user)",
  ),

  GROUP_MAX_MEMBERS: int(
    500,
    2,
    100_000,
    'Members of one persistent group: creating a group with more (POST /api/groups) is refused 400, adding a member to a full group 409 (GW_TOO_MANY_MEMBERS)',
  ),
  HISTORY_PAGE_MAX: int(
    100,
    1,
    1000,
    'Most stored messages in one history page: the largest `limit` of GET /api/conversations/:conversationId/messages, the default and largest of a `history` frame',
  ),
  MESSAGE_PERSISTENCE: bool(
    false,
    "Store players' direct messages (a seq per conversation, recovered at the recipient's next login, read with history) instead of the offline queue; false: the offline queue as before. Group messages are always stored",
  ),
  MESSAGE_RETENTION_DAYS: int(30, 1, 36_500, 'Stored messages (direct and group) older than this many days are deleted'),
  MESSAGE_RETENTION_COUNT: int(10_000, 10, 10_000_000, 'Stored messages kept per conversation: older ones beyond the newest this many are deleted'),
  RECOVERY_MAX_MESSAGES: int(
    1000,
    1,
    100_000,
    'Most stored messages a login is sent by recovery (the rest is named in the `recovered` frame and read with history)',
  ),

  LOGOUT_GRACE_MS: int(
    5000,
    0,
    MS_DAY,
    'After a client close, socket error or drain the player shows "reconnecting" this long; a reconnect anywhere in the cluster cancels the logout (0 = log out at once; heartbeat timeouts, REST logouts and kicks never wait)',
  ),
  PRESENCE_OFFLINE_TTL_S: int(
    86_400,
    1,
    365 * 86_400,
    "Seconds an offline player's presence entry (the Redis hash, or the in-process entry) is kept once their logout is in the database; a login cancels the removal. After it the online store no longer knows the player and GET /api/online/players/:userId answers from the database",
  ),
  LOGOUT_BATCH_MAX: int(500, 1, 10_000, 'Logouts written to the database in one round trip'),
  LOGOUT_RETRY_BASE_MS: int(200, 10, 60_000, 'First retry delay of a failed logout write (doubles)'),
  LOGOUT_RETRY_MAX_MS: int(10_000, 100, 600_000, 'Largest retry delay of a failed logout write'),
  SHUTDOWN_TIMEOUT_MS: int(10_000, 100, 600_000, 'Graceful shutdown deadline'),
  DRAIN_BATCH: int(500, 1, 100_000, 'Sessions told to reconnect (reconnect frame, close 1012) per drain step on SIGTERM'),
  DRAIN_INTERVAL_MS: int(100, 0, 60_000, 'Pause between drain steps'),
});

export type Env = Static<typeof EnvSchema>;

/** The typed configuration every other module receives; nothing else reads process.env. */
export type Config = Readonly<
  Omit<Env, 'NODE_ID' | 'AUTH_MODE' | 'REDIS_BUCKETS'> & {
    NODE_ID: string;
    AUTH_MODE: 'jwt' | 'none';
    /** Resolved: 64 with REDIS_CLUSTER_NODES, else 1, when not set. */
    REDIS_BUCKETS: number;
  }
>;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Env values are strings; the schema wants numbers and booleans. */
function coerce(schema: TSchema, raw: string): unknown {
  const kind = schema.type;
  if (kind === 'integer' || kind === 'number') {
    const trimmed = raw.trim();
    return /^-?\d+(\.\d+)?$/.test(trimmed) ? Number(trimmed) : raw;
  }
  if (kind === 'boolean') {
    const v = raw.trim().toLowerCase();
    if (['1', 'true', 'yes', 'on'].includes(v)) return true;
    if (['0', 'false', 'no', 'off'].includes(v)) return false;
    return raw;
  }
  return raw;
}

function describe(schema: TSchema, message: string, value: unknown): string {
  if (schema.anyOf) {
    const allowed = (schema.anyOf as TSchema[]).map((s) => s.const).join(', ');
    return `must be one of ${allowed} (got ${JSON.stringify(value)})`;
  }
  if (schema.pattern && typeof value === 'string') return `must match ${schema.pattern}`;
  if (schema.minLength && typeof value === 'string' && value.length < schema.minLength) {
    return `must be at least ${schema.minLength} characters long`;
  }
  if (schema.type === 'integer') {
    return `must be an integer from ${schema.minimum} to ${schema.maximum} (got ${JSON.stringify(value)})`;
  }
  if (schema.type === 'boolean') return `must be true or false (got ${JSON.stringify(value)})`;
  return message.toLowerCase();
}

const PLAYER_KEY_VARIABLES = 'AUTH_JWT_SECRET, AUTH_JWT_PUBLIC_KEY or AUTH_JWT_JWKS_URL';

/** Why a PEM public key cannot verify player tokens, or null when it can (RS256 or ES256). */
function publicKeyProblem(pem: string): string | null {
  let key: KeyObject;
  try {
    key = createPublicKey({ key: pem, format: 'pem' });
  } catch {
    return 'must be a PEM public key (-----BEGIN PUBLIC KEY-----)';
  }
  const details = key.asymmetricKeyDetails;
  if (key.asymmetricKeyType === 'rsa' && (details?.modulusLength ?? 0) >= 2048) return null;
  if (key.asymmetricKeyType === 'ec' && details?.namedCurve === 'prime256v1') return null;
  return 'must be an RSA key of at least 2048 bits (RS256) or an EC P-256 key (ES256)';
}

function defaultNodeId(): string {
  const host = hostname().replace(NON_ID_CHARS_RE, '-').slice(0, 48) || 'node';
  return `${host}-${randomBytes(3).toString('hex')}`;
}

/**
 * Reads and validates the environment. Unset or empty variables take their defaults.
 * @throws ConfigError with one line: `VARIABLE must ...`.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const input: Record<string, unknown> = {};
  for (const [key, schema] of Object.entries(EnvSchema.properties) as [string, TSchema][]) {
    const raw = env[key];
    if (raw === undefined || raw === '') continue;
    input[key] = coerce(schema, raw);
  }
  // Value.Default fills `input` in place: what was set explicitly is known only before.
  const stallLimitSet = input.NODE_STALL_LIMIT_MS !== undefined;
  const payloadLimitSet = input.MAX_PAYLOAD_BYTES !== undefined;
  const withDefaults = Value.Default(EnvSchema, input) as Record<string, unknown>;
  for (const error of Value.Errors(EnvSchema, withDefaults)) {
    const key = error.path.replace(/^\//, '').split('/')[0] ?? '';
    const schema = (EnvSchema.properties as Record<string, TSchema>)[key];
    if (!schema) continue;
    throw new ConfigError(`${key} ${describe(schema, error.message, withDefaults[key])}`);
  }
  const parsed = withDefaults as Env;
  if (parsed.AUTH_JWT_PUBLIC_KEY) {
    parsed.AUTH_JWT_PUBLIC_KEY = parsed.AUTH_JWT_PUBLIC_KEY.replace(/\\n/g, '\n');
    const problem = publicKeyProblem(parsed.AUTH_JWT_PUBLIC_KEY);
    if (problem) throw new ConfigError(`AUTH_JWT_PUBLIC_KEY ${problem}`);
  }
  const hasPlayerKey = Boolean(parsed.AUTH_JWT_SECRET || parsed.AUTH_JWT_PUBLIC_KEY || parsed.AUTH_JWT_JWKS_URL);
  const authMode = parsed.AUTH_MODE ?? (hasPlayerKey ? 'jwt' : 'none');
  if (authMode === 'jwt' && !hasPlayerKey) {
    throw new ConfigError(`${PLAYER_KEY_VARIABLES} must be set when AUTH_MODE=jwt`);
  }
  if (parsed.NODE_ENV === 'production') {
    if (parsed.AUTH_MODE === 'none') throw new ConfigError('AUTH_MODE must not be none when NODE_ENV=production');
    if (!hasPlayerKey) throw new ConfigError(`${PLAYER_KEY_VARIABLES} must be set when NODE_ENV=production`);
    if (!parsed.ADMIN_TOKEN) throw new ConfigError('ADMIN_TOKEN must be set when NODE_ENV=production');
    if (!parsed.GATEHOUSE_EMBEDDED) {
      const missing = [parsed.DATABASE_URL ? '' : 'DATABASE_URL', parsed.REDIS_URL ? '' : 'REDIS_URL'].filter(Boolean);
      if (missing.length > 0) {
        throw new ConfigError(
          `${missing.join(' and ')} must be set when NODE_ENV=production (GATEHOUSE_EMBEDDED=1 runs the embedded database and in-process store on purpose)`,
        );
      }
    }
  }
  if (parsed.REDIS_SENTINELS && !parsed.REDIS_SENTINEL_NAME) {
    throw new ConfigError('REDIS_SENTINEL_NAME must be set when REDIS_SENTINELS is');
  }
  if ((parsed.REDIS_SENTINELS || parsed.REDIS_SENTINEL_NAME) && !parsed.REDIS_URL) {
    throw new ConfigError('REDIS_URL must be set with REDIS_SENTINELS (it carries the password and database)');
  }
  if (parsed.REDIS_CLUSTER_NODES) {
    if (!parsed.REDIS_URL)
      throw new ConfigError('REDIS_URL must be set with REDIS_CLUSTER_NODES (it carries the username, password and TLS; e.g. redis://127.0.0.1)');
    if (parsed.REDIS_SENTINELS) throw new ConfigError('REDIS_CLUSTER_NODES and REDIS_SENTINELS exclude each other (a cluster fails over by itself)');
    const database = new URL(parsed.REDIS_URL).pathname.replace(/^\//, '');
    if (database !== '' && database !== '0') throw new ConfigError(`a Redis Cluster has only database 0; REDIS_URL names database ${database}`);
  }
  const buckets = parsed.REDIS_BUCKETS ?? (parsed.REDIS_CLUSTER_NODES ? DEFAULT_CLUSTER_BUCKETS : 1);
  if (parsed.REDIS_CLUSTER_NODES && buckets < 2) {
    throw new ConfigError('REDIS_BUCKETS must be at least 2 with REDIS_CLUSTER_NODES (with one bucket keys carry no hash tag, and a script would span slots)');
  }
  if (buckets > 1 && /[{}]/.test(parsed.REDIS_KEY_PREFIX)) {
    throw new ConfigError('REDIS_KEY_PREFIX must not contain { or } with REDIS_BUCKETS > 1 (the bucket is the hash tag)');
  }
  if (parsed.NODE_LEASE_INTERVAL_MS * 2 > parsed.NODE_DEAD_AFTER_MS) {
    throw new ConfigError('NODE_DEAD_AFTER_MS must be at least twice NODE_LEASE_INTERVAL_MS');
  }
  if (parsed.NODE_STALL_LIMIT_MS <= parsed.NODE_DEAD_AFTER_MS) {
    // Below the dead-after delay the bound would change nothing: the lease alone reaps sooner.
    if (stallLimitSet) throw new ConfigError('NODE_STALL_LIMIT_MS must exceed NODE_DEAD_AFTER_MS');
    parsed.NODE_STALL_LIMIT_MS = 2 * parsed.NODE_DEAD_AFTER_MS;
  }
  // Nothing valid is longer than a content plus its envelope (type, to, id, room: well under 4 KiB).
  if (!payloadLimitSet) parsed.MAX_PAYLOAD_BYTES = Math.min(parsed.MAX_CONTENT_BYTES + 4096, 64 * 1024 * 1024);
  if (parsed.WATCHDOG_INTERVAL_MS > parsed.HEARTBEAT_TIMEOUT_MS) {
    throw new ConfigError('WATCHDOG_INTERVAL_MS must not exceed HEARTBEAT_TIMEOUT_MS');
  }
  return Object.freeze({ ...parsed, NODE_ID: parsed.NODE_ID ?? defaultNodeId(), AUTH_MODE: authMode, REDIS_BUCKETS: buckets });
}
