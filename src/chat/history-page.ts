/**
 * A page of stored messages as a client reads it (the `history` frame and the REST history):
 * the stored content back as the value that was sent, and a page bounded in bytes as well as in
 * messages.
 */
import type { StoredMessage } from './message-store.ts';
import type { StoredMessageView } from '../protocol/frame-types.ts';

/** A page's size when the client asks for none (at most HISTORY_PAGE_MAX). */
export const DEFAULT_HISTORY_LIMIT = 50;

/**
 * Most content bytes in one page: a page goes out as one frame in the bulk lane, whose bound
 * (SEND_QUEUE_MAX_BYTES, 1 MiB by default) it must fit with room to spare. A page cut short is
 * still whole messages in order; the client pages on from its last seq.
 */
export const HISTORY_PAGE_MAX_BYTES = 256 * 1024;

/** One stored message as a page shows it: no `from` for a server message. */
export function historyMessage(message: StoredMessage): StoredMessageView {
  const content: unknown = JSON.parse(message.content);
  return message.sender === null
    ? { seq: message.seq, id: message.id, content, ts: message.sentAt }
    : { seq: message.seq, id: message.id, from: message.sender, content, ts: message.sentAt };
}

/**
 * The page within HISTORY_PAGE_MAX_BYTES of content (at least one message), cut on the side the
 * client pages away from: paging back (no `after`: the newest page, or `before`) keeps the
 * newest, so that the next `before` (its first seq) misses nothing; with `after`, the oldest.
 */
export function withinPageBytes(page: StoredMessage[], keepNewest: boolean): StoredMessage[] {
  let bytes = 0;
  for (let n = 0; n < page.length; n++) {
    bytes += page[keepNewest ? page.length - 1 - n : n]!.content.length;
    if (bytes > HISTORY_PAGE_MAX_BYTES && n > 0) return keepNewest ? page.slice(page.length - n) : page.slice(0, n);
  }
  return page;
}
