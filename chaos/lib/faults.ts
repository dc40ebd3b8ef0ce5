/**
 * The fault schedule: seeded, one fault at a time with a recovery gap before each. The kinds are
 * visited in a seeded random order, every enabled kind once before any repeats, so a short run
 * still sees each of them. Durations are seeded too and scaled by `scale` (the CI run uses
 * shorter faults); the Redis cut always outlasts NODE_DEAD_AFTER_MS, so the node is really
 * judged dead by the others.
 */
import { between, derive, type Rng, seeded, shuffle } from './rng.ts';

export const FAULT_KINDS = ['kill', 'stop', 'skew', 'starve', 'redis-restart', 'redis-failover', 'pg-restart', 'redis-cut'] as const;
/** Faults run only when named in `--faults` (the default schedule of a seed stays as it was). */
export const OPT_IN_FAULT_KINDS = ['redis-rewind'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number] | (typeof OPT_IN_FAULT_KINDS)[number];
export const ALL_FAULT_KINDS: readonly FaultKind[] = [...FAULT_KINDS, ...OPT_IN_FAULT_KINDS];

/** Faults of one node; the others touch the shared Redis or PostgreSQL. */
export const NODE_FAULTS: ReadonlySet<FaultKind> = new Set<FaultKind>(['kill', 'stop', 'skew', 'starve', 'redis-cut']);

export interface PlannedFault {
  kind: FaultKind;
  /** Index of the target node (node faults). */
  node: number;
  /** Wait before the fault (recovery from the previous one). */
  gapMs: number;
  /** How long the fault lasts (0: an instant event, then recovery). */
  durationMs: number;
  skewMs?: number;
}

export interface ScheduleOptions {
  seed: number;
  kinds: readonly FaultKind[];
  nodes: number;
  scale: number;
  deadAfterMs: number;
}

export class FaultSchedule {
  private readonly rng: Rng;
  private order: FaultKind[] = [];

  constructor(private readonly options: ScheduleOptions) {
    this.rng = seeded(derive(options.seed, 'faults'));
  }

  next(): PlannedFault {
    if (this.order.length === 0) this.order = shuffle(this.rng, this.options.kinds);
    const kind = this.order.shift()!;
    const { scale, nodes, deadAfterMs } = this.options;
    const r = this.rng;
    const node = Math.floor(r() * nodes);
    const gapMs = Math.round(between(r, 10_000, 20_000) * scale);
    const s = (min: number, max: number, floor: number) => Math.max(floor, Math.round(between(r, min, max) * scale));
    switch (kind) {
      case 'kill':
        return { kind, node, gapMs, durationMs: s(5000, 15_000, 2000) };
      case 'stop':
        return { kind, node, gapMs, durationMs: s(3000, 15_000, 2000) };
      case 'skew':
        return { kind, node, gapMs, durationMs: s(20_000, 40_000, 8000), skewMs: r() < 0.5 ? -60_000 : 60_000 };
      case 'starve':
        return { kind, node, gapMs, durationMs: s(30_000, 60_000, 10_000) };
      case 'redis-cut':
        return { kind, node, gapMs, durationMs: deadAfterMs + s(2000, 8000, 1500) };
      case 'redis-rewind':
        // How old the snapshot is when Redis comes back from it.
        return { kind, node, gapMs, durationMs: s(10_000, 25_000, 4000) };
      default:
        return { kind, node, gapMs, durationMs: 0 };
    }
  }
}
