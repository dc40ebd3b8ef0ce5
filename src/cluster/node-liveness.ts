/**
 * When is a node alive? One rule for every place that asks (the reaper, the last-node rule of a
 * shutdown, /ws/stats and the room API choosing whom to ask, /api/nodes): a node whose lease is
 * at most NODE_DEAD_AFTER_MS old is alive; an older lease is a dead node, whose players the
 * reaper logs out. A renewal exactly `deadAfterMs` ago still counts as alive.
 */
import type { NodeLease } from './node-registry.ts';

export type LeaseStatus = 'alive' | 'late' | 'dead';

/** A lease this old (ms) is still a live node's. */
export function isLeaseLive(leaseAgeMs: number, deadAfterMs: number): boolean {
  return leaseAgeMs <= deadAfterMs;
}

export function isNodeAlive(lease: NodeLease, now: number, deadAfterMs: number): boolean {
  return isLeaseLive(now - lease.lastRenewal, deadAfterMs);
}

/** The ids of the nodes alive at `now`, in the order given. */
export function liveNodeIds(leases: readonly NodeLease[], now: number, deadAfterMs: number): string[] {
  return leases.filter((lease) => isNodeAlive(lease, now, deadAfterMs)).map((lease) => lease.nodeId);
}

/** For operators: alive within two lease intervals, dead past `deadAfterMs` (the reaper's rule), late between. */
export function leaseStatus(leaseAgeMs: number, leaseIntervalMs: number, deadAfterMs: number): LeaseStatus {
  if (!isLeaseLive(leaseAgeMs, deadAfterMs)) return 'dead';
  return leaseAgeMs > 2 * leaseIntervalMs ? 'late' : 'alive';
}
