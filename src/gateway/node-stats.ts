/**
 * This node's numbers for operators (GET /ws/stats) and for the other nodes' cluster-wide
 * request (stats-exchange.ts). Computed on request from the gateway's plain counters and the
 * live sessions; not a hot path.
 */
import type { LogoutPipeline } from '../presence/logout-pipeline.ts';
import type { Gateway } from './gateway.ts';
import { withTimeout } from '../util/promise-timeout.ts';

/** How long the pending-logout count may take before it is reported as null. */
const STORE_TIMEOUT_MS = 1000;

/** The shape of /ws/stats with scope=node (its schema: WsStats in http/routes/api/schemas.ts). */
export interface NodeStats {
  nodeId: string;
  scope: 'node';
  startedAt: number;
  uptimeSeconds: number;
  draining: boolean;
  connections: number;
  users: number;
  connectionsOpened: number;
  connectionsClosed: number;
  messagesIn: number;
  messagesOut: number;
  framesIn: number;
  droppedMessages: number;
  heartbeatTimeouts: number;
  writeTimeouts: number;
  logoutsByReason: Record<string, number>;
  pendingLogouts: number | null;
  sendQueueDepth: { p50: number; p99: number; max: number };
}

/** Nearest-rank percentile of an ascending array (0 when empty). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

export async function collectNodeStats(gateway: Gateway, logout: LogoutPipeline, now: number): Promise<NodeStats> {
  const depths: number[] = [];
  for (const session of gateway.connections.sessions()) depths.push(session.queue.depth);
  depths.sort((a, b) => a - b);
  const pendingLogouts = await withTimeout(logout.pendingCount(), STORE_TIMEOUT_MS).catch(() => null);
  const { counters } = gateway;
  return {
    nodeId: gateway.nodeId,
    scope: 'node' as const,
    startedAt: gateway.startedAt,
    uptimeSeconds: Math.max(0, (now - gateway.startedAt) / 1000),
    draining: gateway.draining,
    connections: gateway.connections.size,
    users: gateway.connections.userCount,
    connectionsOpened: counters.opened,
    connectionsClosed: counters.closed,
    messagesIn: counters.messagesIn,
    messagesOut: counters.messagesOut,
    framesIn: counters.framesIn,
    droppedMessages: counters.dropped,
    heartbeatTimeouts: gateway.watchdog.timeouts,
    writeTimeouts: gateway.watchdog.writeTimeouts,
    logoutsByReason: Object.fromEntries(logout.logoutsByReason),
    pendingLogouts,
    sendQueueDepth: { p50: percentile(depths, 50), p99: percentile(depths, 99), max: depths.at(-1) ?? 0 },
  };
}
