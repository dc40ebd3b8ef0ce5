/**
 * The admin API's answers as dashboard.js reads them, derived from the routes' own TypeBox
 * schemas (the ones that validate, serialize and document them). dashboard.js names these types
 * in JSDoc (`@typedef {import('./api-types.ts').X}`), so `npm run typecheck` fails when the
 * dashboard reads a field the API does not have. Types only: the browser never loads this file
 * (admin.ts serves just the page, its script and its stylesheet).
 */
import type { Static } from '@sinclair/typebox';
import type { NodesList as NodesListSchema } from '../routes/api/nodes.ts';
import type {
  ErrorBodySchema,
  Group as GroupSchema,
  HistoryPage as HistoryPageSchema,
  LogoutResult as LogoutResultSchema,
  OnlinePlayer as OnlinePlayerSchema,
  OnlinePlayersPage as OnlinePlayersPageSchema,
  RoomsPage as RoomsPageSchema,
  UserGroups as UserGroupsSchema,
  WsStats as WsStatsSchema,
} from '../routes/api/schemas.ts';
import type { StatsHistoryBody } from '../routes/api/stats-history.ts';

/** Every error answer (4xx/5xx). */
export type ErrorBody = Static<typeof ErrorBodySchema>;
/** GET /ws/stats (no `scope`: this node). */
export type WsStats = Static<typeof WsStatsSchema>;
/** GET /api/nodes. */
export type NodesList = Static<typeof NodesListSchema>;
/** GET /api/stats/history. */
export type StatsHistory = Static<typeof StatsHistoryBody>;
/** One sample of {@link StatsHistory}. */
export type HistoryPoint = StatsHistory['points'][number];
/** GET /api/online/players. */
export type OnlinePlayersPage = Static<typeof OnlinePlayersPageSchema>;
/** One player of {@link OnlinePlayersPage}. */
export type OnlinePlayer = Static<typeof OnlinePlayerSchema>;
/** GET /api/rooms. */
export type RoomsPage = Static<typeof RoomsPageSchema>;
/** POST /api/online/logout. */
export type LogoutResult = Static<typeof LogoutResultSchema>;
/** GET /api/groups/:groupId. */
export type Group = Static<typeof GroupSchema>;
/** GET /api/conversations/:conversationId/messages. */
export type HistoryPage = Static<typeof HistoryPageSchema>;
/** One stored message of {@link HistoryPage}. */
export type HistoryMessage = HistoryPage['messages'][number];
/** GET /api/users/:userId/groups. */
export type UserGroups = Static<typeof UserGroupsSchema>;
