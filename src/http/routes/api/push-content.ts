/**
 * The content rules of the admin pushes (broadcast, to a user, to a room): those of a client's
 * `message`/`room` frame (protocol/frames.ts `checkContent`), so a push never carries what a
 * player could not send. Fastify's body parser survives any nesting (JSON.parse and
 * secure-json-parse's scan are iterative); JSON.stringify is not, and content nested 10k levels
 * overflowed the stack in the size check (500 GW_INTERNAL). The depth is now checked first, by a
 * walk that stops at MAX_CONTENT_DEPTH.
 */
import { GatewayErrors } from '../../../errors.ts';
import { checkContent, MAX_CONTENT_DEPTH } from '../../../protocol/frames.ts';

/** The 400 answers of a push route, for its schema. */
export const PUSH_CONTENT_ERRORS = `GW_BAD_CONTENT (content nested deeper than ${MAX_CONTENT_DEPTH} levels, or a number outside the double range such as 1e999) or GW_TOO_LARGE (content over MAX_CONTENT_BYTES)`;

/** Throws the coded 400 of content a push may not carry. */
export function assertPushContent(content: unknown, maxContentBytes: number): void {
  const refusal = checkContent(content, maxContentBytes);
  if (refusal === undefined) return;
  if (refusal.code === 'TOO_LARGE') throw new GatewayErrors.TooLarge(`content is over MAX_CONTENT_BYTES (${maxContentBytes})`);
  throw new GatewayErrors.BadContent(refusal.error);
}
