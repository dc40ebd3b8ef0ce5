/**
 * Metrics of this node's WebSocket sessions, read from the gateway's plain counters at scrape
 * time: connections, users, sessions opened / closed by close code, frames in / out by type,
 * drops, heartbeat and write timeouts, and a snapshot histogram of the send-queue depths.
 * The WebSocket ping round-trip histogram is fed by the route's pong handler.
 */
import type { Registry } from 'prom-client';
import type { Gateway } from '../gateway/gateway.ts';
import { FRAME_IN_TYPES, FRAME_OUT_TYPES, type FrameCounts } from '../gateway/gateway-counters.ts';
import { BucketHistogram, registerHistogram } from './bucket-histogram.ts';
import { counterFrom, gaugeFrom, labeledCounterFrom } from './read-at-scrape.ts';

/** What the metrics read from the gateway. */
export type GatewayView = Pick<Gateway, 'connections' | 'counters' | 'watchdog' | 'draining' | 'logins' | 'router' | 'receipts' | 'admission'>;

/** Messages waiting in one session's send queue (SEND_QUEUE_MAX defaults to 64). */
export const SEND_QUEUE_DEPTH_BUCKETS = [0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 1024];
/** Seconds; loopback answers in well under a millisecond, mobile networks in hundreds. */
export const PING_RTT_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Label value / count pairs of a per-type counter array, built at scrape time only. */
function byType(labels: readonly string[], counts: FrameCounts | undefined): Array<[string, number]> | undefined {
  return counts && labels.map((label, i) => [label, counts[i] ?? 0]);
}

export interface GatewayMetrics {
  /** Round trips of the watchdog's WebSocket pings, in seconds (fed by http/routes/ws.ts). */
  pingRtt: BucketHistogram;
}

export function registerGatewayMetrics(registry: Registry, gateway: () => GatewayView | undefined): GatewayMetrics {
  const g = gateway;
  gaugeFrom(registry, 'gatehouse_connections', 'Live WebSocket connections on this node', () => g()?.connections.size);
  gaugeFrom(registry, 'gatehouse_connected_users', 'Distinct users with a live WebSocket connection on this node', () => g()?.connections.userCount);
  gaugeFrom(registry, 'gatehouse_draining', '1 while this node is shutting down and refuses new connections', () => {
    const view = g();
    return view ? Number(view.draining) : undefined;
  });
  counterFrom(registry, 'gatehouse_sessions_opened_total', 'WebSocket sessions accepted by this node', () => g()?.counters.opened);
  labeledCounterFrom(
    registry,
    'gatehouse_sessions_closed_total',
    'WebSocket sessions ended on this node, by close code (1000 normal, 1001 going away, 4000 heartbeat timeout, 4001 replaced, 4002 logged out, 4003 slow consumer, 4008 rate limited, 1006 vanished)',
    'code',
    () => g()?.counters.closedByCode,
  );
  labeledCounterFrom(
    registry,
    'gatehouse_frames_in_total',
    'Inbound WebSocket frames by parsed type (ping, message, join, leave, room, ack; invalid = bad JSON, schema or binary; ' +
      'rate_limited = refused unparsed; dropped = never handled: over the early-frame cap while logging in, or the session was closing)',
    'type',
    () => byType(FRAME_IN_TYPES, g()?.counters.framesInByType),
  );
  labeledCounterFrom(
    registry,
    'gatehouse_frames_out_total',
    'Frames accepted by a send queue of this node, by type (connected, pong, message, ack, error, joined, left, room, broadcast, kicked, reconnect); ' +
      'frames dropped on a full queue and messages kept in the offline queue are not counted',
    'type',
    () => byType(FRAME_OUT_TYPES, g()?.counters.framesOutByType),
  );
  gaugeFrom(
    registry,
    'gatehouse_logins_pending',
    'Logins in flight on this node: handshakes past the cheap checks whose connected frame is not sent yet (MAX_PENDING_LOGINS)',
    () => g()?.admission.pending,
  );
  counterFrom(
    registry,
    'gatehouse_logins_deferred_total',
    'Handshakes answered 503 GW_BUSY with Retry-After because MAX_PENDING_LOGINS logins were in flight (a reconnect storm spread out)',
    () => g()?.admission.deferred,
  );
  counterFrom(registry, 'gatehouse_logins_written_total', 'Logins written to the database (user and session rows, batched)', () => g()?.logins.written);
  counterFrom(
    registry,
    'gatehouse_login_write_failures_total',
    'Batches of login writes the database refused (not retried: the logout write upserts the rows)',
    () => g()?.logins.failed,
  );
  counterFrom(registry, 'gatehouse_messages_dropped_total', 'Outbound messages dropped because a send queue was full', () => g()?.counters.dropped);
  counterFrom(
    registry,
    'gatehouse_messages_unheard_total',
    "Deliveries published to a user's owning node that nobody received (node crashed and not reaped yet, or re-subscribing); the sender got NOT_AVAILABLE unless another session took it",
    () => g()?.router.unheard,
  );
  counterFrom(
    registry,
    'gatehouse_delivery_receipts_missing_total',
    "Cross-node deliveries whose owning node received them but sent no receipt within DELIVERY_RECEIPT_TIMEOUT_MS (frozen, overloaded, older version); the sender's ack said unconfirmed unless another session took it",
    () => g()?.receipts.timedOut,
  );
  counterFrom(registry, 'gatehouse_heartbeat_timeouts_total', 'Sessions closed with 4000 after HEARTBEAT_TIMEOUT_MS of silence', () => g()?.watchdog.timeouts);
  counterFrom(
    registry,
    'gatehouse_node_stalled_seconds_total',
    "Time this node did not run (its watchdog ticks came late: stopped, starved, event loop lagging); not counted as its clients' silence",
    () => (g()?.watchdog.stalledMs ?? 0) / 1000,
  );
  counterFrom(
    registry,
    'gatehouse_write_timeouts_total',
    'Sockets terminated because their buffer did not drain for WRITE_TIMEOUT_MS',
    () => g()?.watchdog.writeTimeouts,
  );

  // A snapshot, rebuilt at each scrape from the live sessions (one pass, no per-push cost).
  const depths = new BucketHistogram(SEND_QUEUE_DEPTH_BUCKETS);
  registerHistogram(registry, {
    name: 'gatehouse_send_queue_depth',
    help: 'Messages waiting in the send queue of each live session, sampled at scrape time (count = sessions)',
    collect() {
      depths.reset();
      for (const session of g()?.connections.sessions() ?? []) depths.observe(session.queue.depth);
    },
    series: () => [[{}, depths]],
  });

  const pingRtt = new BucketHistogram(PING_RTT_BUCKETS);
  registerHistogram(registry, {
    name: 'gatehouse_ws_ping_rtt_seconds',
    help: 'Round trip of the WebSocket-level pings the server sends every WS_PING_INTERVAL_MS, ping sent to pong received',
    series: () => [[{}, pingRtt]],
  });
  return { pingRtt };
}
