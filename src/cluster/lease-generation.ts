/**
 * Lease generations: each registration of a node id gets a new one, and a renewal of any other
 * generation than the one the store holds is refused (fencing, cluster-membership.ts). A store
 * that goes back in time (restored from an older snapshot) may hold an earlier generation of the
 * very process that renews: that is no takeover, and refusing it would make a live node drop all
 * its players. So a generation names its process and counts: `<process incarnation>/<n>`, and a
 * renewal may replace an earlier generation of its own process (nodes/renew-lease.lua mirrors
 * `supersedes`). Another process's generation, or a later one of the same process, still fences.
 */
import { randomUUID } from 'node:crypto';

export class LeaseGenerations {
  private readonly incarnation = randomUUID();
  private count = 0;

  next(): string {
    this.count += 1;
    return `${this.incarnation}/${this.count}`;
  }
}

/** Whether `mine` is a later generation of the same process than `stored`. */
export function supersedes(mine: string, stored: string): boolean {
  const [m, s] = [parse(mine), parse(stored)];
  return m !== undefined && s !== undefined && m.incarnation === s.incarnation && m.n > s.n;
}

function parse(generation: string): { incarnation: string; n: number } | undefined {
  const slash = generation.lastIndexOf('/');
  if (slash < 0) return undefined;
  const n = Number(generation.slice(slash + 1));
  return Number.isSafeInteger(n) ? { incarnation: generation.slice(0, slash), n } : undefined;
}
