/**
 * Who is in which persistent group:
 * - PUT    /api/groups/:groupId/members/:userId   add a member (admin)
 * - DELETE /api/groups/:groupId/members/:userId   remove a member (admin), or leave (the member)
 * - GET    /api/users/:userId/groups              a user's groups (admin, or the user)
 * A change is written to the group store first, then the user's live sessions on every node
 * enter or leave the group's room, so they get (or stop getting) its messages at once.
 */
import createError from '@fastify/error';
import type { FastifyPluginAsync } from 'fastify';
import { USER_ID_PATTERN } from '../../../protocol/ids.ts';
import { authErrors, bearerSecurity, errorResponse, GroupMemberParams, MemberAdded, MemberRemoved, PlayerParams, UserGroups } from './schemas.ts';
import { databaseUnavailableError, fromDatabase, playerOf, UnknownGroup } from './stored-chat.ts';

/** A conflict rather than a bad request: the same addition succeeds once someone has left. */
const TooManyMembers = createError('GW_TOO_MANY_MEMBERS', '%s', 409);

const badIds = errorResponse(`GW_VALIDATION: groupId or userId does not match ${USER_ID_PATTERN}`);

const groupMemberRoutes: FastifyPluginAsync = async (app) => {
  app.put<{ Params: GroupMemberParams; Reply: MemberAdded }>(
    '/api/groups/:groupId/members/:userId',
    {
      onRequest: app.requireAdmin,
      schema: {
        tags: ['chat'],
        summary: 'Add a group member',
        description:
          "Makes the user a member of the group: their live sessions, on every node, get the group's messages from now on, and their next login recovers " +
          'the messages stored after this moment (the earlier ones are in the history). Idempotent: a member already in answers `already_member`. Admin token only.',
        security: bearerSecurity,
        params: GroupMemberParams,
        response: {
          200: MemberAdded,
          400: badIds,
          ...authErrors,
          404: errorResponse('GW_UNKNOWN_GROUP: no such group'),
          409: errorResponse('GW_TOO_MANY_MEMBERS: the group has GROUP_MAX_MEMBERS members already (nothing changed)'),
          503: databaseUnavailableError,
        },
      },
    },
    async (request) => {
      const { groupId, userId } = request.params;
      const status = await fromDatabase(request.log, () => app.groups.addMember(groupId, userId));
      if (status === 'no_group') throw new UnknownGroup(`no group ${groupId}`);
      if (status === 'too_many_members') throw new TooManyMembers(`group ${groupId} has GROUP_MAX_MEMBERS (${app.config.GROUP_MAX_MEMBERS}) members already`);
      if (status === 'added') await app.gateway.groupMembershipChanged(groupId, [userId], true);
      return { groupId, userId, status };
    },
  );

  app.delete<{ Params: GroupMemberParams; Reply: MemberRemoved }>(
    '/api/groups/:groupId/members/:userId',
    {
      onRequest: app.authenticate,
      preHandler: app.requireAdminOrSelf((request) => (request.params as GroupMemberParams).userId),
      schema: {
        tags: ['chat'],
        summary: 'Remove a group member',
        description:
          "Ends the user's membership: their live sessions, on every node, stop getting the group's messages at once, and the group's history is no longer theirs to read. " +
          'With the admin token for any member (a user who is not a member answers `not_member`); with a player JWT for the player themself only, to leave a group ' +
          '(a player who is not a member gets 404, exactly like a group that does not exist: group ids cannot be probed).',
        security: bearerSecurity,
        params: GroupMemberParams,
        response: {
          200: MemberRemoved,
          400: badIds,
          ...authErrors,
          404: errorResponse('GW_UNKNOWN_GROUP: no such group, or (player token) not a group of the player'),
          503: databaseUnavailableError,
        },
      },
    },
    async (request) => {
      const { groupId, userId } = request.params;
      const status = await fromDatabase(request.log, () => app.groups.removeMember(groupId, userId));
      // A player may only remove themself: `not_member` would tell them the group exists.
      if (status === 'no_group' || (status === 'not_member' && playerOf(request) !== undefined)) throw new UnknownGroup(`no group ${groupId}`);
      if (status === 'removed') await app.gateway.groupMembershipChanged(groupId, [userId], false);
      return { groupId, userId, status };
    },
  );

  app.get<{ Params: PlayerParams; Reply: UserGroups }>(
    '/api/users/:userId/groups',
    {
      onRequest: app.authenticate,
      preHandler: app.requireAdminOrSelf((request) => (request.params as PlayerParams).userId),
      schema: {
        tags: ['chat'],
        summary: "A user's groups",
        description: 'The ids of the groups the user is a member of. With the admin token for any user; with a player JWT for the player themself only.',
        security: bearerSecurity,
        params: PlayerParams,
        response: {
          200: UserGroups,
          400: errorResponse(`GW_VALIDATION: userId does not match ${USER_ID_PATTERN}`),
          ...authErrors,
          503: databaseUnavailableError,
        },
      },
    },
    async (request) => {
      const { userId } = request.params;
      const groups = (await fromDatabase(request.log, () => app.groups.groupsOf([userId]))).get(userId) ?? [];
      return { userId, groups };
    },
  );
};

export default groupMemberRoutes;
