/**
 * Logger options: pino JSON with the node id on every line, once, and nothing secret in it.
 * Tokens travel in `?token=` and `Authorization`, so the request serializer strips both.
 */
import type { FastifyServerOptions } from 'fastify';
import type { Config } from './config.ts';

const SECRET_QUERY = /([?&](?:token|access_token)=)[^&#]*/gi;
/** Longest URL a `req` field carries: a hostile client's 15 KB URL must not become 15 KB of log. */
const REQ_URL_MAX = 128;

/** The URL with token query values replaced, safe to log. */
export function redactUrl(url: string): string {
  return url.replace(SECRET_QUERY, '$1[REDACTED]');
}

type Fields = Record<string, unknown>;

/**
 * `nodeId` belongs to the base bindings, on every line; pino never merges keys, so a log call
 * adding its own would print the key twice (and JSON readers keep the last). The call's copy is
 * dropped when it names this node and becomes `peerNodeId` when it names another one (a notice
 * sent to another node, say). Child loggers must not bind it again (pino applies no formatter
 * to a child's bindings).
 */
function nodeIdOnce(nodeId: string) {
  return {
    log(fields: Fields): Fields {
      if (!('nodeId' in fields)) return fields;
      const { nodeId: named, ...rest } = fields;
      return named === nodeId ? rest : { ...rest, peerNodeId: named };
    },
  };
}

export function loggerOptions(config: Config): NonNullable<FastifyServerOptions['logger']> {
  return {
    level: config.LOG_LEVEL,
    base: { nodeId: config.NODE_ID },
    formatters: nodeIdOnce(config.NODE_ID),
    redact: {
      paths: ['req.headers.authorization', 'headers.authorization', '*.token', 'token', '*.password'],
      censor: '[REDACTED]',
    },
    serializers: {
      req(request: { method: string; url: string; ip?: string; socket?: { remoteAddress?: string } }) {
        const url = redactUrl(request.url);
        return {
          method: request.method,
          url: url.length > REQ_URL_MAX ? `${url.slice(0, REQ_URL_MAX)}…[${url.length} chars]` : url,
          remoteAddress: request.ip ?? request.socket?.remoteAddress,
        };
      },
    },
  };
}
