/**
 * Logger options: pino JSON with the node id on every line, and nothing secret in it. Tokens
 * travel in `?token=` and `Authorization`, so the request serializer strips both.
 */
import type { FastifyServerOptions } from 'fastify';
import type { Config } from './config.ts';

const SECRET_QUERY = /([?&](?:token|access_token)=)[^&#]*/gi;

/** The URL with token query values replaced, safe to log. */
export function redactUrl(url: string): string {
  return url.replace(SECRET_QUERY, '$1[REDACTED]');
}

export function loggerOptions(config: Config): NonNullable<FastifyServerOptions['logger']> {
  return {
    level: config.LOG_LEVEL,
    base: { nodeId: config.NODE_ID },
    redact: {
      paths: ['req.headers.authorization', 'headers.authorization', '*.token', 'token', '*.password'],
      censor: '[REDACTED]',
    },
    serializers: {
      req(request: { method: string; url: string; ip?: string; socket?: { remoteAddress?: string } }) {
        return { method: request.method, url: redactUrl(request.url), remoteAddress: request.ip ?? request.socket?.remoteAddress };
      },
    },
  };
}
