/**
 * Plain counters of one node's gateway, read by /ws/stats and the metrics endpoint. Incremented
 * on the hot path, so they are fields, not maps, except the per-close-code table.
 */
export class GatewayCounters {
  opened = 0;
  closed = 0;
  framesIn = 0;
  pings = 0;
  messagesIn = 0;
  messagesOut = 0;
  dropped = 0;
  badFrames = 0;
  rateLimited = 0;
  readonly closedByCode = new Map<number, number>();
}
