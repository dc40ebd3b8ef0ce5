/**
 * GET /api/conversations/:conversationId/messages: a page of a conversation's stored messages
 * (a group's, or the direct messages of two users), like the `history` frame of the WebSocket,
 * for the admin or a participant. A player who takes no part in the conversation gets 404, exactly
 * like a conversation that does not exist: conversation (and group) ids cannot be probed.
 */
import createError from '@fastify/error';
import type { FastifyBaseLogger, FastifyPluginAsync } from 'fastify';
import { isDirectParticipant, parseConversationId, type ParsedConversation } from '../../../protocol/conversation-ids.ts';
import { HISTORY_PAGE_MAX_BYTES, historyMessage, withinPageBytes } from '../../../chat/history-page.ts';
import { GatewayErrors } from '../../../errors.ts';
import { bearerSecurity, authErrors, ConversationParams, DEFAULT_HISTORY_LIMIT, errorResponse, HistoryPage, HistoryQuery } from './schemas.ts';
import { databaseUnavailableError, fromDatabase, playerOf } from './stored-chat.ts';

const BadConversation = createError('GW_BAD_CONVERSATION', '%s', 400);
const UnknownConversation = createError('GW_UNKNOWN_CONVERSATION', '%s', 404);

const conversationHistoryRoutes: FastifyPluginAsync = async (app) => {
  const pageMax = app.config.HISTORY_PAGE_MAX;

  /** Whether the player takes part: one of the two users, or a member of the group (now). */
  async function takesPart(player: string, conversation: ParsedConversation, log: FastifyBaseLogger): Promise<boolean> {
    if (conversation.kind === 'dm') return isDirectParticipant(conversation, player);
    const groups = await fromDatabase(log, () => app.groups.groupsOf([player]));
    return groups.get(player)?.includes(conversation.ids[0]!) === true;
  }

  app.get<{ Params: ConversationParams; Querystring: HistoryQuery; Reply: HistoryPage }>(
    '/api/conversations/:conversationId/messages',
    {
      onRequest: app.authenticate,
      schema: {
        tags: ['chat'],
        summary: "A conversation's messages",
        description:
          'One page of the stored messages of a conversation, in ascending seq: with `after`, the oldest messages after that seq; with `before`, the newest before it; ' +
          'with both, the oldest between them; with neither, the newest. At most `limit`, and at most ' +
          `${HISTORY_PAGE_MAX_BYTES / 1024} KiB of content (a page cut short keeps whole messages, on the side to page on from). ` +
          '`hasMore` says whether to page on. With the admin token for any conversation (one with nothing stored answers an empty page); ' +
          "with a player JWT for the player's own conversations only: one of the two users of a `dm:` conversation, or a current member of the group of a `group:` one.",
        security: bearerSecurity,
        params: ConversationParams,
        querystring: HistoryQuery,
        response: {
          200: HistoryPage,
          400: errorResponse(
            'GW_BAD_CONVERSATION (conversationId is not a conversation id: wrong prefix, an id outside the userId grammar, the users of a `dm:` id not sorted, or a `%3A` not URL-encoded) ' +
              'or GW_VALIDATION (before, after or limit out of range; limit over HISTORY_PAGE_MAX)',
          ),
          401: authErrors[401],
          404: errorResponse('GW_UNKNOWN_CONVERSATION: (player token) a conversation the player takes no part in, or a group that does not exist'),
          503: databaseUnavailableError,
        },
      },
    },
    async (request) => {
      const { conversationId } = request.params;
      const conversation = parseConversationId(conversationId);
      // Not echoed: the path segment is whatever the client sent (the refusal is logged).
      if (!conversation) throw new BadConversation('not a conversation id: group:<groupId> or dm:<userA>:<userB>, URL-encoded');
      const { before, after, limit = Math.min(DEFAULT_HISTORY_LIMIT, pageMax) } = request.query;
      // The schema's bound is the largest HISTORY_PAGE_MAX; this node's own is checked here.
      if (limit > pageMax) throw new GatewayErrors.Validation(`querystring/limit must be <= ${pageMax} (HISTORY_PAGE_MAX)`);
      const player = playerOf(request);
      if (player !== undefined && !(await takesPart(player, conversation, request.log))) {
        throw new UnknownConversation(`${conversationId} is not a conversation of yours`);
      }
      // One more than asked tells whether more lie beyond the page.
      const fetched = await fromDatabase(request.log, () => app.messageStore.page(conversationId, { before, after, limit: limit + 1 }));
      const pagingBack = after === undefined;
      const asked = fetched.length > limit ? (pagingBack ? fetched.slice(1) : fetched.slice(0, limit)) : fetched;
      const page = withinPageBytes(asked, pagingBack);
      return { conversationId, messages: page.map(historyMessage), hasMore: fetched.length > page.length };
    },
  );
};

export default conversationHistoryRoutes;
