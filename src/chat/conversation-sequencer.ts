/**
 * Numbers the messages of a stored conversation before they are stored, so a direct message is
 * delivered at once with its seq and stored behind it (its sender's ack follows the commit).
 * The counter is shared by every node (Redis) and starts from the database's `last_seq`; the
 * writer stores the message under the number it got, and `last_seq` keeps up with the highest.
 *
 * A number is never handed out twice while the counter lives. A number whose message never
 * became durable (its node died between the two, or the database kept failing) is a seq the
 * conversation never has: history skips it, and so does the SDK's gap fill.
 */
export interface ConversationSequencer {
  /** The next seq of `conversationId` (rejects when the counter cannot be reached: nothing was numbered). */
  next(conversationId: string): Promise<number>;
}
