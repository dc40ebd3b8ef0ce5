/**
 * The grammar of the ids a player, an operator or a node chooses: userIds (the handshake, the
 * JWT `sub`, `to` / `from` of frames, the REST API), userId prefixes (GET /api/online/players),
 * room names and NODE_ID. One source for the wire protocol's parser, the JSON schemas (requests
 * and the OpenAPI document), the error messages and the configuration.
 *
 * ASCII only, on purpose: both online stores bound a prefix range with the prefix's successor
 * (online-paging.ts), and Redis range syntax characters such as `[` and `(` stay out of keys.
 *
 * No imports, so that a browser can load this file as it is (the admin dashboard).
 */

/** The characters of an id, as the body of a regular-expression character class. */
export const ID_CHARS = 'A-Za-z0-9_.:-';

export const USER_ID_MAX_LENGTH = 64;
export const ROOM_MAX_LENGTH = 128;

/** userId / `to` / `from`: what the handshake accepts (JSON-schema `pattern`). */
export const USER_ID_PATTERN = `^[${ID_CHARS}]{1,${USER_ID_MAX_LENGTH}}$`;
/** The start of a userId, empty allowed (the prefix filter of the online list). */
export const USER_ID_PREFIX_PATTERN = `^[${ID_CHARS}]{0,${USER_ID_MAX_LENGTH}}$`;
/** Room names. */
export const ROOM_PATTERN = `^[${ID_CHARS}]{1,${ROOM_MAX_LENGTH}}$`;
/** NODE_ID follows the userId grammar (it travels in the same places: frames, logs, the API). */
export const NODE_ID_PATTERN = USER_ID_PATTERN;

export const USER_ID_RE = new RegExp(USER_ID_PATTERN);
export const USER_ID_PREFIX_RE = new RegExp(USER_ID_PREFIX_PATTERN);
export const ROOM_RE = new RegExp(ROOM_PATTERN);
/** Every character outside the grammar (to turn a hostname into a node id). */
export const NON_ID_CHARS_RE = new RegExp(`[^${ID_CHARS}]`, 'g');

/** The grammars in words, for error messages. */
export const USER_ID_TEXT = `1-${USER_ID_MAX_LENGTH} characters of A-Z a-z 0-9 _ . : -`;
export const ROOM_TEXT = `1-${ROOM_MAX_LENGTH} characters of A-Z a-z 0-9 _ . : -`;
