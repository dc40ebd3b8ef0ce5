/**
 * buildApp(config): the whole gateway as a Fastify instance, ready to listen. No listen here
 * (server.ts does that) so tests build as many apps as they like.
 */
import Fastify, { type FastifyInstance, type FastifyServerOptions, LogController } from 'fastify';
import { Ajv } from 'ajv';
import type { Config } from './config.ts';
import { installErrorHandler } from './errors.ts';
import { loggerOptions } from './logger.ts';
import configPlugin from './http/plugins/config.ts';
import requestLogPlugin from './http/plugins/request-log.ts';
import upgradeGuardPlugin from './http/plugins/upgrade-guard.ts';
import refusalTarpitPlugin, { answerClientError } from './http/plugins/refusal-tarpit.ts';
import databasePlugin from './http/plugins/database.ts';
import chatPlugin from './http/plugins/chat.ts';
import onlineStorePlugin from './http/plugins/online-store.ts';
import authPlugin from './http/plugins/auth.ts';
import gatewayPlugin from './http/plugins/gateway.ts';
import wsRoute from './http/routes/ws.ts';
import healthRoutes from './http/routes/health.ts';
import broadcastRoutes from './http/routes/api/broadcast.ts';
import swaggerPlugin from './http/plugins/swagger.ts';
import adminAuthPlugin from './http/plugins/admin-auth.ts';
import onlineRoutes from './http/routes/api/online.ts';
import wsStatsRoute from './http/routes/ws-stats.ts';
import roomRoutes from './http/routes/api/rooms.ts';
import messageRoutes from './http/routes/api/messages.ts';
import groupRoutes from './http/routes/api/groups.ts';
import groupMemberRoutes from './http/routes/api/group-members.ts';
import conversationHistoryRoutes from './http/routes/api/conversation-history.ts';
import metricsPlugin from './http/plugins/metrics.ts';
import metricsRoute from './http/routes/metrics.ts';
import nodesRoutes from './http/routes/api/nodes.ts';
import statsHistoryRoutes from './http/routes/api/stats-history.ts';
import adminRoutes from './http/routes/admin.ts';
import clientScriptRoute from './http/routes/client-script.ts';

export interface BuildOptions {
  /** Overrides the logger (tests pass a stream to capture lines, or false). */
  logger?: FastifyServerOptions['logger'];
}

export async function buildApp(config: Config, options: BuildOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    logger: options.logger ?? loggerOptions(config),
    // One bounded line per request instead (src/http/plugins/request-log.ts): Fastify's two
    // lines per request carry the full URL, however long a hostile client makes it.
    logController: new LogController({ disableRequestLogging: true }),
    // An oversized request head (a 15 KB URL, 15 KB of junk headers) is refused by Node's HTTP
    // parser itself (431, connection closed, logged at trace only): no request object, route,
    // hook or log line is spent on it.
    http: { maxHeaderSize: config.HTTP_MAX_HEADER_BYTES },
    // ...answered HTTP_REFUSAL_DELAY_MS late, so that a loop of them waits (refusal-tarpit.ts).
    clientErrorHandler: answerClientError,
    // Frames, not request bodies, are the big payloads; REST bodies stay small.
    bodyLimit: 1024 * 1024,
    // Room names in paths (/api/rooms/:room/...) may be 128 characters, conversation ids
    // (/api/conversations/:conversationId/...) 388 (Fastify's default cap is 100).
    routerOptions: { maxParamLength: 512 },
    // During a drain (app.close() runs the session drain in preClose) requests still reach their
    // routes: readiness answers its own coded 503 and /ws refuses upgrades with GW_DRAINING and
    // Retry-After. Fastify's own closing 503 would skip every hook, and on an upgrade socket
    // nobody would then close the connection, holding the shutdown up to its deadline.
    return503OnClosing: false,
    forceCloseConnections: 'idle',
    // The embedded database (PGlite, WebAssembly) can take several seconds to start on a busy machine.
    pluginTimeout: 60_000,
  });
  // Query strings and params are text: coerce them ("100" -> 100). JSON bodies are typed
  // already: coercing them would accept {"userId": 42} as "42", so bodies are validated strictly.
  const coercing = new Ajv({ coerceTypes: 'array', useDefaults: true, removeAdditional: false, strict: false });
  const strictTypes = new Ajv({ coerceTypes: false, useDefaults: true, removeAdditional: false, strict: false });
  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? strictTypes : coercing).compile(schema));
  installErrorHandler(app);
  await app.register(configPlugin, { config });
  await app.register(requestLogPlugin);
  await app.register(upgradeGuardPlugin);
  // Before every route: it collects them for the OpenAPI document.
  await app.register(swaggerPlugin);
  // Before the stores: they wrap themselves with its timing observers where they are created.
  await app.register(metricsPlugin);
  await app.register(refusalTarpitPlugin);
  await app.register(databasePlugin);
  await app.register(chatPlugin);
  await app.register(onlineStorePlugin);
  await app.register(authPlugin);
  await app.register(adminAuthPlugin);
  await app.register(gatewayPlugin);
  await app.register(wsRoute);
  await app.register(healthRoutes);
  await app.register(onlineRoutes);
  await app.register(wsStatsRoute);
  await app.register(broadcastRoutes);
  await app.register(roomRoutes);
  await app.register(messageRoutes);
  await app.register(groupRoutes);
  await app.register(groupMemberRoutes);
  await app.register(conversationHistoryRoutes);
  await app.register(metricsRoute);
  await app.register(clientScriptRoute);
  await app.register(nodesRoutes);
  await app.register(statsHistoryRoutes);
  await app.register(adminRoutes);
  return app;
}
