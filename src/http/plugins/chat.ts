/**
 * Stored chat on the database resource: the persistent groups (`app.groups`), the stored
 * messages of every conversation (`app.messageStore`) and how far each user has received them
 * (`app.conversationPositions`), read by the REST API and written by the gateway. Each is timed
 * per method like the player repository.
 */
import fp from 'fastify-plugin';
import type { ConversationPositions } from '../../chat/conversation-positions.ts';
import type { GroupStore } from '../../chat/group-store.ts';
import type { MessageStore } from '../../chat/message-store.ts';
import { PrismaConversationPositions } from '../../database/prisma-conversation-positions.ts';
import { PrismaGroupStore } from '../../database/prisma-group-store.ts';
import { PrismaMessageStore } from '../../database/prisma-message-store.ts';
import { instrument } from '../../metrics/instrument.ts';
import { RetentionSweeper } from '../../chat/retention-sweeper.ts';

/** How often retention runs (a round deletes at most 50,000 rows). */
const RETENTION_INTERVAL_MS = 60_000;

declare module 'fastify' {
  interface FastifyInstance {
    groups: GroupStore;
    messageStore: MessageStore;
    conversationPositions: ConversationPositions;
  }
}

export default fp(
  async (app) => {
    const { prisma } = app.database;
    const { observeDbCall } = app.metrics;
    app.decorate('groups', instrument(new PrismaGroupStore(prisma, app.config.GROUP_MAX_MEMBERS), observeDbCall));
    app.decorate('messageStore', instrument(new PrismaMessageStore(prisma), observeDbCall));
    app.decorate('conversationPositions', instrument(new PrismaConversationPositions(prisma), observeDbCall));
    // Retention, one node at a time: the lock and the cluster clock are the online store's, there once the app is ready.
    let sweeper: RetentionSweeper | undefined;
    app.addHook('onReady', async () => {
      sweeper = new RetentionSweeper({
        messages: app.messageStore,
        locks: app.locks,
        nodeId: app.config.NODE_ID,
        intervalMs: RETENTION_INTERVAL_MS,
        retentionMs: app.config.MESSAGE_RETENTION_DAYS * 86_400_000,
        keepPerConversation: app.config.MESSAGE_RETENTION_COUNT,
        now: app.clusterClock.now,
        log: app.log,
      });
      sweeper.start();
    });
    app.addHook('onClose', async () => sweeper?.stop());
  },
  // The database plugin closes the database they share.
  { name: 'chat', dependencies: ['config', 'metrics', 'database'] },
);
