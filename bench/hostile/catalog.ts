/**
 * The attacks of issue 16 ("Hostile clients") and their targets. The first four targets are the
 * issue's own and apply to every attack where they can be measured; the "expected" ones state
 * what a hostile-by-default gateway answers (a coded refusal) where the issue only asks to
 * report what happens.
 */
import type { WindowFigures } from './bystanders.ts';
import type { AttackOutcome } from './attacker.ts';

export interface AttackSpec {
  n: number;
  id: string;
  title: string;
  /** Attack length: the run's attack duration, the short one (HTTP / rate floods), or none (one-shot). */
  length: 'long' | 'short' | 'once';
}

export const ATTACKS: AttackSpec[] = [
  { n: 1, id: 'unknown-recipients', title: '1 player, 45 msg/s × 60 KB to never-seen userIds (logs in again when closed)', length: 'long' },
  { n: 2, id: 'offline-junk', title: '135 junk messages to an offline known user after 1 admin push', length: 'once' },
  { n: 3, id: 'nested-json', title: '8 sessions × 45 frames/s of 498 KB nested JSON', length: 'long' },
  { n: 4, id: 'slow-victim', title: 'flood of a player on a 256 KB/s link (2 senders × 40 msg/s × 16 KB)', length: 'long' },
  { n: 5, id: 'jwt-no-exp', title: 'JWT without `exp` (signed with the node secret)', length: 'once' },
  { n: 6, id: 'big-requests', title: 'anonymous requests with 15 KB URLs / headers, full speed', length: 'short' },
  { n: 7, id: 'rate-flood', title: '2,000 pings/s from one session (rate-limited frames)', length: 'short' },
  { n: 8, id: 'nested-admin', title: 'admin push / broadcast / room push nested 10,000 levels', length: 'once' },
  { n: 9, id: 'huge-numbers', title: 'content numbers outside double range (1e999, 400 digits)', length: 'once' },
  { n: 10, id: 'room-spam', title: 'join/leave spam, 10 sessions × 45 frames/s', length: 'long' },
  { n: 11, id: 'cross-origin', title: 'handshake with `Origin: https://evil.example`', length: 'once' },
];

export interface RedisFigures {
  /** Sum of MEMORY USAGE over the node's prefix: after the attack (sessions closed) − before. */
  keyspaceDeltaBytes: number;
  keysDelta: number;
  perSessionBytes: number | null;
  /** Largest used_memory − used_memory before, polled every 500 ms during the attack. */
  usedMemoryPeakDeltaBytes: number;
  /** Commands during the attack, minus the baseline rate (bystanders' heartbeats) over its time. */
  commandsNet: number;
  commandsPerSent: number | null;
  topCommands: Record<string, number>;
}

export interface LogFigures {
  bytes: number;
  lines: number;
  /** Bytes minus the attackers' session lifecycle lines (opened, closed, logged out). */
  refusalBytes: number;
  perRefusalBytes: number | null;
  top: Array<{ message: string; lines: number; bytes: number }>;
}

export interface AttackResult {
  n: number;
  id: string;
  title: string;
  durationMs: number;
  outcome: AttackOutcome | null;
  error?: string;
  nodeCrashed: boolean;
  bystanders: WindowFigures | null;
  redis: RedisFigures | null;
  log: LogFigures | null;
  targets: TargetResult[];
}

export interface TargetResult {
  source: 'issue' | 'expected';
  target: string;
  measured: string;
  pass: boolean | null;
}

const ms = (v: number | null | undefined) =>
  v === null || v === undefined ? '-' : v === Number.POSITIVE_INFINITY ? '∞ (>1 % lost)' : `${v < 10 ? v.toFixed(1) : Math.round(v)} ms`;
export const kb = (bytes: number) => (Math.abs(bytes) >= 1e6 ? `${(bytes / 1e6).toFixed(1)} MB` : `${(bytes / 1e3).toFixed(1)} KB`);

export function evaluate(r: AttackResult, baselineP99: number | null): TargetResult[] {
  const t: TargetResult[] = [];
  const o = r.outcome;
  if (r.nodeCrashed) t.push({ source: 'issue', target: 'the node survives', measured: 'node process died', pass: false });
  if (r.bystanders) {
    const p99 = r.bystanders.p99Ms;
    const limit = baselineP99 === null ? 100 : Math.min(100, 2 * baselineP99);
    t.push({
      source: 'issue',
      target: `bystander pong p99 ≤ 2× baseline and ≤ 100 ms (≤ ${ms(limit)})`,
      measured: `${ms(p99)} (max ${ms(r.bystanders.maxMs)}, ${r.bystanders.lost} lost, ${r.bystanders.disconnects} disconnects)`,
      pass: p99 === null ? null : p99 <= limit,
    });
  }
  if (o && r.redis && o.sessions > 0) {
    const per = r.redis.perSessionBytes ?? 0;
    t.push({ source: 'issue', target: '≤ 1 MB of Redis per attacking session', measured: `${kb(per)} per session (${o.sessions})`, pass: per <= 1e6 });
  }
  if (o && r.log && o.refusals > 0) {
    const per = r.log.perRefusalBytes ?? 0;
    t.push({
      source: 'issue',
      target: '≤ 300 B of log per refused request',
      measured: `${Math.round(per)} B (${r.log.refusalBytes} B / ${o.refusals})`,
      pass: per <= 300,
    });
  }
  const f = o?.figures ?? {};
  switch (r.id) {
    case 'slow-victim':
      if (o)
        t.push({
          source: 'issue',
          target: '0 `delivered` acks for dropped messages',
          measured: `${f.falseAcks} false of ${f.deliveredAcks} delivered`,
          pass: f.falseAcks === 0,
        });
      break;
    case 'offline-junk':
      if (o)
        t.push({
          source: 'expected',
          target: 'the server push survives the junk',
          measured: `${f.replayServerPushes} of 1 replayed`,
          pass: Number(f.replayServerPushes) >= 1,
        });
      break;
    case 'jwt-no-exp':
    case 'cross-origin':
      if (o) t.push({ source: 'expected', target: 'handshake refused', measured: o.summary, pass: f.status !== 101 });
      break;
    case 'nested-admin': {
      const answers = Object.values((f.answers ?? {}) as Record<string, string>);
      if (o)
        t.push({ source: 'expected', target: 'coded 4xx on every route', measured: answers.join(', '), pass: answers.every((a) => /^4\d\d [A-Z_]+/.test(a)) });
      break;
    }
    case 'huge-numbers':
      if (o)
        t.push({
          source: 'expected',
          target: 'never delivered altered (refused, or intact)',
          measured: `${f.corrupted} altered, ${f.refused} refused`,
          pass: f.corrupted === 0,
        });
      break;
    case 'rate-flood':
      if (o) {
        const seconds = Math.max(1, Math.ceil(r.durationMs / 1000));
        t.push({
          source: 'expected',
          target: `≤ 1 RATE_LIMITED frame per second of flood (≤ ${seconds})`,
          measured: `${f.rateLimitedFrames} frames`,
          pass: Number(f.rateLimitedFrames) <= seconds,
        });
      }
      break;
  }
  if (r.error) t.push({ source: 'issue', target: 'the attack ran', measured: r.error.split('\n')[0] ?? r.error, pass: null });
  return t;
}

export { ms as fmtMs };
