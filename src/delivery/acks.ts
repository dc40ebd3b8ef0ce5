/**
 * The ack a sender gets for a direct or room message: what became of it, never more than is
 * known (docs/protocol.md, "Acks").
 */
import type { ServerAckFrame } from '../protocol/frames.ts';

/** Live sessions counted by a delivery. */
export interface SessionCounts {
  /** Sessions whose send queue took it. */
  sessions: number;
  /** Sessions whose send queue refused it (full). */
  dropped: number;
}

/**
 * `sessions` and `dropped` are added only when some session refused the message: the common ack
 * stays `{"type":"ack","id","status"}` (every byte of it goes out once per message), and a
 * partial delivery or a drop says how many sessions took it and how many did not.
 */
export function ackFrame(id: string, status: ServerAckFrame['status'], counts: SessionCounts): ServerAckFrame {
  return counts.dropped > 0 ? { type: 'ack', id, status, sessions: counts.sessions, dropped: counts.dropped } : { type: 'ack', id, status };
}
