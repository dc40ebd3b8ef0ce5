/**
 * Rooms for the admin API:
 * - GET  /api/rooms                       rooms with members anywhere, paged (room directory)
 * - GET  /api/rooms/:room/members         a room's members, cluster-wide, paged
 * - POST /api/rooms/:room/messages        push a room frame to every member session once
 * Counts and members come from the room directory in the online store, which each node writes on
 * join and leave; entries of dead nodes are left out (and purged in the background).
 */
import type { FastifyBaseLogger, FastifyInstance, FastifyPluginAsync } from 'fastify';
import { GatewayErrors } from '../../../errors.ts';
import { ROOM_PATTERN } from '../../../protocol/ids.ts';
import { liveNodeIds } from '../../../cluster/node-liveness.ts';
import { InvalidCursorError } from '../../../presence/online-paging.ts';
import { assertPushContent, PUSH_CONTENT_ERRORS } from './push-content.ts';
import {
  authErrors,
  bearerSecurity,
  DEFAULT_PAGE_LIMIT,
  errorResponse,
  ListMembersQuery,
  ListRoomsQuery,
  PushBody,
  RoomMembersPage,
  RoomParams,
  RoomPushResult,
  RoomsPage,
  unavailableError,
} from './schemas.ts';

/** Runs a store call; a bad cursor is a 400, any other failure a logged 503. */
async function guarded<T>(log: FastifyBaseLogger, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof InvalidCursorError || (error as { code?: unknown }).code === 'GW_ERR_INVALID_CURSOR') throw new GatewayErrors.InvalidCursor();
    log.warn({ err: (error as Error).message }, 'online store unavailable');
    throw new GatewayErrors.Unavailable('online store unavailable, try again later');
  }
}

/** Nodes holding a live lease (this one always counts). */
async function liveNodes(app: FastifyInstance): Promise<Set<string>> {
  const now = app.now();
  const nodes = await app.nodeRegistry.listNodes();
  const live = new Set(liveNodeIds(nodes, now, app.config.NODE_DEAD_AFTER_MS));
  live.add(app.config.NODE_ID);
  return live;
}

/** Dead nodes being purged from the directory by this process (one purge per node at a time). */
const purging = new Set<string>();

/**
 * A dead node's share stays in the directory until someone removes it: readers that meet one
 * purge it in the background. A node wrongly taken for dead re-syncs its share by itself.
 */
function purgeInBackground(app: FastifyInstance, nodeIds: Iterable<string>): void {
  for (const nodeId of nodeIds) {
    if (purging.has(nodeId)) continue;
    purging.add(nodeId);
    void (async () => {
      try {
        while ((await app.roomDirectory.purgeNode(nodeId, 200)) > 0);
        app.log.info({ deadNodeId: nodeId }, 'room directory: dead node purged');
      } catch (error) {
        app.log.warn({ deadNodeId: nodeId, err: (error as Error).message }, 'room directory: purge failed');
      } finally {
        purging.delete(nodeId);
      }
    })();
  }
}

const roomRoutes: FastifyPluginAsync = async (app) => {
  app.get<{ Querystring: ListRoomsQuery; Reply: RoomsPage }>(
    '/api/rooms',
    {
      onRequest: app.requireAdmin,
      schema: {
        tags: ['rooms'],
        summary: 'List rooms',
        description:
          'Rooms with at least one member session anywhere in the cluster, in name order, one page at a time: member sessions on the answering node, on the whole cluster and per node. ' +
          'Follow `nextCursor` until it is absent. Admin token only.',
        security: bearerSecurity,
        querystring: ListRoomsQuery,
        response: {
          200: RoomsPage,
          400: errorResponse('GW_VALIDATION (the message names the field) or GW_INVALID_CURSOR'),
          ...authErrors,
          503: unavailableError,
        },
      },
    },
    async (request) => {
      const { limit = DEFAULT_PAGE_LIMIT, cursor } = request.query;
      const [page, live] = await guarded(request.log, () => Promise.all([app.roomDirectory.listRooms({ limit, cursor }), liveNodes(app)]));
      const dead = new Set<string>();
      const rooms: RoomsPage['rooms'] = [];
      for (const { room, nodes } of page.rooms) {
        const counts: Record<string, number> = {};
        let clusterMembers = 0;
        for (const [nodeId, count] of Object.entries(nodes)) {
          if (!live.has(nodeId)) dead.add(nodeId);
          else if (count > 0) {
            counts[nodeId] = count;
            clusterMembers += count;
          }
        }
        if (clusterMembers === 0) continue;
        rooms.push({ room, localMembers: app.gateway.rooms.registry.localCount(room), clusterMembers, nodes: counts });
      }
      purgeInBackground(app, dead);
      return page.nextCursor === undefined ? { rooms } : { rooms, nextCursor: page.nextCursor };
    },
  );

  app.get<{ Params: RoomParams; Querystring: ListMembersQuery; Reply: RoomMembersPage }>(
    '/api/rooms/:room/members',
    {
      onRequest: app.requireAdmin,
      schema: {
        tags: ['rooms'],
        summary: "A room's members",
        description:
          'Members of one room on every live node, in userId order, one page at a time; a user appears once per node holding member sessions, with their count. ' +
          'An unknown or empty room answers an empty list. Admin token only.',
        security: bearerSecurity,
        params: RoomParams,
        querystring: ListMembersQuery,
        response: {
          200: RoomMembersPage,
          400: errorResponse(`GW_VALIDATION (room does not match ${ROOM_PATTERN}, or a bad limit) or GW_INVALID_CURSOR`),
          ...authErrors,
          503: unavailableError,
        },
      },
    },
    async (request) => {
      const { room } = request.params;
      const { limit = DEFAULT_PAGE_LIMIT, cursor } = request.query;
      const [page, live] = await guarded(request.log, () => Promise.all([app.roomDirectory.listMembers(room, { limit, cursor }), liveNodes(app)]));
      const members = page.members.filter((m) => live.has(m.nodeId) && m.sessions > 0);
      purgeInBackground(app, new Set(page.members.filter((m) => !live.has(m.nodeId)).map((m) => m.nodeId)));
      return page.nextCursor === undefined ? { room, members } : { room, members, nextCursor: page.nextCursor };
    },
  );

  app.post<{ Params: RoomParams; Body: PushBody; Reply: RoomPushResult }>(
    '/api/rooms/:room/messages',
    {
      onRequest: app.requireAdmin,
      schema: {
        tags: ['messaging'],
        summary: 'Push to a room',
        description:
          'Pushes `{"type":"room","room":...,"server":true,"content":...,"id":...,"ts":...}` to every member session of the room on every node, each exactly once ' +
          '(no `from`: the server sent it). A room without members accepts it and delivers nothing. Admin token only.',
        security: bearerSecurity,
        params: RoomParams,
        body: PushBody,
        response: {
          200: RoomPushResult,
          400: errorResponse(`GW_VALIDATION (bad room name, no content), ${PUSH_CONTENT_ERRORS}`),
          ...authErrors,
          503: errorResponse('GW_UNAVAILABLE: the other nodes cannot be reached (nothing was sent)'),
        },
      },
    },
    async (request) => {
      const { content } = request.body;
      assertPushContent(content, app.config.MAX_CONTENT_BYTES);
      try {
        return await app.gateway.rooms.push(request.params.room, content);
      } catch (error) {
        request.log.warn({ err: (error as Error).message }, 'room push not sent');
        throw new GatewayErrors.Unavailable('the other nodes cannot be reached, nothing was sent');
      }
    },
  );
};

export default roomRoutes;
