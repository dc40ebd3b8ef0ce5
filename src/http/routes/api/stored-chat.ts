/**
 * What the stored-chat routes (groups, their members, conversation history) share: a database
 * failure answers a logged 503 (never a 500 with its internals), and a group the caller may not
 * see answers exactly like a group that does not exist, so that group ids cannot be probed.
 */
import createError from '@fastify/error';
import type { FastifyBaseLogger, FastifyRequest } from 'fastify';
import { GatewayErrors } from '../../../errors.ts';
import { errorResponse } from './schemas.ts';

/** No such group, or not one of the calling player's. */
export const UnknownGroup = createError('GW_UNKNOWN_GROUP', '%s', 404);

export const databaseUnavailableError = errorResponse('GW_UNAVAILABLE: the database cannot be reached; retry after `Retry-After` seconds');

/** Runs a group or message store call; any failure becomes a logged, coded 503. */
export async function fromDatabase<T>(log: FastifyBaseLogger, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    log.warn({ err: (error as Error).message }, 'database unavailable');
    throw new GatewayErrors.Unavailable('database unavailable, try again later');
  }
}

/** The calling player's userId; undefined for the admin (after `authenticate`). */
export function playerOf(request: FastifyRequest): string | undefined {
  return request.caller?.kind === 'player' ? request.caller.identity.userId : undefined;
}
