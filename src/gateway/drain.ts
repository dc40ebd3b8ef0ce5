/**
 * Draining a node without flapping: sessions are told to reconnect (a `reconnect` frame, then
 * close 1012) in batches, so the other nodes absorb the reconnects gradually instead of a
 * thundering herd. Their ends carry reason `shutdown`, which the logout pipeline delays by the
 * grace period: a player who reconnects elsewhere in time is never logged out.
 *
 * The `reconnect` frame skips the send queue (`sendFinal`): a session whose queue is backed up
 * would otherwise lose it when the close discards the queue, and its client would take the 1012
 * for a plain failure instead of a planned restart.
 */
import { CloseCode, closeReason } from '../protocol/close-codes.ts';
import type { ConnectionManager } from '../connection/connection-manager.ts';
import { encodeServerFrame } from '../protocol/frames.ts';

export interface DrainOptions {
  connections: ConnectionManager;
  batchSize: number;
  intervalMs: number;
  /** Suggested client delay before reconnecting (spreads the reconnects further). */
  reconnectAfterMs?: number;
  /** The `reconnect` frame's reason (default: server restarting). */
  reason?: string;
  sleep?: (ms: number) => Promise<void>;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Closes every session in batches; resolves when the last batch was told to go. */
export async function drainSessions(options: DrainOptions): Promise<number> {
  const sleep = options.sleep ?? defaultSleep;
  const frame = encodeServerFrame({
    type: 'reconnect',
    reason: options.reason ?? 'server restarting',
    ...(options.reconnectAfterMs ? { afterMs: options.reconnectAfterMs } : {}),
  });
  let closed = 0;
  for (;;) {
    // Re-read each round: sessions may have closed by themselves meanwhile.
    const batch = [...options.connections.sessions()].filter((s) => s.state === 'open' || s.state === 'opening').slice(0, options.batchSize);
    if (batch.length === 0) return closed;
    for (const session of batch) {
      if (session.state === 'open') session.sendFinal(frame);
      session.close(CloseCode.RESTART, closeReason(CloseCode.RESTART), 'shutdown');
      closed++;
    }
    await sleep(options.intervalMs);
  }
}
