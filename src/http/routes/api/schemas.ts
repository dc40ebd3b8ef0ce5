/**
 * TypeBox schemas of the REST API: one source for request validation, response serialization
 * and the OpenAPI document. Every field carries a description, every object an example.
 * Timestamps are integers, milliseconds since the Unix epoch, like the wire protocol's
 * `serverTime` and `ts`.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { MAX_PAGE_LIMIT } from '../../../presence/online-paging.ts';
import { NODE_ID_PATTERN, ROOM_PATTERN, USER_ID_PATTERN, USER_ID_PREFIX_PATTERN } from '../../../protocol/ids.ts';
import { DEFAULT_HISTORY_LIMIT } from '../../../chat/history-page.ts';

const EXAMPLE_TIME = 1763800000000;

const UserId = (description: string) => Type.String({ pattern: USER_ID_PATTERN, description, examples: ['alice'] });
const NodeId = (description: string) => Type.String({ pattern: NODE_ID_PATTERN, description, examples: ['gw-1'] });
const Millis = (description: string) => Type.Integer({ minimum: 0, description, examples: [EXAMPLE_TIME] });
const MillisOrNull = (description: string) => Type.Union([Type.Integer({ minimum: 0 }), Type.Null()], { description, examples: [EXAMPLE_TIME, null] });

/* ----------------------------------------------------------------------------------------- */
/* Shared: the one error body                                                               */

/** `$id` of the shared error body schema (registered once by the swagger plugin). */
export const ERROR_BODY_ID = 'ErrorBody';

/** The body of every error answer (src/errors.ts `ErrorBody`). */
export const ErrorBodySchema = Type.Object(
  {
    statusCode: Type.Integer({ minimum: 400, maximum: 599, description: 'HTTP status code, repeated', examples: [401] }),
    code: Type.String({
      pattern: '^GW_[A-Z0-9_]+$',
      description:
        'Stable machine-readable code: GW_UNAUTHORIZED, GW_FORBIDDEN, GW_VALIDATION, GW_INVALID_CURSOR, GW_NOT_FOUND, GW_UNAVAILABLE, GW_INTERNAL, ...',
      examples: ['GW_UNAUTHORIZED'],
    }),
    error: Type.String({ description: 'HTTP reason phrase of statusCode', examples: ['Unauthorized'] }),
    message: Type.String({
      description: 'Human-readable explanation; for a validation error it names the field. 5xx never carry internals.',
      examples: ['Authorization: Bearer token required'],
    }),
  },
  {
    $id: ERROR_BODY_ID,
    title: ERROR_BODY_ID,
    description: 'Error',
    additionalProperties: false,
    examples: [{ statusCode: 401, code: 'GW_UNAUTHORIZED', error: 'Unauthorized', message: 'Authorization: Bearer token required' }],
  },
);

/** Schemas added with `app.addSchema` before any route (referenced by `$ref`). */
export const sharedSchemas: TSchema[] = [ErrorBodySchema];

/** A response answered with the shared error body, described for this route and status. */
export const errorResponse = (description: string) => Type.Ref(ERROR_BODY_ID, { description });

/** The 401/403 answers of a bearer-protected route. */
export const authErrors = {
  401: errorResponse('GW_UNAUTHORIZED: no `Authorization: Bearer` token, or the token is invalid or expired'),
  403: errorResponse('GW_FORBIDDEN: a player token on an admin route, or a player acting for another user'),
} as const;

/** The 503 answer of a route that needs the online store or the database. */
export const unavailableError = errorResponse('GW_UNAVAILABLE: the online store or the database cannot be reached; retry after `Retry-After` seconds');

/** OpenAPI security requirement of the bearer-protected routes. */
export const bearerSecurity = [{ bearerAuth: [] as string[] }];

/* ----------------------------------------------------------------------------------------- */
/* GET /api/online/players                                                                   */

/** Page size when the query has no `limit`. */
export const DEFAULT_PAGE_LIMIT = 100;

export const ListPlayersQuery = Type.Object({
  limit: Type.Optional(
    Type.Integer({
      minimum: 1,
      maximum: MAX_PAGE_LIMIT,
      default: DEFAULT_PAGE_LIMIT,
      description: `Players per page, 1..${MAX_PAGE_LIMIT}. A page filtered by nodeId may hold fewer (even none) and still have a nextCursor.`,
      examples: [DEFAULT_PAGE_LIMIT],
    }),
  ),
  cursor: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 256,
      description: 'Opaque cursor: the nextCursor of the previous page, unchanged. Omit for the first page.',
      examples: ['cC0wMDk5'],
    }),
  ),
  nodeId: Type.Optional(NodeId('Only players with a live connection on this node')),
  prefix: Type.Optional(
    Type.String({
      pattern: USER_ID_PREFIX_PATTERN,
      description:
        'Only players whose userId starts with this (case-sensitive, the characters of a userId; empty means everyone). ' +
        'Served from a range of the userId index, so it finds players on every page at the cost of one page. ' +
        'Keep it unchanged while following nextCursor. Narrows `total` as well.',
      examples: ['p-01'],
    }),
  ),
});
export type ListPlayersQuery = Static<typeof ListPlayersQuery>;

export const OnlinePlayer = Type.Object(
  {
    userId: UserId('The player'),
    username: Type.String({ description: 'Display name (JWT `name` claim, or the userId)', examples: ['Alice'] }),
    nodeId: NodeId('Gateway node of the most recent login'),
    status: Type.Union([Type.Literal('online'), Type.Literal('reconnecting')], {
      description: 'online: connected; reconnecting: the last connection dropped moments ago and the logout waits LOGOUT_GRACE_MS for a reconnect',
      examples: ['online'],
    }),
    sessions: Type.Integer({ minimum: 0, description: 'Live WebSocket connections of the player in the whole cluster', examples: [1] }),
    connectedAt: Millis('Start of the current logical session (first connection), ms since the Unix epoch'),
    lastHeartbeat: Millis('Last heartbeat known to the online store (flushed about once per second), ms since the Unix epoch'),
  },
  { description: 'An online player', additionalProperties: false },
);

export const OnlinePlayersPage = Type.Object(
  {
    players: Type.Array(OnlinePlayer, { description: 'This page, in userId order' }),
    nextCursor: Type.Optional(Type.String({ description: 'Cursor of the next page; absent when the iteration is complete', examples: ['cC0wMTk5'] })),
    total: Type.Integer({
      minimum: 0,
      description:
        'Players online in the whole cluster at the time of this page whose userId starts with `prefix` (all of them without a prefix); not narrowed by nodeId',
      examples: [2500],
    }),
  },
  {
    description:
      'One page of online players. Paging is stable under churn: a player online during the whole paging run appears exactly once; players who connect or leave meanwhile may or may not appear.',
    additionalProperties: false,
    examples: [
      {
        players: [
          {
            userId: 'alice',
            username: 'Alice',
            nodeId: 'gw-1',
            status: 'online',
            sessions: 1,
            connectedAt: EXAMPLE_TIME,
            lastHeartbeat: EXAMPLE_TIME + 41_000,
          },
        ],
        nextCursor: 'YWxpY2U',
        total: 2500,
      },
    ],
  },
);
export type OnlinePlayersPage = Static<typeof OnlinePlayersPage>;

/* ----------------------------------------------------------------------------------------- */
/* GET /api/online/players/:userId                                                           */

export const PlayerParams = Type.Object({ userId: UserId('The player') });
export type PlayerParams = Static<typeof PlayerParams>;

export const PlayerStatus = Type.Object(
  {
    userId: UserId('The player'),
    username: Type.String({ description: 'Display name (JWT `name` claim, or the userId)', examples: ['Alice'] }),
    status: Type.Union([Type.Literal('online'), Type.Literal('reconnecting'), Type.Literal('offline')], {
      description:
        'online while the player has a live connection anywhere in the cluster; reconnecting during the grace period after a dropped connection (the logout runs when it ends without a reconnect)',
      examples: ['offline'],
    }),
    graceUntil: MillisOrNull('While reconnecting: when the logout happens unless the player reconnects, ms since the Unix epoch; null otherwise'),
    nodeId: Type.Union([Type.String(), Type.Null()], {
      description:
        'Gateway node of the most recent login; once the online store has forgotten the player, the node where their last logical session began (database); null when unknown',
      examples: ['gw-1'],
    }),
    sessions: Type.Integer({ minimum: 0, description: 'Live WebSocket connections in the cluster (0 when offline)', examples: [0] }),
    connectedAt: MillisOrNull('Start of the current (or last) logical session, ms since the Unix epoch; null when unknown'),
    lastHeartbeat: MillisOrNull('Last heartbeat known to the online store, ms since the Unix epoch; null when unknown'),
    logoutTime: MillisOrNull(
      'When the last logical session ended, ms since the Unix epoch (online store, else the database: the last PlayerSession row, or `last_logout_at`); null while online or if never logged out',
    ),
    logoutReason: Type.Union([Type.String(), Type.Null()], {
      description: 'Why the last logical session ended (closed, timeout, logout, kicked, slow, error, shutdown, node_lost); null while online or unknown',
      examples: ['timeout'],
    }),
    lastSpiritGainTime: MillisOrNull(
      'The database `users.last_spirit_gain_time`, stamped at each logout, ms since the Unix epoch; null before the first logout is written',
    ),
  },
  {
    description: "One player's status, online or offline",
    additionalProperties: false,
    examples: [
      {
        userId: 'alice',
        username: 'Alice',
        status: 'offline',
        graceUntil: null,
        nodeId: 'gw-1',
        sessions: 0,
        connectedAt: EXAMPLE_TIME,
        lastHeartbeat: EXAMPLE_TIME + 3_599_000,
        logoutTime: EXAMPLE_TIME + 3_609_000,
        logoutReason: 'timeout',
        lastSpiritGainTime: EXAMPLE_TIME + 3_609_000,
      },
    ],
  },
);
export type PlayerStatus = Static<typeof PlayerStatus>;

/* ----------------------------------------------------------------------------------------- */
/* POST /api/online/logout                                                                   */

export const LogoutBody = Type.Object(
  { userId: UserId("The player to log out. With a player token it must be the token's own `sub`.") },
  { description: 'Who to log out', examples: [{ userId: 'alice' }] },
);
export type LogoutBody = Static<typeof LogoutBody>;

export const LogoutResult = Type.Object(
  {
    loggedOut: Type.Boolean({
      description: 'true when this call ended the logical session; false when the player was not online (a repeated call)',
      examples: [true],
    }),
  },
  { description: 'Outcome of the logout', additionalProperties: false, examples: [{ loggedOut: true }, { loggedOut: false }] },
);
export type LogoutResult = Static<typeof LogoutResult>;

/* ----------------------------------------------------------------------------------------- */
/* GET /ws/stats                                                                             */

export const StatsQuery = Type.Object({
  scope: Type.Optional(
    Type.Union([Type.Literal('node'), Type.Literal('cluster')], {
      default: 'node',
      description: 'node: this node only; cluster: every live node (a node that does not answer within 1 s is listed in `missing`)',
      examples: ['node'],
    }),
  ),
});
export type StatsQuery = Static<typeof StatsQuery>;

const Count = (description: string, example: number) => Type.Integer({ minimum: 0, description, examples: [example] });

export const WsStats = Type.Object(
  {
    nodeId: NodeId('This gateway node'),
    scope: Type.Literal('node', { description: 'Scope of the numbers' }),
    startedAt: Millis('When this node started, ms since the Unix epoch'),
    uptimeSeconds: Type.Number({ minimum: 0, description: 'Seconds since this node started', examples: [3600.5] }),
    draining: Type.Boolean({ description: 'true while shutting down (new connections refused)', examples: [false] }),
    connections: Count('Live WebSocket connections on this node', 1200),
    users: Count('Distinct users with a live connection on this node', 1180),
    connectionsOpened: Count('Connections accepted since start', 5300),
    connectionsClosed: Count('Connections ended since start', 4100),
    messagesIn: Count('Direct messages received from clients since start', 91000),
    messagesOut: Count('Direct messages delivered since start', 90500),
    framesIn: Count('Inbound frames of any type (pings included) since start', 4200000),
    droppedMessages: Count('Outbound messages dropped because a send queue was full, since start', 3),
    heartbeatTimeouts: Count('Sessions closed with 4000 (no heartbeat for HEARTBEAT_TIMEOUT_MS) since start', 17),
    writeTimeouts: Count('Sockets terminated because their buffer did not drain for WRITE_TIMEOUT_MS, since start', 0),
    logoutsByReason: Type.Record(Type.String(), Type.Integer({ minimum: 0 }), {
      description: 'Logouts performed by this node since start, by reason (closed, timeout, logout, kicked, slow, error, shutdown, node_lost)',
      examples: [{ closed: 3900, timeout: 17, logout: 12 }],
    }),
    pendingLogouts: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()], {
      description:
        'Logouts not yet written to the database (cluster-wide queue in the online store) plus session ends waiting for the store; null when the online store cannot be reached',
      examples: [0],
    }),
    sendQueueDepth: Type.Object(
      {
        p50: Count('Median queued messages per live session', 0),
        p99: Count('99th percentile of queued messages per live session', 2),
        max: Count('Largest send queue', 7),
      },
      { description: 'Outbound messages waiting in the send queues of the live sessions, at the time of the request', additionalProperties: false },
    ),
  },
  { description: 'Counters of this gateway node', additionalProperties: false },
);
export type WsStats = Static<typeof WsStats>;

export const ClusterWsStats = Type.Object(
  {
    scope: Type.Literal('cluster', { description: 'Scope of the numbers' }),
    nodeId: NodeId('The node that answered and gathered the others'),
    nodes: Type.Array(WsStats, { description: 'Every node that answered within 1 s, this one first' }),
    missing: Type.Array(NodeId('A live node (by lease) that did not answer in time'), {
      description: 'Live nodes that did not answer within 1 s (not waited for)',
    }),
    totals: Type.Object(
      {
        connections: Count('Connections of the answering nodes', 3000),
        users: Count('Users with a connection on the answering nodes (a user on two nodes counts twice)', 2950),
        messagesIn: Count('Direct messages received', 1200),
        messagesOut: Count('Direct messages delivered', 1190),
        droppedMessages: Count('Messages dropped by full send queues', 0),
        heartbeatTimeouts: Count('Sessions closed by the heartbeat watchdog', 4),
      },
      { description: 'Sums over the answering nodes' },
    ),
  },
  { description: 'Counters of every live node of the cluster' },
);
export type ClusterWsStats = Static<typeof ClusterWsStats>;

/* ----------------------------------------------------------------------------------------- */
/* Rooms and server pushes (http/routes/api/rooms.ts, http/routes/api/messages.ts)                     */

const RoomName = (description: string) => Type.String({ pattern: ROOM_PATTERN, description, examples: ['lobby:eu-1'] });
const PageLimit = (what: string) =>
  Type.Optional(
    Type.Integer({
      minimum: 1,
      maximum: MAX_PAGE_LIMIT,
      default: DEFAULT_PAGE_LIMIT,
      description: `${what} per page, 1..${MAX_PAGE_LIMIT}. A page may hold fewer (entries of dead nodes are left out) and still have a nextCursor.`,
      examples: [DEFAULT_PAGE_LIMIT],
    }),
  );
const PageCursor = Type.Optional(
  Type.String({
    minLength: 1,
    maxLength: 512,
    description: 'Opaque cursor: the nextCursor of the previous page, unchanged. Omit for the first page.',
    examples: ['bG9iYnk'],
  }),
);
const NextCursor = Type.Optional(Type.String({ description: 'Cursor of the next page; absent when the iteration is complete', examples: ['bG9iYnk'] }));
const NodeCounts = Type.Record(Type.String(), Type.Integer({ minimum: 1 }), {
  description: 'Member sessions per live node',
  examples: [{ 'gw-1': 2, 'gw-2': 1 }],
});

export const ListRoomsQuery = Type.Object({ limit: PageLimit('Rooms'), cursor: PageCursor });
export type ListRoomsQuery = Static<typeof ListRoomsQuery>;

export const RoomInfo = Type.Object(
  {
    room: RoomName('The room'),
    localMembers: Type.Integer({ minimum: 0, description: 'Member sessions on the answering node', examples: [2] }),
    clusterMembers: Type.Integer({
      minimum: 0,
      description: 'Member sessions on every live node (membership is per session: a user with two tabs in the room counts twice)',
      examples: [3],
    }),
    nodes: NodeCounts,
  },
  { description: 'A room with members', additionalProperties: false },
);

export const RoomsPage = Type.Object(
  {
    rooms: Type.Array(RoomInfo, { description: 'This page, in room name order' }),
    nextCursor: NextCursor,
  },
  {
    description:
      'One page of the rooms with at least one member session anywhere in the cluster (from the room directory in the online store; it may lag a join or leave by a moment). ' +
      'A room present during the whole paging run appears exactly once.',
    additionalProperties: false,
    examples: [{ rooms: [{ room: 'lobby:eu-1', localMembers: 2, clusterMembers: 3, nodes: { 'gw-1': 2, 'gw-2': 1 } }], nextCursor: 'bG9iYnk6ZXUtMQ' }],
  },
);
export type RoomsPage = Static<typeof RoomsPage>;

export const RoomParams = Type.Object({ room: RoomName('The room') });
export type RoomParams = Static<typeof RoomParams>;

export const ListMembersQuery = Type.Object({ limit: PageLimit('Members'), cursor: PageCursor });
export type ListMembersQuery = Static<typeof ListMembersQuery>;

export const RoomMemberInfo = Type.Object(
  {
    userId: UserId('A member'),
    nodeId: NodeId('Node holding the member sessions'),
    sessions: Type.Integer({ minimum: 1, description: "The user's member sessions on that node", examples: [1] }),
  },
  { description: 'A member user on one node (a user connected to several nodes appears once per node)', additionalProperties: false },
);

export const RoomMembersPage = Type.Object(
  {
    room: RoomName('The room'),
    members: Type.Array(RoomMemberInfo, { description: 'This page, in userId then nodeId order' }),
    nextCursor: NextCursor,
  },
  {
    description: 'One page of the members of a room, cluster-wide (empty when nobody is a member)',
    additionalProperties: false,
    examples: [{ room: 'lobby:eu-1', members: [{ userId: 'alice', nodeId: 'gw-1', sessions: 1 }], nextCursor: 'YWxpY2V8Z3ctMQ' }],
  },
);
export type RoomMembersPage = Static<typeof RoomMembersPage>;

export const PushBody = Type.Object(
  {
    content: Type.Unknown({
      description: 'Any JSON value, delivered as `content` (at most MAX_CONTENT_BYTES once encoded, nested at most 64 levels, numbers within the doubles)',
      examples: [{ event: 'reward', gold: 50 }],
    }),
  },
  { description: 'What to push', examples: [{ content: { event: 'reward', gold: 50 } }] },
);
export type PushBody = Static<typeof PushBody>;

const MessageId = Type.String({ description: 'Server message id of the pushed frame', examples: ['0b6f1c2e-3d4a-4f5b-8c6d-7e8f9a0b1c2d'] });

export const RoomPushResult = Type.Object(
  {
    id: MessageId,
    localSessions: Type.Integer({
      minimum: 0,
      description: 'Member sessions of the answering node that accepted the frame (other nodes deliver to their own members)',
      examples: [2],
    }),
  },
  {
    description: 'The push was handed to every node with members',
    additionalProperties: false,
    examples: [{ id: '0b6f1c2e-3d4a-4f5b-8c6d-7e8f9a0b1c2d', localSessions: 2 }],
  },
);
export type RoomPushResult = Static<typeof RoomPushResult>;

export const UserPushResult = Type.Object(
  {
    id: MessageId,
    status: Type.Union([Type.Literal('delivered'), Type.Literal('queued'), Type.Literal('dropped'), Type.Literal('unconfirmed')], {
      description:
        'delivered: at least one live session of the user took it into its send queue; queued: the user is offline, kept in their offline queue and replayed at their next connection; ' +
        'dropped: the user has live sessions but none took it (send queues full), nothing stored; ' +
        "unconfirmed: handed to the user's node(s), which did not confirm within DELIVERY_RECEIPT_TIMEOUT_MS (it may or may not have arrived)",
      examples: ['queued'],
    }),
    sessions: Type.Optional(Type.Integer({ minimum: 0, description: 'live sessions whose send queue took it (absent when queued)' })),
    dropped: Type.Optional(Type.Integer({ minimum: 0, description: 'live sessions whose send queue refused it, full (absent when queued)' })),
  },
  {
    description: 'Outcome of the push',
    additionalProperties: false,
    examples: [{ id: '0b6f1c2e-3d4a-4f5b-8c6d-7e8f9a0b1c2d', status: 'delivered', sessions: 1, dropped: 0 }],
  },
);
export type UserPushResult = Static<typeof UserPushResult>;

/* ----------------------------------------------------------------------------------------- */
/* Groups and conversation history (http/routes/api/groups.ts, group-members.ts,             */
/* conversation-history.ts)                                                                  */

const GroupId = (description: string) => Type.String({ pattern: USER_ID_PATTERN, description, examples: ['guild-1'] });

/** The request bound of a member list; GROUP_MAX_MEMBERS (configured, at most this) is checked by the route. */
export const GROUP_MEMBERS_LIMIT = 100_000;

export const CreateGroupBody = Type.Object(
  {
    id: Type.Optional(GroupId(`The group id (the userId grammar: ${USER_ID_PATTERN}); its conversation is \`group:<id>\`. Default: a random UUID.`)),
    name: Type.String({ minLength: 1, maxLength: 100, description: 'Display name, 1-100 characters', examples: ['Guild'] }),
    members: Type.Array(UserId('A member'), {
      maxItems: GROUP_MEMBERS_LIMIT,
      description: 'The first members (duplicates count once), at most GROUP_MAX_MEMBERS (500); may be empty',
      examples: [['alice', 'bob']],
    }),
  },
  {
    description: 'The group to create',
    additionalProperties: false,
    examples: [{ id: 'guild-1', name: 'Guild', members: ['alice', 'bob'] }],
  },
);
export type CreateGroupBody = Static<typeof CreateGroupBody>;

export const Group = Type.Object(
  {
    id: GroupId('The group'),
    name: Type.String({ description: 'Display name', examples: ['Guild'] }),
    createdAt: Millis('When the group was created, ms since the Unix epoch'),
    members: Type.Array(UserId('A member'), { description: 'Every member, in code-point order of their userIds' }),
  },
  {
    description: 'A persistent group',
    additionalProperties: false,
    examples: [{ id: 'guild-1', name: 'Guild', createdAt: EXAMPLE_TIME, members: ['alice', 'bob'] }],
  },
);
export type Group = Static<typeof Group>;

export const GroupParams = Type.Object({ groupId: GroupId('The group') });
export type GroupParams = Static<typeof GroupParams>;

export const GroupMemberParams = Type.Object({ groupId: GroupId('The group'), userId: UserId('The member') });
export type GroupMemberParams = Static<typeof GroupMemberParams>;

export const MemberAdded = Type.Object(
  {
    groupId: GroupId('The group'),
    userId: UserId('The member'),
    status: Type.Union([Type.Literal('added'), Type.Literal('already_member')], {
      description: 'added: the user is a member from now on (their live sessions get the group messages at once); already_member: nothing changed',
      examples: ['added'],
    }),
  },
  { description: 'Outcome of the addition', additionalProperties: false, examples: [{ groupId: 'guild-1', userId: 'carol', status: 'added' }] },
);
export type MemberAdded = Static<typeof MemberAdded>;

export const MemberRemoved = Type.Object(
  {
    groupId: GroupId('The group'),
    userId: UserId('The former member'),
    status: Type.Union([Type.Literal('removed'), Type.Literal('not_member')], {
      description:
        'removed: the user is no longer a member (their live sessions stop getting the group messages at once); not_member: nothing changed (admin token only: a player who is not a member gets 404)',
      examples: ['removed'],
    }),
  },
  { description: 'Outcome of the removal', additionalProperties: false, examples: [{ groupId: 'guild-1', userId: 'carol', status: 'removed' }] },
);
export type MemberRemoved = Static<typeof MemberRemoved>;

export const UserGroups = Type.Object(
  {
    userId: UserId('The user'),
    groups: Type.Array(GroupId('A group of the user'), { description: 'The ids of every group the user is a member of, in code-point order (empty: none)' }),
  },
  { description: "A user's groups", additionalProperties: false, examples: [{ userId: 'alice', groups: ['guild-1', 'party-7'] }] },
);
export type UserGroups = Static<typeof UserGroups>;

export { DEFAULT_HISTORY_LIMIT };
/** The largest HISTORY_PAGE_MAX (src/config.ts): the schema's bound, the configured one is checked by the route. */
export const HISTORY_LIMIT_MAX = 1000;

export const ConversationParams = Type.Object({
  conversationId: Type.String({
    description:
      'The conversation: `group:<groupId>`, or `dm:<userA>:<userB>` for two users (sorted in code-point order, every `:` inside a userId written `%3A`). ' +
      'URL-encode it as a path segment (encodeURIComponent): `dm:a:b%3Ac` is sent as `dm%3Aa%3Ab%253Ac`',
    examples: ['group:guild-1'],
  }),
});
export type ConversationParams = Static<typeof ConversationParams>;

const Seq = (description: string) => Type.Integer({ minimum: 0, description, examples: [42] });

export const HistoryQuery = Type.Object({
  before: Type.Optional(Seq('Only messages with a smaller seq: the page is the newest of them (page back with the first seq of the previous page)')),
  after: Type.Optional(Seq('Only messages with a greater seq: the page is the oldest of them (page forward with the last seq of the previous page)')),
  limit: Type.Optional(
    Type.Integer({
      minimum: 1,
      maximum: HISTORY_LIMIT_MAX,
      description: `Messages per page, 1..HISTORY_PAGE_MAX (100); default ${DEFAULT_HISTORY_LIMIT} (HISTORY_PAGE_MAX when that is smaller)`,
      examples: [DEFAULT_HISTORY_LIMIT],
    }),
  ),
});
export type HistoryQuery = Static<typeof HistoryQuery>;

const HistoryMessage = Type.Object(
  {
    seq: Type.Integer({ minimum: 1, description: 'Position in the conversation: 1, 2, 3, ... with no gap and no repeat', examples: [42] }),
    id: Type.String({ description: 'Server message id (the `id` its recipients got)', examples: ['0b6f1c2e-3d4a-4f5b-8c6d-7e8f9a0b1c2d'] }),
    from: Type.Optional(UserId('The sender; absent for a message the server sent')),
    content: Type.Unknown({ description: 'The content, the JSON value that was sent', examples: [{ text: 'gg' }] }),
    ts: Millis('When the server took the message in, ms since the Unix epoch'),
  },
  { description: 'A stored message', additionalProperties: false },
);

export const HistoryPage = Type.Object(
  {
    conversationId: Type.String({ description: 'The conversation', examples: ['group:guild-1'] }),
    messages: Type.Array(HistoryMessage, { description: 'This page, in ascending seq' }),
    hasMore: Type.Boolean({
      description:
        'true when the conversation has more messages on the side this page was taken from: older ones (page back with before=<first seq>) ' +
        'for the newest page or a `before` page, newer ones (page on with after=<last seq>) for an `after` page',
      examples: [false],
    }),
  },
  {
    description:
      "One page of a conversation's stored messages, in ascending seq (a page cut short by its size still holds whole messages, and hasMore is then true)",
    additionalProperties: false,
    examples: [
      {
        conversationId: 'group:guild-1',
        messages: [
          { seq: 41, id: '3c1d2e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f', from: 'alice', content: { text: 'gg' }, ts: EXAMPLE_TIME },
          { seq: 42, id: '0b6f1c2e-3d4a-4f5b-8c6d-7e8f9a0b1c2d', from: 'bob', content: 'see you tomorrow', ts: EXAMPLE_TIME + 4_000 },
        ],
        hasMore: true,
      },
    ],
  },
);
export type HistoryPage = Static<typeof HistoryPage>;
