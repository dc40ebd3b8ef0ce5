/** The hostile benchmark's Markdown report. */
import type { WindowFigures } from './bystanders.ts';
import { type AttackResult, fmtMs, kb } from './catalog.ts';

export interface HostileResults {
  version: 1;
  date: string;
  mode: 'full' | 'quick';
  label: string;
  durationS: number;
  machine: { cpus: number; model: string; node: string; loadBefore: number[]; loadAfter: number[]; taskset: boolean };
  git: { commit: string; dirty: boolean };
  settings: {
    bystanders: number;
    attackMs: number;
    shortAttackMs: number;
    baselineMs: number;
    settleMs: number;
    /** The node's environment (secrets replaced by `<secret>`). */
    nodeEnv: Record<string, string>;
    logFile: string;
  };
  baseline: WindowFigures & { redisCommandsPerSec: number; logBytesPerSec: number; keyspaceBytes: number };
  /** The same window after the last attack (null when the run was interrupted). */
  baselineAfter: WindowFigures | null;
  attacks: AttackResult[];
  nodeRestarts: number;
  errors: string[];
  notes: string[];
}

const verdict = (pass: boolean | null) => (pass === null ? 'n/a' : pass ? 'pass' : '**FAIL**');
const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

export function hostileMarkdown(r: HostileResults): string {
  const lines: string[] = [];
  const b = r.baseline;
  lines.push(`# Hostile clients — ${r.date.slice(0, 10)}${r.label ? ` (${r.label})` : ''}${r.mode === 'quick' ? ' — QUICK run (indicative)' : ''}`);
  lines.push('');
  lines.push(
    `One Gatehouse node (commit \`${r.git.commit.slice(0, 10)}\`${r.git.dirty ? ', src modified' : ''}) on a private Redis and PostgreSQL, ` +
      `${r.settings.bystanders} honest bystanders pinging 1/s throughout. Attacks of ${r.settings.attackMs / 1000} s ` +
      `(HTTP / rate floods ${r.settings.shortAttackMs / 1000} s), ${r.settings.settleMs / 1000} s settle between them. ` +
      `Run took ${Math.round(r.durationS)} s; load average ${r.machine.loadBefore.join(' ')} before, ${r.machine.loadAfter.join(' ')} after.`,
  );
  lines.push('');
  lines.push(
    `**Baseline** (same run, no attack): pong p50 ${fmtMs(b.p50Ms)}, p99 ${fmtMs(b.p99Ms)}, max ${fmtMs(b.maxMs)} over ${b.sent} pings${clientLoop(b)}; ` +
      `Redis ${b.redisCommandsPerSec.toFixed(1)} commands/s, ${kb(b.keyspaceBytes)} of keys; log ${b.logBytesPerSec.toFixed(0)} B/s.`,
  );
  if (r.baselineAfter)
    lines.push(
      `After the last attack, the same window again: pong p50 ${fmtMs(r.baselineAfter.p50Ms)}, p99 ${fmtMs(r.baselineAfter.p99Ms)}, max ${fmtMs(r.baselineAfter.maxMs)}${r.baselineAfter.lost ? `, ${r.baselineAfter.lost} lost` : ''}${clientLoop(r.baselineAfter)} (the targets use the first baseline).`,
    );
  lines.push('');
  lines.push(
    "The bystanders' own event-loop delay (p99 / max) is given with their pongs: a pong waits for it as well, so it is the part of a round trip that was the measuring process's, not the node's.",
  );
  lines.push('');
  lines.push('| # | attack | measured | bystander pong p99 / max (their own loop delay) | Redis added (per session) | log written (per refusal) | targets |');
  lines.push('|---|---|---|---|---|---|---|');
  for (const a of r.attacks) {
    const by = a.bystanders;
    const pong = by
      ? `${fmtMs(by.p99Ms)} / ${fmtMs(by.maxMs)}${by.clientLoopMaxMs !== null && by.clientLoopMaxMs !== undefined ? ` (${fmtMs(by.clientLoopP99Ms)} / ${fmtMs(by.clientLoopMaxMs)})` : ''}${by.lost ? ` (${by.lost} lost)` : ''}${by.disconnects ? `, ${by.disconnects} disconnects` : ''}`
      : '-';
    const redis = a.redis
      ? `${kb(a.redis.keyspaceDeltaBytes)}${a.redis.perSessionBytes !== null ? ` (${kb(a.redis.perSessionBytes)})` : ''}${a.redis.commandsPerSent !== null ? `; ${a.redis.commandsPerSent.toFixed(2)} cmd/frame` : ''}`
      : '-';
    const log = a.log ? `${kb(a.log.bytes)}${a.log.perRefusalBytes !== null ? ` (${Math.round(a.log.perRefusalBytes)} B)` : ''}` : '-';
    const failed = a.targets.filter((t) => t.pass === false).length;
    const passed = a.targets.filter((t) => t.pass === true).length;
    const summary = a.error ? `ERROR: ${a.error.split('\n')[0]}` : (a.outcome?.summary ?? '-');
    lines.push(
      `| ${a.n} | ${cell(a.title)} | ${cell(summary)}${a.nodeCrashed ? ' **node crashed**' : ''} | ${cell(pong)} | ${cell(redis)} | ${cell(log)} | ${failed ? `**${failed} FAIL**` : 'pass'} (${passed}/${a.targets.length}) |`,
    );
  }
  lines.push('');
  lines.push('## Targets');
  lines.push('');
  lines.push('"issue": the targets of issue 16. "expected": what a hostile-by-default gateway does where the issue only asks what happens.');
  lines.push('');
  lines.push('| # | target | source | measured | result |');
  lines.push('|---|---|---|---|---|');
  for (const a of r.attacks) for (const t of a.targets) lines.push(`| ${a.n} | ${cell(t.target)} | ${t.source} | ${cell(t.measured)} | ${verdict(t.pass)} |`);
  const all = r.attacks.flatMap((a) => a.targets);
  lines.push('');
  lines.push(
    `${all.filter((t) => t.pass).length} passed, ${all.filter((t) => t.pass === false).length} failed, ${all.filter((t) => t.pass === null).length} n/a.`,
  );
  lines.push('');
  lines.push('## Details');
  lines.push('');
  for (const a of r.attacks) {
    const o = a.outcome;
    lines.push(
      `- **${a.n}. ${a.id}**${o ? `: sent ${o.sent}; acks ${JSON.stringify(o.acks)}; error frames ${JSON.stringify(o.errors)}` : ''}${o && Object.keys(o.http).length ? `; HTTP ${JSON.stringify(o.http)}` : ''}${o && Object.keys(o.closes).length ? `; closes ${JSON.stringify(o.closes)}` : ''}${o ? `; ${JSON.stringify(o.figures)}` : ''}`,
    );
    if (a.redis)
      lines.push(
        `  Redis: keys ${a.redis.keysDelta >= 0 ? '+' : ''}${a.redis.keysDelta}, used_memory peak +${kb(a.redis.usedMemoryPeakDeltaBytes)}, ${a.redis.commandsNet} commands net; top ${JSON.stringify(a.redis.topCommands)}`,
      );
    if (a.log?.top.length) lines.push(`  Log: ${a.log.lines} lines; ${a.log.top.map((t) => `"${t.message}" ×${t.lines} (${kb(t.bytes)})`).join(', ')}`);
  }
  lines.push('');
  lines.push('## Settings');
  lines.push('');
  lines.push(
    `Node environment: \`${Object.entries(r.settings.nodeEnv)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ')}\``,
  );
  lines.push('');
  lines.push(`Node log: \`${r.settings.logFile}\` (not kept in the repository).`);
  if (r.nodeRestarts) lines.push(`\nThe node was restarted ${r.nodeRestarts} time(s) after dying during an attack.`);
  for (const n of r.notes) lines.push(`\nNote: ${n}`);
  for (const e of r.errors) lines.push(`\nError: ${e}`);
  lines.push('');
  return lines.join('\n');
}

/** `; their own loop delay p99 X / max Y` of a bystanders' window, when measured. */
function clientLoop(w: { clientLoopP99Ms?: number | null; clientLoopMaxMs?: number | null }): string {
  return w.clientLoopMaxMs === null || w.clientLoopMaxMs === undefined
    ? ''
    : `; bystanders' own loop delay p99 ${fmtMs(w.clientLoopP99Ms ?? null)}, max ${fmtMs(w.clientLoopMaxMs)}`;
}
