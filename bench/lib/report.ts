/**
 * The results file (JSON), the targets of the issue evaluated against it, the Markdown tables
 * and a hand-drawn SVG bar chart of server CPU per ping/pong.
 */
import type { HeartbeatPoint } from '../scenarios/heartbeat.ts';
import type { DirectPoint } from '../scenarios/direct.ts';
import type { FanoutPoint } from '../scenarios/fanout.ts';
import type { LogoutPoint } from '../scenarios/logout.ts';
import { SERVERS, SERVER_ORDER, type ServerId } from './servers.ts';

export interface TargetResult {
  id: string;
  description: string;
  measured: string;
  limit: string;
  /** null: not measured / discarded / not applicable in this mode. */
  pass: boolean | null;
  detail?: string;
}

export interface BenchResults {
  version: 1;
  date: string;
  mode: 'full' | 'quick' | 'profile';
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
    serverCore: number | null;
    loadCore: number | null;
    busy: boolean;
  };
  git: { commit: string; dirty: boolean };
  packages: Record<string, string>;
  settings: Record<string, unknown>;
  heartbeat: HeartbeatPoint[];
  direct: DirectPoint[];
  fanout: FanoutPoint[];
  logout: LogoutPoint[];
  targets: TargetResult[];
  references: TargetResult[];
  errors: string[];
  notes: string[];
}

const label = (id: string) => SERVERS[id as ServerId]?.label ?? id;
const fmt = (v: number | null | undefined, digits = 1): string => (v === null || v === undefined || !Number.isFinite(v) ? '–' : v.toFixed(digits));
const ratio = (v: number | null | undefined, base: number | null | undefined): number | null =>
  v === null || v === undefined || base === null || base === undefined || base <= 0 ? null : v / base;
const fmtRatio = (r: number | null): string => (r === null ? '–' : `${r.toFixed(2)}×`);
const verdict = (p: boolean | null): string => (p === null ? 'n/a' : p ? '**pass**' : '**FAIL**');

function hbAt(results: BenchResults, server: string, clients: number): HeartbeatPoint | undefined {
  return results.heartbeat.find((p) => p.server === server && p.clients === clients);
}

export function maxClients(results: BenchResults): number {
  return Math.max(0, ...results.heartbeat.map((p) => p.clients));
}

// ---- targets -----------------------------------------------------------------------------------

export function evaluateTargets(results: BenchResults): { targets: TargetResult[]; references: TargetResult[] } {
  const targets: TargetResult[] = [];
  const references: TargetResult[] = [];
  const n = maxClients(results);
  const nLabel = `${n / 1000}k clients`;
  const raw = hbAt(results, 'raw-ws', n);
  const full = results.mode !== 'quick' && n >= 15_000;
  const scope = full ? '' : ` (measured at ${nLabel}; the target is stated at 15k)`;

  for (const id of ['gatehouse', 'gatehouse-redis-pg']) {
    const gh = hbAt(results, id, n);
    if (!gh && !raw) continue;
    const cpuRatio = ratio(gh?.cpuUsPerPing, raw?.cpuUsPerPing);
    // Not comparable: a saturated generator, or the reference itself could not hold N clients.
    // Gatehouse losing clients that raw ws kept is a failure in its own right.
    const invalid =
      gh?.discarded || raw?.discarded ? 'window discarded: load generator saturated' : raw?.incomplete ? 'raw ws could not hold every client' : undefined;
    const lost = !invalid && gh?.incomplete ? `held only ${gh.connected} of ${gh.clients} clients` : undefined;
    targets.push({
      id: `cpu-${id}`,
      description: `${label(id)}: server CPU per ping/pong ≤ 1.25 × raw ws at 15k clients${scope}`,
      measured: `${fmt(gh?.cpuUsPerPing)} µs vs ${fmt(raw?.cpuUsPerPing)} µs = ${fmtRatio(cpuRatio)}`,
      limit: '≤ 1.25×',
      pass: cpuRatio === null || invalid ? null : !lost && cpuRatio <= 1.25,
      ...(invalid || lost ? { detail: invalid ?? lost } : {}),
    });
    const rssRatio = ratio(gh?.rssKbPerConn, raw?.rssKbPerConn);
    targets.push({
      id: `rss-${id}`,
      description: `${label(id)}: RSS per connection (after GC) ≤ 1.3 × raw ws${scope}`,
      measured: `${fmt(gh?.rssKbPerConn)} KB vs ${fmt(raw?.rssKbPerConn)} KB = ${fmtRatio(rssRatio)}`,
      limit: '≤ 1.3×',
      pass: rssRatio === null || invalid ? null : !lost && rssRatio <= 1.3,
      ...(invalid || lost ? { detail: invalid ?? lost } : {}),
    });
  }

  const redisPoints = results.heartbeat.filter((p) => p.server === 'gatehouse-redis-pg' && p.redisCmdsPerPing !== null);
  if (redisPoints.length) {
    const worst = redisPoints.reduce((a, p) => ((p.redisCmdsPerPing ?? 0) > (a.redisCmdsPerPing ?? 0) ? p : a));
    targets.push({
      id: 'redis-per-ping',
      description: `${label('gatehouse-redis-pg')}: Redis commands per ping ≤ 0.1 (worst N)`,
      measured: `${fmt(worst.redisCmdsPerPing, 4)} at ${worst.clients / 1000}k`,
      limit: '≤ 0.1',
      pass: (worst.redisCmdsPerPing ?? Infinity) <= 0.1,
    });
  }

  for (const storm of results.logout) {
    const stormScope = storm.clients >= 5000 ? '' : ` (measured with ${storm.clients} clients; the target is stated for 5k)`;
    targets.push({
      id: 'logout-storm',
      description: `Logout storm: ${storm.clients} clients dropped at once, every logout in PostgreSQL within 5 s${stormScope}`,
      measured: storm.allMs === null ? `${storm.landed}/${storm.connected} after 60 s` : `${fmt(storm.allMs / 1000, 2)} s`,
      limit: '≤ 5 s',
      pass: storm.allMs === null ? false : storm.allMs <= 5000,
    });
  }

  const cross = results.direct.find((p) => p.server === 'gatehouse-redis-pg' && p.nodes === 2);
  if (cross) {
    const complete = cross.received >= cross.sent;
    const rawCross = results.direct.find((p) => p.server === 'raw-ws' && p.nodes === 2);
    targets.push({
      id: 'cross-node-dm',
      description: 'Cross-node direct message p99 ≤ 5 ms at 1k msg/s',
      measured: `${fmt(cross.p99Ms, 2)} ms (${cross.received}/${cross.sent} received)${rawCross ? `; raw ws over Redis in the same run: ${fmt(rawCross.p99Ms, 2)} ms` : ''}`,
      limit: '≤ 5 ms',
      pass: cross.discarded ? null : complete && (cross.p99Ms ?? Infinity) <= 5,
    });
  }

  // Calibration against the figures the issue quotes for this kind of machine.
  if (raw) {
    references.push({
      id: 'raw-cpu',
      description: `raw ws CPU per ping/pong in the expected 28–50 µs (${nLabel})`,
      measured: `${fmt(raw.cpuUsPerPing)} µs`,
      limit: '28–50 µs',
      pass: raw.cpuUsPerPing === null ? null : raw.cpuUsPerPing >= 28 && raw.cpuUsPerPing <= 50,
    });
    references.push({
      id: 'raw-rss',
      description: `raw ws RSS per connection in the expected 12–15 KB (${nLabel}; after GC, without GC in brackets)`,
      measured: `${fmt(raw.rssKbPerConn)} KB (${fmt(raw.rssKbPerConnNoGc)} KB)`,
      limit: '12–15 KB',
      pass: raw.rssKbPerConn === null ? null : raw.rssKbPerConn >= 12 && raw.rssKbPerConn <= 15,
    });
  }
  const sio = hbAt(results, 'socketio', n);
  if (sio && raw) {
    const c = ratio(sio.cpuUsPerPing, raw.cpuUsPerPing);
    const m = ratio(sio.rssKbPerConn, raw.rssKbPerConn);
    references.push({
      id: 'sio-cpu',
      description: `Socket.IO CPU per ping/pong ≈ 1.3–1.7 × raw ws (${nLabel})`,
      measured: fmtRatio(c),
      limit: '1.3–1.7×',
      pass: c === null ? null : c >= 1.3 && c <= 1.7,
    });
    references.push({
      id: 'sio-rss',
      description: `Socket.IO RSS per connection ≈ 2 × raw ws (${nLabel})`,
      measured: fmtRatio(m),
      limit: '1.6–2.4×',
      pass: m === null ? null : m >= 1.6 && m <= 2.4,
    });
  }
  return { targets, references };
}

// ---- Markdown ------------------------------------------------------------------------------------

export function markdown(results: BenchResults): string {
  const out: string[] = [];
  const m = results.machine;
  out.push(`# Gatehouse benchmark — ${results.date.slice(0, 10)} (${results.mode})`);
  out.push('');
  out.push(
    `${m.cpus} × ${m.model}, ${m.memoryMb} MB, Linux ${m.kernel}, Node ${m.node}. ` +
      (m.taskset ? `Servers pinned to core ${m.serverCore}, load generators to core ${m.loadCore} (taskset). ` : '**taskset missing: nothing pinned.** ') +
      `Load average before ${m.loadBefore.map((v) => v.toFixed(2)).join(' ')}, after ${m.loadAfter.map((v) => v.toFixed(2)).join(' ')}` +
      (m.busy ? ' — **the machine was busy with other work: absolute figures are noisy, compare the ratios.**' : '.') +
      ` Git ${results.git.commit.slice(0, 10)}${results.git.dirty ? ' (uncommitted changes)' : ''}. Total run ${Math.round(results.durationS)} s.`,
  );
  out.push('');
  out.push('Ratios are to raw ws measured in the same run (lower is better except deliveries/s). Reproduce with `npm run bench`; see bench/README.md.');
  out.push('');

  if (results.targets.length) {
    out.push('## Targets');
    out.push('');
    out.push('| target | measured | limit | result |');
    out.push('|---|---|---|---|');
    for (const t of results.targets) out.push(`| ${t.description} | ${t.measured} | ${t.limit} | ${verdict(t.pass)}${t.detail ? ` (${t.detail})` : ''} |`);
    out.push('');
  }

  if (results.heartbeat.length) {
    out.push('## 1. Heartbeat (1 Hz JSON ping/pong)');
    out.push('');
    out.push(
      '| server | clients | CPU µs/ping | × raw | server core | RTT p50 ms | × raw | RTT p99 ms | × raw | RSS KB/conn | × raw | (no GC) | V8 heap KB/conn | Redis cmd/ping | generator core | other load (server/load core) | |',
    );
    out.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|');
    const ns = [...new Set(results.heartbeat.map((p) => p.clients))].sort((a, b) => a - b);
    for (const n of ns) {
      const raw = hbAt(results, 'raw-ws', n);
      for (const id of SERVER_ORDER) {
        const p = hbAt(results, id, n);
        if (!p) continue;
        const flags = [
          p.discarded ? 'DISCARDED (generator saturated)' : '',
          p.incomplete ? 'INCOMPLETE' : '',
          ...p.notes.filter((x) => !x.startsWith('contended')),
        ]
          .filter(Boolean)
          .join('; ');
        const other = p.foreign ? `${fmt(p.foreign.serverCore * 100, 0)} % / ${fmt(p.foreign.loadCore * 100, 0)} %` : '–';
        out.push(
          `| ${label(id)} | ${n} | ${fmt(p.cpuUsPerPing)} | ${fmtRatio(ratio(p.cpuUsPerPing, raw?.cpuUsPerPing))} | ${fmt((p.serverCpu ?? 0) * 100, 0)} % | ` +
            `${fmt(p.rttP50Ms, 2)} | ${fmtRatio(ratio(p.rttP50Ms, raw?.rttP50Ms))} | ${fmt(p.rttP99Ms, 2)} | ${fmtRatio(ratio(p.rttP99Ms, raw?.rttP99Ms))} | ` +
            `${fmt(p.rssKbPerConn)} | ${fmtRatio(ratio(p.rssKbPerConn, raw?.rssKbPerConn))} | ${fmt(p.rssKbPerConnNoGc)} | ${fmt(p.heapKbPerConn)} | ${p.redisCmdsPerPing === null ? '–' : fmt(p.redisCmdsPerPing, 4)} | ` +
            `${fmt(p.generatorCpu * 100, 0)} % | ${other} | ${flags} |`,
        );
      }
    }
    out.push('');
  }

  if (results.direct.length) {
    out.push('## 2. Direct messages (1k msg/s, 100 pairs)');
    out.push('');
    out.push('| server | nodes | p50 ms | × raw | p99 ms | × raw | received | server CPU µs/msg | × raw | Redis cmd/msg | |');
    out.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|');
    for (const nodes of [1, 2]) {
      const raw = results.direct.find((p) => p.server === 'raw-ws' && p.nodes === nodes);
      for (const id of SERVER_ORDER) {
        const p = results.direct.find((d) => d.server === id && d.nodes === nodes);
        if (!p) continue;
        const flags = [p.discarded ? 'DISCARDED (generator saturated)' : '', ...p.notes].filter(Boolean).join('; ');
        out.push(
          `| ${label(id)} | ${nodes} | ${fmt(p.p50Ms, 2)} | ${fmtRatio(ratio(p.p50Ms, raw?.p50Ms))} | ${fmt(p.p99Ms, 2)} | ${fmtRatio(ratio(p.p99Ms, raw?.p99Ms))} | ` +
            `${p.received}/${p.sent} | ${fmt(p.cpuUsPerMsg)} | ${fmtRatio(ratio(p.cpuUsPerMsg, raw?.cpuUsPerMsg))} | ${p.redisCmdsPerMsg === null ? '–' : fmt(p.redisCmdsPerMsg, 2)} | ${flags} |`,
        );
      }
    }
    out.push('');
    out.push(
      'Two nodes: sender on node A, recipient on node B (raw ws: one Redis pub/sub channel; Socket.IO: Redis adapter; Gatehouse: its Redis bus). Both nodes share the server core.',
    );
    out.push('');
  }

  if (results.fanout.length) {
    const mode = results.fanout[0]!.mode;
    out.push(`## 3. Fan-out (one sender, 1k members, ${mode === 'room' ? 'room frames' : 'POST /api/broadcast — rooms not available yet'})`);
    out.push('');
    out.push('| server | deliveries/s | × raw | last delivery p50 ms | p90 ms | CPU µs/delivery | × raw | delivered | |');
    out.push('|---|---:|---:|---:|---:|---:|---:|---:|---|');
    const raw = results.fanout.find((p) => p.server === 'raw-ws');
    for (const id of SERVER_ORDER) {
      const p = results.fanout.find((f) => f.server === id);
      if (!p) continue;
      const flags = [p.discarded ? 'DISCARDED (generator saturated)' : '', ...p.notes].filter(Boolean).join('; ');
      out.push(
        `| ${label(id)} | ${p.deliveriesPerSec ?? '–'} | ${fmtRatio(ratio(p.deliveriesPerSec, raw?.deliveriesPerSec))} | ${fmt(p.lastDeliveryP50Ms, 2)} | ${fmt(p.lastDeliveryP90Ms, 2)} | ` +
          `${fmt(p.cpuUsPerDelivery, 2)} | ${fmtRatio(ratio(p.cpuUsPerDelivery, raw?.cpuUsPerDelivery))} | ${p.delivered}/${p.expected} | ${flags} |`,
      );
    }
    out.push('');
  }

  if (results.logout.length) {
    out.push('## 4. Logout storm (Gatehouse, Redis + PostgreSQL)');
    out.push('');
    out.push('| clients dropped | first in PostgreSQL | half | all | landed | |');
    out.push('|---:|---:|---:|---:|---:|---|');
    for (const p of results.logout) {
      out.push(
        `| ${p.connected} | ${fmt(p.firstMs, 0)} ms | ${fmt(p.halfMs, 0)} ms | ${p.allMs === null ? '–' : `**${fmt(p.allMs / 1000, 2)} s**`} | ${p.landed} | ${[`LOGOUT_GRACE_MS=${p.logoutGraceMs}`, ...p.notes].join('; ')} |`,
      );
    }
    out.push('');
    out.push('No ratio: the reference servers keep no durable session record.');
    out.push('');
  }

  if (results.references.length) {
    out.push("## Calibration (the issue's reference figures for this kind of machine)");
    out.push('');
    out.push('| check | measured | expected | within |');
    out.push('|---|---|---|---|');
    for (const r of results.references) out.push(`| ${r.description} | ${r.measured} | ${r.limit} | ${r.pass === null ? 'n/a' : r.pass ? 'yes' : 'no'} |`);
    out.push('');
  }

  if (results.errors.length || results.notes.length) {
    out.push('## Notes');
    out.push('');
    for (const e of results.errors) out.push(`- **error:** ${e.split('\n')[0]}`);
    for (const n of results.notes) out.push(`- ${n}`);
    out.push('');
  }
  return out.join('\n');
}

/** The part of the Markdown bench/README.md's latest-record section carries. */
export function readmeSection(results: BenchResults, file: string): string {
  const md = markdown(results).split('\n');
  // Drop the document title; keep the rest, headings one level down.
  const body = md
    .slice(1)
    .map((l) => (l.startsWith('## ') ? `#${l}` : l))
    .join('\n')
    .trim();
  return `## Latest full record\n\nLatest \`npm run bench\` (${file}; method and caveats above):\n\n${body.replace(/^### Notes[\s\S]*$/m, '').trim()}\n`;
}

// ---- SVG -----------------------------------------------------------------------------------------

const COLORS: Record<string, string> = {
  'raw-ws': '#4e79a7',
  socketio: '#f28e2b',
  gatehouse: '#59a14f',
  'gatehouse-redis-pg': '#e15759',
};

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function niceMax(v: number): number {
  if (v <= 0) return 1;
  const exp = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (m * exp >= v) return m * exp;
  return 10 * exp;
}

/** Grouped bars: server CPU µs per ping/pong, one group per N, one bar per server. */
export function svgChart(results: BenchResults): string {
  const W = 820;
  const H = 440;
  const left = 70;
  const right = 20;
  const top = 60;
  const bottom = 90;
  const ns = [...new Set(results.heartbeat.map((p) => p.clients))].sort((a, b) => a - b);
  const servers = SERVER_ORDER.filter((id) => results.heartbeat.some((p) => p.server === id));
  const values = results.heartbeat.map((p) => p.cpuUsPerPing ?? 0);
  const yMax = niceMax(Math.max(1, ...values) * 1.1);
  const plotW = W - left - right;
  const plotH = H - top - bottom;
  const y = (v: number) => top + plotH - (v / yMax) * plotH;
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif" font-size="12">`,
  );
  parts.push(`<rect width="${W}" height="${H}" fill="#ffffff"/>`);
  parts.push(`<text x="${W / 2}" y="24" text-anchor="middle" font-size="16" font-weight="bold">Server CPU per 1 Hz ping/pong (µs, lower is better)</text>`);
  parts.push(
    `<text x="${W / 2}" y="42" text-anchor="middle" fill="#555">${esc(`${results.date.slice(0, 10)} · ${results.mode} · server pinned to one core · ratio to raw ws above each bar`)}</text>`,
  );
  for (let i = 0; i <= 5; i++) {
    const v = (yMax / 5) * i;
    parts.push(`<line x1="${left}" x2="${W - right}" y1="${y(v)}" y2="${y(v)}" stroke="#e3e3e3"/>`);
    parts.push(`<text x="${left - 8}" y="${y(v) + 4}" text-anchor="end" fill="#333">${Number(v.toPrecision(3))}</text>`);
  }
  parts.push(`<text transform="translate(18 ${top + plotH / 2}) rotate(-90)" text-anchor="middle" fill="#333">µs CPU per ping/pong</text>`);
  const groupW = plotW / Math.max(1, ns.length);
  const barW = Math.min(48, (groupW * 0.8) / Math.max(1, servers.length));
  ns.forEach((n, gi) => {
    const gx = left + gi * groupW + (groupW - barW * servers.length) / 2;
    const raw = hbAt(results, 'raw-ws', n)?.cpuUsPerPing ?? null;
    servers.forEach((id, si) => {
      const p = hbAt(results, id, n);
      if (!p || p.cpuUsPerPing === null) return;
      const x = gx + si * barW;
      const v = p.cpuUsPerPing;
      const opacity = p.discarded ? 0.35 : 1;
      parts.push(
        `<rect x="${x.toFixed(1)}" y="${y(v).toFixed(1)}" width="${(barW - 4).toFixed(1)}" height="${(top + plotH - y(v)).toFixed(1)}" fill="${COLORS[id] ?? '#999'}" fill-opacity="${opacity}"><title>${esc(`${SERVERS[id].label}, ${n} clients: ${v} µs${p.discarded ? ' (discarded)' : ''}`)}</title></rect>`,
      );
      parts.push(`<text x="${(x + (barW - 4) / 2).toFixed(1)}" y="${(y(v) - 14).toFixed(1)}" text-anchor="middle" font-size="11">${v.toFixed(1)}</text>`);
      const r = ratio(v, raw);
      if (r !== null && id !== 'raw-ws') {
        parts.push(
          `<text x="${(x + (barW - 4) / 2).toFixed(1)}" y="${(y(v) - 3).toFixed(1)}" text-anchor="middle" font-size="10" fill="#555">${r.toFixed(2)}×</text>`,
        );
      }
    });
    parts.push(
      `<text x="${(left + gi * groupW + groupW / 2).toFixed(1)}" y="${top + plotH + 18}" text-anchor="middle" font-weight="bold">${n.toLocaleString('en-US')} clients</text>`,
    );
  });
  parts.push(`<line x1="${left}" x2="${W - right}" y1="${top + plotH}" y2="${top + plotH}" stroke="#333"/>`);
  servers.forEach((id, i) => {
    const lx = left + (i % 2) * 360;
    const ly = H - 48 + Math.floor(i / 2) * 20;
    parts.push(`<rect x="${lx}" y="${ly - 10}" width="12" height="12" fill="${COLORS[id] ?? '#999'}"/>`);
    parts.push(`<text x="${lx + 18}" y="${ly}">${esc(SERVERS[id].label)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}
