/**
 * Persistent groups (guild, party, team chat), whose messages are stored as the conversation
 * `group:<id>`:
 * - POST /api/groups            create a group with its first members (admin)
 * - GET  /api/groups/:groupId   a group and its members (admin, or one of its members)
 * Members come and go through group-members.ts.
 */
import { randomUUID } from 'node:crypto';
import createError from '@fastify/error';
import type { FastifyPluginAsync } from 'fastify';
import { USER_ID_PATTERN } from '../../../protocol/ids.ts';
import { authErrors, bearerSecurity, CreateGroupBody, errorResponse, Group, GroupParams } from './schemas.ts';
import { databaseUnavailableError, fromDatabase, playerOf, UnknownGroup } from './stored-chat.ts';

const GroupExists = createError('GW_GROUP_EXISTS', '%s', 409);
/** A bad request rather than a conflict: the member list alone is over the bound, whatever the state. */
const TooManyMembers = createError('GW_TOO_MANY_MEMBERS', '%s', 400);

const groupRoutes: FastifyPluginAsync = async (app) => {
  const maxMembers = app.config.GROUP_MAX_MEMBERS;

  app.post<{ Body: CreateGroupBody; Reply: Group }>(
    '/api/groups',
    {
      onRequest: app.requireAdmin,
      schema: {
        tags: ['chat'],
        summary: 'Create a group',
        description:
          'Creates a persistent group with its first members (duplicates count once, at most GROUP_MAX_MEMBERS). Its messages (`group` frames of its members) are stored ' +
          'as the conversation `group:<id>`; the live sessions of the members get them from now on, on every node. Without `id`, the group gets a random UUID. Admin token only.',
        security: bearerSecurity,
        body: CreateGroupBody,
        response: {
          201: Group,
          400: errorResponse(
            `GW_VALIDATION (an id or member outside ${USER_ID_PATTERN}, a name outside 1-100 characters, an unknown field; the message names the field) or GW_TOO_MANY_MEMBERS (more than GROUP_MAX_MEMBERS members)`,
          ),
          ...authErrors,
          409: errorResponse('GW_GROUP_EXISTS: a group with this id exists already (nothing changed)'),
          503: databaseUnavailableError,
        },
      },
    },
    async (request, reply) => {
      const { id = randomUUID(), name, members } = request.body;
      if (new Set(members).size > maxMembers) throw new TooManyMembers(`a group has at most GROUP_MAX_MEMBERS (${maxMembers}) members`);
      const result = await fromDatabase(request.log, () => app.groups.create({ id, name, members }));
      if ('refused' in result) {
        if (result.refused === 'exists') throw new GroupExists(`group ${id} exists already`);
        throw new TooManyMembers(`a group has at most GROUP_MAX_MEMBERS (${maxMembers}) members`);
      }
      const group = result.created;
      // The members' open sessions enter the group's room: they get its messages without logging in again.
      await app.gateway.groupMembershipChanged(group.id, group.members, true);
      return reply.code(201).send(group);
    },
  );

  app.get<{ Params: GroupParams; Reply: Group }>(
    '/api/groups/:groupId',
    {
      onRequest: app.authenticate,
      schema: {
        tags: ['chat'],
        summary: 'A group',
        description:
          'A group with its members. With the admin token for any group; with a player JWT for a group the player is a member of ' +
          '(any other answers 404, exactly like a group that does not exist: group ids cannot be probed).',
        security: bearerSecurity,
        params: GroupParams,
        response: {
          200: Group,
          400: errorResponse(`GW_VALIDATION: groupId does not match ${USER_ID_PATTERN}`),
          401: authErrors[401],
          404: errorResponse('GW_UNKNOWN_GROUP: no such group, or (player token) not a group of the player'),
          503: databaseUnavailableError,
        },
      },
    },
    async (request) => {
      const { groupId } = request.params;
      const group = await fromDatabase(request.log, () => app.groups.get(groupId));
      const player = playerOf(request);
      if (!group || (player !== undefined && !group.members.includes(player))) throw new UnknownGroup(`no group ${groupId}`);
      return group;
    },
  );
};

export default groupRoutes;
