/**
 * Conversation ids: `dm:<userA>:<userB>` for the direct conversation of two users (the two ids
 * sorted in code-point order), `group:<groupId>` for a group's. A userId may itself contain `:`,
 * so inside a conversation id every `:` of a userId is written `%3A`: `dm:a:b:c` could be
 * (a, b:c) or (a:b, c), `dm:a:b%3Ac` can only be the first. `%` is not in the id grammar, so the
 * escape is unambiguous. Imports only ids.ts: the SDK loads it as it is.
 */
import { USER_ID_RE } from './ids.ts';

export type ConversationKind = 'dm' | 'group';

export interface ParsedConversation {
  kind: ConversationKind;
  /** dm: the two userIds, sorted; group: the group id alone. */
  ids: readonly string[];
}

/** Longest conversation id: two userIds of 64 `:` each, escaped. */
export const CONVERSATION_ID_MAX_LENGTH = 3 + 64 * 3 + 1 + 64 * 3;

const escapeId = (id: string): string => id.replaceAll(':', '%3A');
const unescapeId = (id: string): string => id.replaceAll('%3A', ':');

/** The direct conversation of two users (the same whoever sends). */
export function directConversationId(userA: string, userB: string): string {
  const [first, second] = userA < userB ? [userA, userB] : [userB, userA];
  return `dm:${escapeId(first)}:${escapeId(second)}`;
}

/** A group's conversation. */
export function groupConversationId(groupId: string): string {
  return `group:${groupId}`;
}

/**
 * The conversation an id names, or undefined when it is not one: wrong prefix, an id outside the
 * grammar, a direct conversation whose users are not sorted (every conversation has one id).
 */
export function parseConversationId(text: string): ParsedConversation | undefined {
  if (text.length > CONVERSATION_ID_MAX_LENGTH) return undefined;
  if (text.startsWith('group:')) {
    const groupId = text.slice(6);
    return USER_ID_RE.test(groupId) ? { kind: 'group', ids: [groupId] } : undefined;
  }
  if (!text.startsWith('dm:')) return undefined;
  const parts = text.slice(3).split(':');
  if (parts.length !== 2) return undefined;
  const [first, second] = parts.map(unescapeId) as [string, string];
  if (!USER_ID_RE.test(first) || !USER_ID_RE.test(second) || !(first <= second)) return undefined;
  // Only the canonical spelling: `%3A` exactly where a `:` was.
  if (directConversationId(first, second) !== text) return undefined;
  return { kind: 'dm', ids: [first, second] };
}

/** Whether a user takes part in a direct conversation (groups: ask the group store). */
export function isDirectParticipant(parsed: ParsedConversation, userId: string): boolean {
  return parsed.kind === 'dm' && (parsed.ids[0] === userId || parsed.ids[1] === userId);
}

/**
 * A group's online members are in the room named like its conversation (`group:<groupId>`):
 * group messages fan out like room messages, to the nodes holding members. Clients may not join,
 * leave or publish to such rooms themselves.
 */
export function isGroupRoom(room: string): boolean {
  return room.startsWith('group:');
}
