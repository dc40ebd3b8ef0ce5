/**
 * Coded HTTP errors and the one error handler. Every error body has the same shape:
 * `{ statusCode, code, error, message }`. 5xx answers never carry internals (the details are
 * logged, the client gets a generic message). The refusal is noted on the request for its log
 * line (src/http/plugins/request-log.ts), which never carries the query string or headers.
 */
import createError from '@fastify/error';
import type { FastifyError, FastifyInstance } from 'fastify';
import { STATUS_CODES } from 'node:http';
import { USER_ID_PATTERN } from './protocol/ids.ts';

export const GatewayErrors = {
  Unauthorized: createError('GW_UNAUTHORIZED', '%s', 401),
  Forbidden: createError('GW_FORBIDDEN', '%s', 403),
  /** A browser page whose Origin is not in ALLOWED_ORIGINS tried to open /ws. */
  OriginRefused: createError('GW_ORIGIN_REFUSED', 'this origin may not open a connection (ALLOWED_ORIGINS)', 403),
  BadUserId: createError('GW_BAD_USER_ID', `userId must match ${USER_ID_PATTERN}`, 400),
  NotFound: createError('GW_NOT_FOUND', '%s', 404),
  Draining: createError('GW_DRAINING', 'this node is shutting down, connect to another one', 503),
  Full: createError('GW_FULL', 'this node is at MAX_CONNECTIONS, try again later', 503),
  /** MAX_PENDING_LOGINS logins in flight (a reconnect storm): retry after Retry-After. */
  Busy: createError('GW_BUSY', 'this node is taking in many logins or running late, retry after Retry-After seconds', 503),
  Unavailable: createError('GW_UNAVAILABLE', '%s', 503),
  Validation: createError('GW_VALIDATION', '%s', 400),
  TooLarge: createError('GW_TOO_LARGE', '%s', 400),
  /** Pushed content the protocol refuses: nested too deeply, or a number outside the doubles. */
  BadContent: createError('GW_BAD_CONTENT', '%s', 400),
  InvalidCursor: createError('GW_INVALID_CURSOR', 'invalid cursor: pass the nextCursor of a previous page unchanged', 400),
} as const;

/** Seconds a client should wait before retrying a 503. */
export const RETRY_AFTER_SECONDS = 2;

export interface ErrorBody {
  statusCode: number;
  code: string;
  error: string;
  message: string;
}

/** Installs the error and not-found handlers on the root instance. */
export function installErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError, request, reply) => {
    let statusCode = err.statusCode && err.statusCode >= 400 ? err.statusCode : 500;
    let code = err.code?.startsWith('GW_') ? err.code : undefined;
    let message = err.message;
    if (err.validation) {
      statusCode = 400;
      code = 'GW_VALIDATION';
      const first = err.validation[0];
      // additionalProperties / required name the field in params, not in the path.
      const params = (first?.params ?? {}) as { additionalProperty?: string; missingProperty?: string };
      const field = params.additionalProperty ?? params.missingProperty;
      const path = `${err.validationContext ?? 'request'}${first?.instancePath ?? ''}${field && !first?.message?.includes(field) ? `/${field}` : ''}`;
      message = `${path} ${first?.message ?? 'is invalid'}`;
    } else if (statusCode >= 500) {
      // A coded 503 (draining, full, a dependency down) is an expected refusal, logged like any
      // other by the request log; anything else is a bug worth its stack trace.
      if (!code) request.log.error({ err }, 'request failed');
      code ??= 'GW_INTERNAL';
      if (!err.code?.startsWith('GW_')) message = 'internal error';
    } else {
      code ??= statusCode === 400 ? 'GW_BAD_REQUEST' : `GW_HTTP_${statusCode}`;
    }
    // A refusal may have set its own (GW_BUSY spreads its retries).
    if (statusCode === 503 && !reply.hasHeader('retry-after')) reply.header('retry-after', String(RETRY_AFTER_SECONDS));
    const body: ErrorBody = { statusCode, code, error: STATUS_CODES[statusCode] ?? 'Error', message };
    request.refusal = { code, message };
    return reply.code(statusCode).send(body);
  });
  app.setNotFoundHandler((request, reply) => {
    const body: ErrorBody = { statusCode: 404, code: 'GW_NOT_FOUND', error: 'Not Found', message: `no route ${request.method} ${request.url.split('?')[0]}` };
    // The message repeats the path, which the log line already carries (cut).
    request.refusal = { code: body.code, message: 'no route' };
    return reply.code(404).send(body);
  });
}
