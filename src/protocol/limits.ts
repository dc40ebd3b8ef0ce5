/**
 * Limits of the wire protocol that the client SDK checks as well as the server. No import, on
 * purpose: frames.ts loads TypeBox, which the SDK's browser bundle must not carry, so the SDK
 * takes values from here (and from close-codes.ts, error-codes.ts), never from frames.ts.
 */

/** Longest client message id (`id` of message/room/ack frames), in UTF-16 code units. */
export const MAX_CLIENT_ID_LENGTH = 64;
