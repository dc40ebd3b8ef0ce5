/**
 * One log line per HTTP request, bounded whatever the client sends. Fastify's own request
 * logging is off (app.ts): it wrote two lines per request with the full URL, so one anonymous
 * client sending 15 KB URLs wrote 15 KB of log per request. Here, after the answer:
 * - answered (< 400): `request completed` {method, url (token values redacted, cut to 128
 *   characters), statusCode, ms};
 * - refused (>= 400: error handler, not-found handler, refused handshakes): `request refused`
 *   {method, path (never the query string, cut to 128 characters), statusCode, code, reason, ip},
 *   at most one line per client address per LOG_REFUSALS_WINDOW_MS, the next one counting what
 *   was suppressed (src/util/keyed-log-budget.ts: 4,096 addresses remembered, 100 lines per
 *   window for all addresses together).
 * Headers are never logged.
 */
import fp from 'fastify-plugin';
import { redactUrl } from '../../logger.ts';
import { KeyedLogBudget } from '../../util/keyed-log-budget.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the error and not-found handlers: the coded refusal, for the log line. */
    refusal: { code: string; message: string } | null;
  }
}

/** Longest path or URL in a log line; longer ones are cut, with a marker giving their length. */
export const LOGGED_URL_MAX = 128;

export function cut(text: string, max = LOGGED_URL_MAX): string {
  return text.length > max ? `${text.slice(0, max)}…[${text.length} chars]` : text;
}

export default fp(
  async (app) => {
    const budget = new KeyedLogBudget({
      windowMs: app.config.LOG_REFUSALS_WINDOW_MS,
      maxKeys: 4096,
      linesPerWindow: 100,
      now: Date.now,
    });
    app.decorateRequest('refusal', null);

    app.addHook('onResponse', async (request, reply) => {
      const { statusCode } = reply;
      if (statusCode < 400) {
        request.log.info({ method: request.method, url: cut(redactUrl(request.url)), statusCode, ms: Math.round(reply.elapsedTime) }, 'request completed');
        return;
      }
      const pass = budget.take(request.ip);
      if (!pass) return;
      const query = request.url.indexOf('?');
      const fields = {
        method: request.method,
        path: cut(query === -1 ? request.url : request.url.slice(0, query)),
        statusCode,
        code: request.refusal?.code,
        reason: request.refusal ? cut(request.refusal.message) : undefined,
        ip: request.ip,
        ...(pass.suppressed > 0 ? { suppressed: pass.suppressed } : {}),
        ...(pass.othersSuppressed > 0 ? { othersSuppressed: pass.othersSuppressed } : {}),
      };
      if (statusCode >= 500) app.log.warn(fields, 'request refused');
      else app.log.info(fields, 'request refused');
    });
  },
  { name: 'request-log', dependencies: ['config'] },
);
