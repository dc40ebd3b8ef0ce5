/**
 * The chaos run's checker: reads a finished run directory (the bots' own records, the nodes'
 * logs, the fault timeline, the ghost observer, and the PostgreSQL / Redis dumps taken at the
 * end) and judges it. The definitions are in chaos/README.md; the must-hold checks are
 * exactly-once logouts, zero false logouts, the ghost bound, nobody online who is gone, and no
 * crash. Runnable alone:  node --import tsx chaos/check.ts <run dir>
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ConnRecord } from './lib/messages.ts';
import type { GhostObservation } from './lib/observer.ts';
import { GRACE_REASONS, LATE_CONFIRMED } from '../src/presence/logout-pipeline.ts';

// ---- inputs -------------------------------------------------------------------------------

/** A bot's connection record (the bot's own fields only). */
type Conn = Omit<ConnRecord, 'ev' | 'proxy'>;

interface ChurnEvent {
  ev: 'quit' | 'vanish' | 'freeze' | 'return';
  u: string;
  t: number;
  lastFrame?: number | null;
  node?: string | null;
}

interface SessionRow {
  id: string;
  userId: string;
  nodeId: string;
  connectedAt: number;
  disconnectedAt: number | null;
  reason: string | null;
}

interface Fault {
  kind: string;
  nodeId?: string;
  start: number;
  end: number;
  skewMs?: number;
  error?: string;
  /** redis-restart / redis-rewind: the restarted primary's log says it loaded an RDB file. */
  loadedFromDisk?: boolean;
  /** redis-restart / redis-rewind: keys it loaded at startup (INFO persistence). */
  loadedKeysAtStart?: number | null;
  /** redis-restart: the marker written before the kill was found after the resync. */
  oldDataBack?: boolean | null;
}

/**
 * Why a Redis restart was not the fault it claims to be (the harness's own promise: an empty
 * restart loads nothing and no old data comes back; a rewind loads its snapshot), or null.
 */
export function unintendedRestart(f: Fault): string | null {
  if (f.kind === 'redis-restart') {
    if (f.loadedFromDisk) return 'the "empty" restart loaded an RDB file';
    if ((f.loadedKeysAtStart ?? 0) > 0) return `the "empty" restart loaded ${f.loadedKeysAtStart} keys`;
    if (f.oldDataBack) return 'the marker written before the kill came back';
  }
  if (f.kind === 'redis-rewind' && (f.loadedFromDisk === false || f.loadedKeysAtStart === 0)) return 'the rewind did not load its snapshot';
  return null;
}

type Ghost = GhostObservation;

const jsonl = <T>(file: string): T[] =>
  existsSync(file)
    ? readFileSync(file, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as T)
    : [];

// ---- helpers ------------------------------------------------------------------------------

function percentile(values: number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

function countBy(keys: readonly string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const k of keys) counts[k] = (counts[k] ?? 0) + 1;
  return counts;
}

type Stats = { n: number; p50: number | null; p99: number | null; max: number | null };

const stats = (values: number[]): Stats => ({
  n: values.length,
  p50: percentile(values, 50),
  p99: percentile(values, 99),
  max: values.length ? Math.max(...values) : null,
});

/**
 * The connection was live at `x`: it had received pongs throughout the `windowMs` before `x`,  and
 * for the second after it (at least one pong a second or more after `x`) (no gap longer than `maxGapMs` overlapping [x - windowMs, x + 1 s]: a
 * lagging node's late pongs still count, a frozen node's silence does not), and it was still open
 * more than a second after `x` (a close and the logout it causes are stamped within ~0.1 s of
 * each other, seen from the bot: measured -89..+110 ms over 1,000 drained connections).
 */
export function liveAt(conn: Pick<Conn, 'firstPong' | 'lastPong' | 'gaps' | 'close'>, x: number, windowMs: number, maxGapMs: number): boolean {
  if (conn.firstPong === null || conn.lastPong === null) return false;
  if (conn.firstPong > x - windowMs || conn.lastPong < x - maxGapMs) return false;
  // Evidence that the node still answered a second after x: a connection whose node froze at x
  // and that the bot then dropped (vanished or quit during the freeze) has no pong after it, and
  // its silence was never recorded as a gap (a gap is recorded when the next pong arrives). A
  // second, not 0: a reaped node's stamp is its last lease renewal, up to one lease interval
  // (1 s) before it froze, and it answered pings until then.
  if (conn.lastPong < x + 1000) return false;
  if (conn.close !== null && conn.close <= x + 1000) return false;
  return !conn.gaps.some(([a, b]) => b - a > maxGapMs && a < x + 1000 && b > x - windowMs);
}

// ---- the check ----------------------------------------------------------------------------

export interface Report {
  run: Record<string, unknown>;
  verdict: { pass: boolean; failed: string[] };
  checks: Record<string, unknown>;
}

export function checkRun(dir: string): Report {
  const raw = join(dir, 'raw');
  const meta = JSON.parse(readFileSync(join(raw, 'meta.json'), 'utf8'));
  const s = meta.settings as Record<string, number>;
  const baseBound = s.HEARTBEAT_TIMEOUT_MS! + s.WATCHDOG_INTERVAL_MS! + 500;
  const nodeDeathBound = 2 * s.NODE_DEAD_AFTER_MS! + s.NODE_LEASE_INTERVAL_MS!;

  const botRecords = readdirSync(join(raw, 'bots')).flatMap((f) => jsonl<Record<string, unknown>>(join(raw, 'bots', f)));
  const conns = botRecords.filter((r) => r.ev === 'conn') as unknown as Conn[];
  const churn = botRecords.filter((r) => ['quit', 'vanish', 'freeze', 'return'].includes(r.ev as string)) as unknown as ChurnEvent[];
  const plans = botRecords.filter((r) => r.ev === 'plan') as unknown as Array<{ u: string; kind: string }>;
  // A bot that quits is gone when it decides to: its connection counts as ended at the quit
  // (the close event comes a round trip later, over a second when the node or the bot lags).
  const quits = churn.filter((e) => e.ev === 'quit');
  for (const c of conns) {
    if (!c.byClient || c.close === null) continue;
    const quit = quits.find((q) => q.u === c.u && q.t >= c.open && q.t <= c.close!);
    if (quit) c.close = quit.t;
  }
  const connsByUser = new Map<string, Conn[]>();
  for (const c of conns) (connsByUser.get(c.u) ?? connsByUser.set(c.u, []).get(c.u)!).push(c);

  const rows = JSON.parse(readFileSync(join(raw, 'db-sessions.json'), 'utf8')) as SessionRow[];
  const faults = jsonl<Fault>(join(raw, 'faults.jsonl'));
  const events = jsonl<Record<string, unknown>>(join(raw, 'events.jsonl'));
  const ghosts = JSON.parse(readFileSync(join(raw, 'observer.json'), 'utf8')) as Ghost[];
  const redisEnd = JSON.parse(readFileSync(join(raw, 'redis-end.json'), 'utf8')) as {
    at: number;
    online: Array<{ userId: string; status: string | null }>;
    bots: Array<{ userId: string; status: string; since: number }>;
  };
  const redisAfter = JSON.parse(readFileSync(join(raw, 'redis-after.json'), 'utf8')) as { online: Array<{ userId: string }> };

  // Node logs: logout lines, crash evidence.
  const logoutLines = new Map<string, Array<{ nodeId: string; reason: string; userId: string; at: number }>>();
  // A skewed node logs (and stamps) on its skewed clock: its log times are turned back into real
  // times with the fault timeline. A time could be read both ways (unskewed, or skewed and
  // really `skewMs` later); a log file is written in real order, so the reading closest after
  // the previous line's real time wins.
  const skews = faults.filter((f) => f.kind === 'skew' && f.skewMs);
  const realTime = (nodeId: string, time: number, previous: number) => {
    const inWindow = (real: number) => skews.some((f) => f.nodeId === nodeId && real >= f.start - 200 && real <= f.end + 200);
    const candidates = [
      ...(inWindow(time) ? [] : [time]),
      ...skews
        .filter((f) => f.nodeId === nodeId)
        .map((f) => time - f.skewMs!)
        .filter((real) => inWindow(real)),
    ];
    if (candidates.length === 0) return time;
    const after = candidates.filter((c) => c >= previous - 2000);
    const pool = after.length > 0 ? after : candidates;
    return pool.reduce((best, c) => (Math.abs(c - previous) < Math.abs(best - previous) ? c : best));
  };
  const crashLines: string[] = [];
  const reaperLines: Array<Record<string, unknown>> = [];
  /** Logical sessions whose logout a node wrote late, after confirming the store had lost them. */
  const confirmedLate = new Set<string>();
  for (const file of readdirSync(join(raw, 'nodes'))) {
    let previous = 0;
    for (const line of readFileSync(join(raw, 'nodes', file), 'utf8').split('\n')) {
      if (!line) continue;
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(line);
      } catch {
        if (/uncaught|unhandled|fatal|^\s*\w*Error\b|gatehouse: failed/i.test(line)) crashLines.push(`${file}: ${line.slice(0, 300)}`);
        continue;
      }
      if (typeof entry.time === 'number') previous = realTime(String(entry.nodeId), entry.time, previous);
      if (entry.msg === 'user logged out') {
        const sid = String(entry.logicalSessionId);
        const nodeId = String(entry.nodeId);
        (logoutLines.get(sid) ?? logoutLines.set(sid, []).get(sid)!).push({
          nodeId,
          reason: String(entry.reason),
          userId: String(entry.userId),
          at: previous,
        });
      } else if (entry.msg === 'reaped dead node') reaperLines.push(entry);
      else if (entry.msg === LATE_CONFIRMED) confirmedLate.add(String(entry.logicalSessionId));
      if (Number(entry.level) >= 60 || /uncaught|unhandled/i.test(String(entry.msg))) crashLines.push(`${file}: ${line.slice(0, 300)}`);
    }
  }

  // 1. Exactly-once.
  const rowById = new Map(rows.map((r) => [r.id, r]));
  const duplicates: Array<{ id: string; lines: number; reasons: string[] }> = [];
  const missing: Array<{ id: string; userId: string; why: string }> = [];
  let withoutLine = 0;
  for (const [sid, lines] of logoutLines) {
    if (lines.length > 1) duplicates.push({ id: sid, lines: lines.length, reasons: lines.map((l) => `${l.nodeId}:${l.reason}`) });
    const row = rowById.get(sid);
    if (!row || row.disconnectedAt === null) missing.push({ id: sid, userId: lines[0]!.userId, why: 'logged out by a node but not closed in the database' });
  }
  for (const row of rows) {
    if (row.disconnectedAt === null) missing.push({ id: row.id, userId: row.userId, why: 'still open in the database after the clean shutdown' });
    else if (!logoutLines.has(row.id)) withoutLine++;
  }

  // 2. False logouts: a logout while the player was demonstrably there. Judged at the stamp T
  // (what the database says) and at the moment P the logout was made (the producing node's log
  // line, in real time): either one falling where a connection of the user was live (liveAt:
  // pongs throughout the 5 s before and the second after, no gap over NODE_DEAD_AFTER_MS, still
  // open more than a second after) is a false logout.
  // A logout written late by design (the store had lost the session: a node confirms that
  // NODE_DEAD_AFTER_MS after the end, logs LATE_CONFIRMED and writes it) is judged at P only
  // against connections that could have resumed that session: one opened after its end (T) plus
  // the grace (LOGOUT_GRACE_MS for the grace reasons, none otherwise) started a logical session
  // of its own. Every other logout is judged at P against any connection (a stamp T on a skewed
  // clock is not to be trusted).
  // Excused, and counted apart: the session's node was cut from Redis at that moment and its
  // connection ended with it: fenced (close 1012 once the cut ended), or closed by the client
  // while the node was still cut off. The cluster could not tell that node from a dead one.
  const W = 5000;
  const maxGap = s.NODE_DEAD_AFTER_MS!;
  const falseLogouts: Array<Record<string, unknown>> = [];
  const excused: Array<Record<string, unknown>> = [];
  const iso = (t: number) => new Date(t).toISOString();
  for (const row of rows) {
    if (row.disconnectedAt === null) continue;
    const T = row.disconnectedAt;
    const P = logoutLines.get(row.id)?.[0]?.at;
    const userConns = connsByUser.get(row.userId) ?? [];
    const atStamp = userConns.find((c) => liveAt(c, T, W, maxGap));
    const resumableUntil = !confirmedLate.has(row.id)
      ? Number.POSITIVE_INFINITY
      : T + ((GRACE_REASONS as ReadonlySet<string>).has(String(row.reason)) ? (s.LOGOUT_GRACE_MS ?? 0) : 0);
    const atLogout = P === undefined ? undefined : userConns.find((c) => c.open <= resumableUntil && liveAt(c, P, W, maxGap));
    const live = atStamp ?? atLogout;
    if (!live) continue;
    const moments = [T, ...(P === undefined ? [] : [P])];
    const cut = faults.find((f) => f.kind === 'redis-cut' && f.nodeId === live.node && moments.some((x) => x >= f.start - 1000 && x <= f.end + 1000));
    const endedWithCut =
      cut !== undefined &&
      live.node === cut.nodeId &&
      live.close !== null &&
      live.close <= cut.end + 15_000 &&
      (live.code === 1012 ? live.close >= cut.end - 1000 : live.close <= cut.end + 1000);
    const finding = {
      logicalSessionId: row.id,
      userId: row.userId,
      reason: row.reason,
      stamp: iso(T),
      loggedOutAt: P === undefined ? null : iso(P),
      judgedAt: atStamp && atLogout ? 'stamp and logout' : atStamp ? 'stamp' : 'logout',
      sessionNode: row.nodeId,
      liveConnection: { sid: live.sid, node: live.node, open: iso(live.open), close: live.close ? iso(live.close) : null, code: live.code },
      ...(cut ? { duringRedisCutOf: cut.nodeId } : {}),
    };
    (endedWithCut ? excused : falseLogouts).push(finding);
  }
  const falseByReason: Record<string, number> = {};
  for (const f of falseLogouts) falseByReason[String(f.reason)] = (falseByReason[String(f.reason)] ?? 0) + 1;

  // 3. Ghost time.
  const clusterFaults = new Set(['redis-restart', 'redis-rewind', 'redis-failover']);
  const faulted = (g: Ghost, until: number) =>
    faults.some((f) => f.start < until && f.end > g.lastFrame - 2000 && (clusterFaults.has(f.kind) || (f.nodeId !== undefined && f.nodeId === g.nodeId)));
  const ghostRows = ghosts.map((g) => {
    const end = g.offlineAt ?? g.censoredAt ?? g.silentAt;
    const ghostMs = end - g.lastFrame;
    const bound = baseBound + (faulted(g, end) ? nodeDeathBound : 0);
    // The observer brackets the moment the player went offline: last seen online (lower) and
    // first seen offline (upper, `ghostMs`), 250 ms polls plus the answer's latency apart. Over
    // the bound means demonstrably: seen online past it. Seen online within it and offline past
    // it is unresolved at the observer's resolution, reported apart.
    const lowerMs = Math.max(g.lastOnlineAt ?? g.silentAt, g.silentAt) - g.lastFrame;
    return { ...g, ghostMs, lowerMs, censored: g.offlineAt === null, bound, over: lowerMs > bound, unresolved: lowerMs <= bound && ghostMs > bound };
  });
  const ghostViolations = ghostRows.filter((g) => g.over);
  const ghostUnresolved = ghostRows.filter((g) => g.unresolved);
  const ghostExample = (g: (typeof ghostRows)[number]) => ({
    userId: g.userId,
    kind: g.kind,
    nodeId: g.nodeId,
    ghostMs: g.ghostMs,
    lastSeenOnlineMs: g.lowerMs,
    boundMs: g.bound,
    censored: g.censored,
    lastFrame: new Date(g.lastFrame).toISOString(),
  });
  const ghostByKind = (kind: string) => stats(ghostRows.filter((g) => g.kind === kind && !g.censored).map((g) => g.ghostMs));

  // 4. Logout-stamp error vs the true end.
  const rowsByUser = new Map<string, SessionRow[]>();
  for (const r of rows) if (r.disconnectedAt !== null) (rowsByUser.get(r.userId) ?? rowsByUser.set(r.userId, []).get(r.userId)!).push(r);
  for (const list of rowsByUser.values()) list.sort((a, b) => a.disconnectedAt! - b.disconnectedAt!);
  const timeoutErrors: number[] = [];
  const closeErrors: number[] = [];
  const otherStamps: Record<string, number[]> = {};
  let silentWithoutLogout = 0;
  const returns = churn.filter((e) => e.ev === 'return');
  for (const e of churn) {
    if (e.ev === 'return') continue;
    const back = returns.find((r) => r.u === e.u && r.t > e.t)?.t ?? Number.POSITIVE_INFINITY;
    const from = (e.ev === 'quit' ? e.t : (e.lastFrame ?? e.t)) - 2000;
    if (e.ev === 'quit' && back - e.t < s.LOGOUT_GRACE_MS!) continue; // came back within the grace: no logout expected
    const row = (rowsByUser.get(e.u) ?? []).find((r) => r.disconnectedAt! >= from);
    if (!row || row.disconnectedAt! > back + 15_000) {
      if (e.ev !== 'quit') silentWithoutLogout++;
      continue;
    }
    if (e.ev === 'quit') {
      if (row.reason === 'closed') closeErrors.push(row.disconnectedAt! - e.t);
      else (otherStamps[`quit/${row.reason}`] ??= []).push(row.disconnectedAt! - e.t);
    } else {
      const expected = (e.lastFrame ?? e.t) + s.HEARTBEAT_TIMEOUT_MS!;
      if (row.reason === 'timeout') timeoutErrors.push(row.disconnectedAt! - expected);
      else (otherStamps[`${e.ev}/${row.reason}`] ??= []).push(row.disconnectedAt! - expected);
    }
  }
  const abs = (xs: number[]) => xs.map((x) => Math.abs(x));

  // 5. Redis: nobody online who is gone.
  const onlineSet = new Set(redisEnd.online.filter((o) => o.status === 'online' || o.status === 'reconnecting').map((o) => o.userId));
  const goneListed = redisEnd.bots
    .filter((b) => (b.status === 'quit' || b.status === 'vanished' || b.status === 'frozen') && redisEnd.at - b.since > baseBound + nodeDeathBound)
    .filter((b) => onlineSet.has(b.userId))
    .map((b) => ({ userId: b.userId, status: b.status, goneForMs: redisEnd.at - b.since }));

  // 6. Crashes.
  const unexpectedExits = events.filter((e) => e.ev === 'node-exit' && e.expected === false);
  const badShutdowns = events.filter((e) => e.ev === 'node-terminated' && e.code !== 0);

  // Summary of what the bots lived through.
  const closeCodes: Record<string, number> = {};
  for (const c of conns) if (c.code !== null) closeCodes[String(c.code)] = (closeCodes[String(c.code)] ?? 0) + 1;
  const kicked = conns.reduce((n, c) => n + c.kicked.length, 0);
  const reconnectFrames = conns.reduce((n, c) => n + c.reconnect.length, 0);
  const kinds: Record<string, number> = {};
  for (const p of plans) kinds[p.kind] = (kinds[p.kind] ?? 0) + 1;
  const reasons: Record<string, number> = {};
  for (const r of rows) if (r.reason) reasons[r.reason] = (reasons[r.reason] ?? 0) + 1;

  const checks = {
    exactlyOnce: {
      logicalSessions: new Set([...rows.map((r) => r.id), ...logoutLines.keys()]).size,
      ended: rows.filter((r) => r.disconnectedAt !== null).length,
      duplicates: duplicates.length,
      missing: missing.length,
      writtenWithoutLogLine: withoutLine,
      examples: { duplicates: duplicates.slice(0, 10), missing: missing.slice(0, 10) },
      duplicatesByReasons: countBy(duplicates.map((d) => d.reasons.map((r) => r.split(':')[1]).join('+'))),
      logoutsByReason: reasons,
    },
    falseLogouts: {
      count: falseLogouts.length,
      byReason: falseByReason,
      examples: Object.keys(falseByReason).flatMap((reason) => falseLogouts.filter((f) => String(f.reason) === reason).slice(0, 8)),
      excusedFencedAfterRedisCut: excused.length,
      excusedExamples: excused.slice(0, 5),
    },
    ghost: {
      baseBoundMs: baseBound,
      nodeDeathBoundMs: nodeDeathBound,
      observed: ghostRows.length,
      vanish: ghostByKind('vanish'),
      freeze: ghostByKind('freeze'),
      all: stats(ghostRows.filter((g) => !g.censored).map((g) => g.ghostMs)),
      lowerBound: stats(ghostRows.filter((g) => !g.censored).map((g) => g.lowerMs)),
      censored: ghostRows.filter((g) => g.censored).length,
      violations: ghostViolations.length,
      examples: ghostViolations.slice(0, 15).map(ghostExample),
      unresolved: ghostUnresolved.length,
      unresolvedExamples: ghostUnresolved.slice(0, 15).map(ghostExample),
    },
    stampError: {
      timeoutMs: stats(abs(timeoutErrors)),
      timeoutSignedP50: percentile(timeoutErrors, 50),
      cleanCloseMs: stats(abs(closeErrors)),
      cleanCloseSignedP50: percentile(closeErrors, 50),
      other: Object.fromEntries(Object.entries(otherStamps).map(([k, v]) => [k, stats(abs(v))])),
      silentBotsNeverLoggedOut: silentWithoutLogout,
    },
    redis: { onlineAtEnd: onlineSet.size, goneButListed: goneListed.length, examples: goneListed.slice(0, 10), onlineAfterShutdown: redisAfter.online.length },
    crashes: {
      unexpectedExits: unexpectedExits.length,
      logLines: crashLines.length,
      badShutdowns: badShutdowns.length,
      examples: [...unexpectedExits.map((e) => JSON.stringify(e)), ...crashLines.slice(0, 10), ...badShutdowns.map((e) => JSON.stringify(e))],
    },
    bots: {
      planned: kinds,
      connections: conns.length,
      closeCodes,
      kickedFrames: kicked,
      reconnectFrames,
      churnEvents: churn.length,
    },
    faults: faults.map((f) => ({ ...f, seconds: Math.round((f.end - f.start) / 100) / 10, notIntended: unintendedRestart(f) ?? undefined })),
    reaper: reaperLines.map((l) => ({ by: l.nodeId, dead: l.deadNodeId, loggedOut: l.loggedOut })),
  };
  const failed: string[] = [];
  if (duplicates.length > 0) failed.push('duplicate logouts');
  if (missing.length > 0) failed.push('missing logouts');
  if (falseLogouts.length > 0) failed.push('false logouts');
  if (ghostViolations.length > 0) failed.push('ghost bound');
  if (goneListed.length > 0 || redisAfter.online.length > 0) failed.push('online but gone');
  if (unexpectedExits.length > 0 || crashLines.length > 0) failed.push('crash');
  // The harness's own promise: an empty restart is empty, a rewind did load its snapshot.
  if (faults.some((f) => unintendedRestart(f) !== null)) {
    failed.push('harness: a Redis restart was not the intended one');
  }
  return {
    run: { ...meta.options, settings: s, dir: resolve(dir), faultsStart: new Date(meta.faultsStart).toISOString() },
    verdict: { pass: failed.length === 0, failed },
    checks,
  };
}

// ---- the report ---------------------------------------------------------------------------

const ms = (v: number | null | undefined) => (v === null || v === undefined ? '–' : `${(v / 1000).toFixed(2)} s`);

export function renderMarkdown(report: Report): string {
  // biome-ignore lint/suspicious/noExplicitAny: the report is our own JSON, rendered as read
  const c = report.checks as any;
  // biome-ignore lint/suspicious/noExplicitAny: the report is our own JSON, rendered as read
  const r = report.run as any;
  const ok = (pass: boolean) => (pass ? 'pass' : '**FAIL**');
  const lines = [
    `# Chaos run: seed ${r.seed}, ${r.bots} bots, ${r.nodes} nodes, ${r.durationS} s of faults`,
    '',
    `Verdict: **${report.verdict.pass ? 'PASS' : `FAIL — ${report.verdict.failed.join(', ')}`}**`,
    '',
    `Command: \`npm run chaos -- --seed=${r.seed} --duration=${r.durationS} --bots=${r.bots} --nodes=${r.nodes} --faults=${r.faults.join(',')} --fault-scale=${r.faultScale}\`` +
      (Object.keys(r.env ?? {}).length
        ? ` with node env ${Object.entries(r.env)
            .map(([k, v]) => `${k}=${v}`)
            .join(' ')}`
        : ''),
    `Faults from ${r.faultsStart}. Settings: ${Object.entries(r.settings)
      .map(([k, v]) => `${k}=${v}`)
      .join(', ')}.`,
    '',
    '| check | result | must hold |',
    '|---|---|---|',
    `| logouts per logical session | ${c.exactlyOnce.logicalSessions} sessions, ${c.exactlyOnce.ended} ended: ${c.exactlyOnce.duplicates} duplicate, ${c.exactlyOnce.missing} missing | ${ok(c.exactlyOnce.duplicates === 0 && c.exactlyOnce.missing === 0)} |`,
    `| false logouts | ${c.falseLogouts.count} ${
      Object.keys(c.falseLogouts.byReason).length
        ? `(${Object.entries(c.falseLogouts.byReason)
            .map(([k, v]) => `${k}: ${v}`)
            .join(', ')})`
        : ''
    }; excused (their node was cut from Redis and reaped; the connection fenced with 1012 or closed during the cut): ${c.falseLogouts.excusedFencedAfterRedisCut} | ${ok(c.falseLogouts.count === 0)} |`,
    `| ghost time, vanished (p50 / p99 / max) | ${ms(c.ghost.vanish.p50)} / ${ms(c.ghost.vanish.p99)} / ${ms(c.ghost.vanish.max)} (n=${c.ghost.vanish.n}) | |`,
    `| ghost time, frozen (p50 / p99 / max) | ${ms(c.ghost.freeze.p50)} / ${ms(c.ghost.freeze.p99)} / ${ms(c.ghost.freeze.max)} (n=${c.ghost.freeze.n}); ${c.ghost.censored} never seen offline before they came back | |`,
    `| ghost time, all, lower bound (last response still online) p50 / p99 / max | ${ms(c.ghost.lowerBound.p50)} / ${ms(c.ghost.lowerBound.p99)} / ${ms(c.ghost.lowerBound.max)} | |`,
    `| ghost bound (${ms(c.ghost.baseBoundMs)}, +${ms(c.ghost.nodeDeathBoundMs)} when the node or Redis was faulted) | ${c.ghost.violations} of ${c.ghost.observed} seen online past it; ${c.ghost.unresolved ?? 0} more unresolved (last seen online within it, first seen offline past it) | ${ok(c.ghost.violations === 0)} |`,
    `| stamp error, heartbeat timeouts (p50 / p99 / max of abs) | ${ms(c.stampError.timeoutMs.p50)} / ${ms(c.stampError.timeoutMs.p99)} / ${ms(c.stampError.timeoutMs.max)} (n=${c.stampError.timeoutMs.n}, signed p50 ${ms(c.stampError.timeoutSignedP50)}) | |`,
    `| stamp error, clean closes (p50 / p99 / max of abs) | ${ms(c.stampError.cleanCloseMs.p50)} / ${ms(c.stampError.cleanCloseMs.p99)} / ${ms(c.stampError.cleanCloseMs.max)} (n=${c.stampError.cleanCloseMs.n}) | |`,
    `| online in Redis but gone | ${c.redis.goneButListed} at the end (${c.redis.onlineAtEnd} online), ${c.redis.onlineAfterShutdown} after the shutdown | ${ok(c.redis.goneButListed === 0 && c.redis.onlineAfterShutdown === 0)} |`,
    `| crashes | ${c.crashes.unexpectedExits} unexpected exits, ${c.crashes.logLines} fatal/uncaught log lines (${c.crashes.badShutdowns} non-zero shutdown exits) | ${ok(c.crashes.unexpectedExits === 0 && c.crashes.logLines === 0)} |`,
    '',
    `Silent bots with no logout found before they came back: ${c.stampError.silentBotsNeverLoggedOut}. Other stamps: ${
      Object.entries(c.stampError.other)
        .map(([k, v]) => `${k} n=${(v as Stats).n} p50 ${ms((v as Stats).p50)} max ${ms((v as Stats).max)}`)
        .join('; ') || 'none'
    }.`,
    '',
    '## Bots',
    '',
    `Plans: ${Object.entries(c.bots.planned)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}. ${c.bots.connections} connections; close codes ${Object.entries(c.bots.closeCodes)
      .map(([k, v]) => `${k}×${v}`)
      .join(
        ', ',
      )}; ${c.bots.kickedFrames} \`kicked\` and ${c.bots.reconnectFrames} \`reconnect\` frames received; ${c.bots.churnEvents} churn events. Logouts by reason: ${Object.entries(
      c.exactlyOnce.logoutsByReason,
    )
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}.`,
    '',
    '## Faults',
    '',
    '| # | fault | target | start | seconds | details |',
    '|---|---|---|---|---|---|',
    // biome-ignore lint/suspicious/noExplicitAny: the report is our own JSON, rendered as read
    ...c.faults.map((f: any, i: number) => {
      const { kind, nodeId, start, seconds, end: _end, notIntended, ...rest } = f;
      const flag = notIntended ? `**NOT THE INTENDED FAULT: ${notIntended}** ` : '';
      return `| ${i + 1} | ${kind} | ${nodeId ?? '–'} | ${new Date(start).toISOString().slice(11, 19)} | ${seconds} | ${flag}${JSON.stringify(rest)} |`;
    }),
    '',
    // biome-ignore lint/suspicious/noExplicitAny: the report is our own JSON, rendered as read
    `Reaper: ${c.reaper.map((x: any) => `${x.by} reaped ${x.dead} (${x.loggedOut} logged out)`).join('; ') || 'never ran'}.`,
    '',
  ];
  const examples = (title: string, list: unknown[]) => (list.length ? [`### ${title}`, '', '```', ...list.map((x) => JSON.stringify(x)), '```', ''] : []);
  lines.push(
    ...examples('False logouts (up to 8 per reason)', c.falseLogouts.examples),
    ...examples('Ghost bound violations (first 15)', c.ghost.examples),
    ...examples('Ghost bound unresolved at the observer resolution (first 15)', c.ghost.unresolvedExamples ?? []),
    ...examples('Duplicate logouts (first 10)', c.exactlyOnce.examples.duplicates),
    ...examples('Missing logouts (first 10)', c.exactlyOnce.examples.missing),
    ...examples('Online but gone (first 10)', c.redis.examples),
    ...examples('Crash evidence', c.crashes.examples),
  );
  return lines.join('\n');
}

export function writeReport(dir: string, report: Report): void {
  writeFileSync(join(dir, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(join(dir, 'report.md'), renderMarkdown(report));
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const dir = process.argv[2];
  if (!dir) {
    process.stderr.write('usage: node --import tsx chaos/check.ts <run dir>\n');
    process.exit(2);
  }
  const report = checkRun(dir);
  writeReport(dir, report);
  process.stdout.write(`${renderMarkdown(report)}\n`);
  process.exit(report.verdict.pass ? 0 : 1);
}
