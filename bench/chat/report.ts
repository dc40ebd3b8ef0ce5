/** The chat benchmark's record (bench/chat/run.ts): its rows, its targets and their Markdown. */
import type { TargetResult } from '../lib/report.ts';
import { OTHER_WORK_LIMIT, type OtherWork } from './machine.ts';
import type { CommitProbe, ThroughputRow } from './store-throughput.ts';
import type { DmPhase, GroupPhase, Percentiles } from './wire-load.ts';

export interface DmRow extends DmPhase {
  persistence: boolean;
  pairs: number;
  ratePerSender: number;
  seconds: number;
  /** The server ran with `node --cpu-prof` (not compared). */
  profiled: boolean;
  /** The node's PostgreSQL backends after the warm-up, and how many were pinned to the load core. */
  pgBackends: { found: number; pinned: number };
  /** PostgreSQL's one-row commit sampled every 50 ms during the phase. */
  pgCommit: CommitProbe;
  /** Other work on the machine meanwhile (both modes' slices together). */
  otherWork: OtherWork;
  /** Persistence on: the phase's rows in `messages` and the transactions that wrote them. */
  stored: { rows: number; transactions: number; meanBatch: number | null } | null;
}

export interface GroupRow extends GroupPhase {
  /** The phase's rows of the group's conversation, and the transactions that wrote them. */
  stored: { rows: number; transactions: number; meanBatch: number | null };
}

export interface ChatRound {
  round: number;
  /** PostgreSQL's one-row commit round trip: the floor under a stored message's latency. */
  commit: CommitProbe | null;
  store: ThroughputRow[];
  dm: DmRow[];
  group: GroupRow | null;
}

export interface ProfileSummary {
  file: string;
  /** The load window the profile was cut to, in s. */
  windowS: number;
  /** bench/profile-summary.ts's summary of that window (top 10). */
  summary: string;
  dm: DmRow;
}

export interface ChatResults {
  date: string;
  command: string;
  mode: 'full' | 'quick';
  durationS: number;
  machine: {
    cpus: number;
    model: string;
    kernel: string;
    node: string;
    memoryMb: number;
    loadBefore: number[];
    loadAfter: number[];
    taskset: boolean;
  };
  git: { commit: string; dirty: boolean };
  settings: Record<string, unknown>;
  rounds: ChatRound[];
  profile: ProfileSummary | null;
  targets: TargetResult[];
  notes: string[];
  errors: string[];
}

const num = (v: number | null | undefined, digits = 0): string =>
  v === null || v === undefined || !Number.isFinite(v) ? '–' : v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const ms = (v: number | null | undefined) => num(v, 2);
const counts = (c: Record<string, number>) =>
  Object.keys(c).length
    ? Object.entries(c)
        .map(([k, n]) => `${k} ${n}`)
        .join(', ')
    : '–';
const verdict = (p: boolean | null): string => (p === null ? 'n/a' : p ? '**pass**' : '**FAIL**');
const pct = (p: Percentiles) => `${ms(p.p50Ms)} / ${ms(p.p95Ms)} / ${ms(p.p99Ms)} / ${ms(p.maxMs)}`;

const dmHeader =
  '| round | MESSAGE_PERSISTENCE | sent | received | lost | recipient p50 / p95 / p99 / max ms | ack p50 / p99 ms | acks | errors | server CPU µs/msg (of which kernel) | stored rows / transactions (mean batch) | PostgreSQL commit meanwhile p50 / p99 ms | generator CPU, loop p99 | other work (cores) |';
const dmAlign = '|---|---|---:|---:|---:|---|---|---|---|---:|---|---|---|---:|';

export const WRITE_TARGET_PER_SEC = 20_000;
export const DM_P99_RATIO_TARGET = 1.5;

/** Why a round's verdict is not given: other work took more than OTHER_WORK_LIMIT of the machine meanwhile. */
function disturbed(work: OtherWork): string | undefined {
  return work.otherCores > OTHER_WORK_LIMIT
    ? `not judged: other work on the machine took ${work.otherCores.toFixed(2)} of its 2 cores meanwhile (limit ${OTHER_WORK_LIMIT})`
    : undefined;
}

/** The two targets, per round. */
export function evaluateTargets(rounds: readonly ChatRound[]): TargetResult[] {
  const targets: TargetResult[] = [];
  for (const r of rounds) {
    const writer = r.store.find((row) => row.database === 'postgres' && row.path === 'writer');
    if (writer) {
      const clean = writer.failed === 0 && writer.rows === writer.expectedRows;
      const busy = disturbed(writer.otherWork);
      targets.push({
        id: `write-throughput-${r.round}`,
        description: `Round ${r.round}: stored messages through MessageWriter into PostgreSQL ≥ ${num(WRITE_TARGET_PER_SEC)}/s`,
        measured: `${num(writer.perSec)}/s (${num(writer.messages)} messages, mean batch ${num(writer.meanBatch, 1)})`,
        limit: `≥ ${num(WRITE_TARGET_PER_SEC)}/s`,
        pass: busy ? null : clean && writer.perSec >= WRITE_TARGET_PER_SEC,
        ...(clean && !busy ? {} : { detail: busy ?? `${writer.failed} failed, ${writer.rows} rows for ${writer.expectedRows} written` }),
      });
    }
    const off = r.dm.find((row) => !row.persistence && !row.profiled);
    const on = r.dm.find((row) => row.persistence && !row.profiled);
    if (off && on) {
      const ratio = on.recipient.p99Ms !== null && off.recipient.p99Ms ? on.recipient.p99Ms / off.recipient.p99Ms : null;
      const complete = off.lost === 0 && on.lost === 0;
      const busy = disturbed(on.otherWork);
      targets.push({
        id: `dm-p99-ratio-${r.round}`,
        description: `Round ${r.round}: direct-message p99 (send → recipient) with MESSAGE_PERSISTENCE=true ≤ ${DM_P99_RATIO_TARGET} × with it off, same run`,
        measured: `${ms(on.recipient.p99Ms)} ms vs ${ms(off.recipient.p99Ms)} ms = ${ratio === null ? '–' : `${ratio.toFixed(2)}×`}`,
        limit: `≤ ${DM_P99_RATIO_TARGET}×`,
        pass: ratio === null || busy ? null : complete && ratio <= DM_P99_RATIO_TARGET,
        ...(complete && !busy ? {} : { detail: busy ?? `lost: ${off.lost} off, ${on.lost} on` }),
      });
    }
  }
  return targets;
}

export function chatMarkdown(results: ChatResults): string {
  const m = results.machine;
  const out: string[] = [];
  out.push(`# Chat benchmark (stored messages) — ${results.date.slice(0, 10)} (${results.mode})`);
  out.push('');
  out.push(`\`${results.command}\``);
  out.push('');
  out.push(
    `${m.cpus} × ${m.model}, ${m.memoryMb} MB, Linux ${m.kernel}, Node ${m.node}. ` +
      (m.taskset
        ? "Gatehouse pinned to core 0; this process (clients, part 1's writer) and the private redis-server to core 1; the PostgreSQL backends serving the node under test to core 1 too (part 1: the backend running the batches to core 0), the rest of PostgreSQL (WAL writer, checkpointer, other users' backends) unpinned. "
        : '**Nothing pinned (no taskset).** ') +
      `Load average before ${m.loadBefore.map((v) => v.toFixed(2)).join(' ')}, after ${m.loadAfter.map((v) => v.toFixed(2)).join(' ')}. ` +
      `Git ${results.git.commit.slice(0, 10)}${results.git.dirty ? ' (uncommitted changes in src/ or prisma/)' : ''}. Total run ${Math.round(results.durationS)} s.`,
  );
  out.push('');
  out.push(
    `"Other work" is the machine's busy time (every core, /proc/stat) minus the CPU of the measurement's own processes (this one, the nodes, the private redis-server, the PostgreSQL backends serving them), in cores: what others ran on the two cores meanwhile. A target is not judged (n/a) for a round whose other work exceeded ${OTHER_WORK_LIMIT} cores.`,
  );
  out.push('');
  for (const note of results.notes) out.push(`- ${note}`);
  if (results.notes.length) out.push('');
  if (results.errors.length) {
    out.push('**Errors:**');
    for (const e of results.errors) out.push(`- ${e}`);
    out.push('');
  }

  out.push('## Targets');
  out.push('');
  out.push('| target | measured | limit | result |');
  out.push('|---|---|---|---|');
  for (const t of results.targets) out.push(`| ${t.description} | ${t.measured} | ${t.limit} | ${verdict(t.pass)}${t.detail ? ` (${t.detail})` : ''} |`);
  out.push('');

  const s = results.settings;
  out.push('## 1. Stored-message write throughput');
  out.push('');
  out.push(
    `In this process (no gateway): messages over ${num(s.conversations as number)} direct conversations, ~70 bytes of content each. ` +
      `**writer**: \`MessageWriter\` (maxBatch ${s.writerMaxBatch}, maxPending ${num(s.writerMaxPending as number)}, the gateway's settings) over \`PrismaMessageStore\`, fed as fast as it takes them with at most ${num(s.storeWindow as number)} not yet durable; latency = write() → durable. ` +
      `**append**: \`store.append\` straight through, one batch of ${s.writerMaxBatch} at a time (the ceiling); latency = one append. ` +
      `Each row on a fresh database (PostgreSQL: a private schema of the test database, pool ${s.poolMax}; embedded: PGlite \`memory://\`) after a warm-up of ${num(s.storeWarmup as number)} messages on the same path. CPU here = this process's (writer, Prisma, pg driver; PGlite's thread for the embedded rows); in PostgreSQL = the backends that ran the batches (/proc). The messages are made before the clock starts.`,
  );
  out.push('');
  out.push(
    '| round | database | path | messages | msg/s | batches | mean batch | p50 ms | p99 ms | max ms | CPU µs/msg here | in PostgreSQL | refused | rows (expected) | other work (cores) |',
  );
  out.push('|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|');
  for (const r of results.rounds) {
    for (const row of r.store) {
      out.push(
        `| ${r.round} | ${row.database === 'postgres' ? 'PostgreSQL' : 'PGlite (memory://)'} | ${row.path} | ${num(row.messages)} | **${num(row.perSec)}** | ${num(row.batches)} | ${num(row.meanBatch, 1)} | ${ms(row.p50Ms)} | ${ms(row.p99Ms)} | ${ms(row.maxMs)} | ${num(row.cpuUsPerMsg, 1)} | ${num(row.backendCpuUsPerMsg, 1)} | ${row.refused} | ${num(row.rows)} (${num(row.expectedRows)})${row.rows === row.expectedRows ? '' : ' **MISMATCH**'} | ${num(row.otherWork.otherCores, 2)} |`,
      );
    }
  }
  out.push('');

  const commits = results.rounds.filter((r) => r.commit);
  if (commits.length) {
    out.push(
      `The floor under a stored message's latency, PostgreSQL's commit (1,000 one-row INSERTs in a row, autocommit: one WAL flush each, fsync and synchronous_commit on): ${commits
        .map((r) => `round ${r.round} p50 ${ms(r.commit!.p50Ms)} / p99 ${ms(r.commit!.p99Ms)} / max ${ms(r.commit!.maxMs)} ms`)
        .join('; ')}.`,
    );
    out.push('');
  }

  out.push('## 2. Direct messages, persistence off vs on');
  out.push('');
  out.push(
    `Two Gatehouse nodes up at once (\`node dist/server.js\`, Redis + PostgreSQL, both on core 0), MESSAGE_PERSISTENCE=false and true, each on its own Redis key prefix and schema, otherwise the same settings; ${s.pairs} sender → recipient pairs connected to each, every sender ${s.ratePerSender} messages/s to its partner (${num((s.pairs as number) * (s.ratePerSender as number))}/s in all) for ${s.dmSeconds} s per mode after a ${s.dmWarmupSeconds} s warm-up, both sides online. ` +
      `The two loads take turns in slices of ~${s.sliceSeconds} s (off-on, on-off, ...), so whatever else the machine does meanwhile hits both modes alike; the figures add up over the slices. ` +
      "Recipient latency = send → the recipient's `message` frame; ack = send → the sender's `ack`. Lost = never received after a 5 s drain. Stored rows / transactions: the phase's rows in `messages` and the distinct transactions (xmin) that wrote them, i.e. the writer's batches. PostgreSQL commit meanwhile: a one-row INSERT (autocommit) every 50 ms on another connection during the phase, what a commit cost then.",
  );
  out.push('');
  out.push(dmHeader);
  out.push(dmAlign);
  const dmLine = (round: string, row: DmRow) =>
    `| ${round} | ${row.persistence ? 'true' : 'false'}${row.profiled ? ' (--cpu-prof)' : ''} | ${num(row.sent)} | ${num(row.received)}${row.duplicates ? ` (+${row.duplicates} dup)` : ''} | ${row.lost} | ${pct(row.recipient)} | ${ms(row.ack.p50Ms)} / ${ms(row.ack.p99Ms)} | ${counts(row.acks)}${row.persistence ? `; with seq ${num(row.acksWithSeq)}` : ''}${row.unacked ? `; **${row.unacked} unacked**` : ''} | ${counts(row.errors)} | ${num(row.serverCpuUsPerMsg, 1)} (${num(row.serverSystemUsPerMsg, 1)}) | ${row.stored ? `${num(row.stored.rows)} / ${num(row.stored.transactions)} (${num(row.stored.meanBatch, 1)})` : '–'} | ${ms(row.pgCommit.p50Ms)} / ${ms(row.pgCommit.p99Ms)} | ${Math.round(row.generatorCpu * 100)} %, ${ms(row.generatorLoopDelayP99Ms)} ms | ${num(row.otherWork.otherCores, 2)} |`;
  for (const r of results.rounds) for (const row of r.dm) out.push(dmLine(String(r.round), row));
  out.push('');
  for (const r of results.rounds) {
    const off = r.dm.find((row) => !row.persistence);
    const on = r.dm.find((row) => row.persistence);
    if (!off || !on) continue;
    const ratio = (a: number | null, b: number | null) => (a !== null && b ? `${(a / b).toFixed(2)}×` : '–');
    out.push(
      `- Round ${r.round}, on / off: recipient p50 ${ratio(on.recipient.p50Ms, off.recipient.p50Ms)}, p99 **${ratio(on.recipient.p99Ms, off.recipient.p99Ms)}**; ack p99 ${ratio(on.ack.p99Ms, off.ack.p99Ms)}; server CPU per message ${ratio(on.serverCpuUsPerMsg, off.serverCpuUsPerMsg)}. ` +
        `The node's PostgreSQL backends pinned to the load core: ${off.pgBackends.pinned}/${off.pgBackends.found} off, ${on.pgBackends.pinned}/${on.pgBackends.found} on.`,
    );
  }
  out.push('');

  if (results.rounds.some((r) => r.group)) {
    out.push('## 3. Group fan-out');
    out.push('');
    out.push(
      `One group of ${s.groupMembers} members (created with \`POST /api/groups\`) on the MESSAGE_PERSISTENCE=true node, after the direct messages; ${s.groupSenders} members send ${s.groupRatePerSender} messages/s each for ${s.groupSeconds} s after a 1 s warm-up. ` +
        "Fan-out = send → the last of the other members' `group` frames; delivery = send → one member's frame. Lost = a message some member never got. Stored rows: the phase's rows of the group's conversation.",
    );
    out.push('');
    out.push(
      '| round | sent | all members got it | missing deliveries | fan-out p50 / p95 / p99 / max ms | delivery p50 / p99 ms | ack p50 / p99 ms | acks | errors | stored rows / transactions (mean batch) | server CPU µs/msg |',
    );
    out.push('|---|---:|---:|---:|---|---|---|---|---|---|---:|');
    for (const r of results.rounds) {
      const g = r.group;
      if (!g) continue;
      out.push(
        `| ${r.round} | ${num(g.sent)} | ${num(g.complete)} | ${num(g.deliveriesMissing)} of ${num(g.deliveriesExpected)} | ${pct(g.fanout)} | ${ms(g.delivery.p50Ms)} / ${ms(g.delivery.p99Ms)} | ${ms(g.ack.p50Ms)} / ${ms(g.ack.p99Ms)} | ${counts(g.acks)}${g.unacked ? `; **${g.unacked} unacked**` : ''} | ${counts(g.errors)} | ${num(g.stored.rows)} / ${num(g.stored.transactions)} (${num(g.stored.meanBatch, 1)})${g.stored.rows === (g.acks.stored ?? 0) ? '' : ' **≠ acks stored**'} | ${num(g.serverCpuUsPerMsg, 1)} |`,
      );
    }
    out.push('');
  }

  if (results.profile) {
    const p = results.profile;
    out.push('## 4. CPU profile of the MESSAGE_PERSISTENCE=true node under the direct-message load');
    out.push('');
    out.push(
      `A separate run after the measured ones (same load, server started with \`node --cpu-prof\`; its figures are not compared): \`${p.file}\` (git-ignored), cut to the ${p.windowS.toFixed(1)} s of the load (start-up and shutdown left out). Self time, % of the busy time of the main thread (a wall-clock sampler: a syscall's time includes waiting to run again; the /proc CPU in the table counts every thread and the kernel):`,
    );
    out.push('');
    out.push(dmHeader);
    out.push(dmAlign);
    out.push(dmLine('profiled', p.dm));
    out.push('');
    out.push('```');
    out.push(p.summary);
    out.push('```');
    out.push('');
  }
  return `${out.join('\n')}\n`;
}
