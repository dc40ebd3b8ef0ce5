/** The connect-storm benchmark's record (bench/storm/run.ts): its rows and their Markdown. */
import type { ServerId } from '../lib/servers.ts';

export interface BurstRow {
  server: ServerId;
  label: string;
  clients: number;
  accepted: number;
  /** Server CPU during the storm, less the bystanders' ping cost (measured just before), per accepted connection. */
  cpuUsPerConnection: number | null;
  /** That ping cost: server CPU µs per second with only the bystanders. */
  bystandersCpuPerSec: number;
  loginsPerSec: number;
  stormMs: number;
  handshakeP50Ms: number | null;
  handshakeP99Ms: number | null;
  failed: number;
  failedByKind: Record<string, number>;
  deferred: number;
  pongP99Ms: number | null;
  pongs: number;
  bystanderCloses: number;
  generatorLoopDelayP99Ms: number | null;
}

export interface ReconnectRow {
  server: ServerId;
  label: string;
  clients: number;
  back: number;
  restartMs: number;
  /** Crash to the last client back; null when not all came back. */
  allBackMs: number | null;
  cpuUsPerReconnection: number | null;
  handshakeP99Ms: number | null;
  /** Attempts that found nothing listening (the node was down or starting). */
  attemptsWhileDown: number;
  /** Failed handshakes against the running node (after it answered /health/live). */
  failedAttempts: number;
  failedByKind: Record<string, number>;
  /** Other failures before that: handshakes cut by the kill, or met by the node while it started (not refusals). */
  failedWhileRestarting?: Record<string, number>;
  deferred: number;
  maxAttempts: number;
}

export interface StormResults {
  date: string;
  machine: string;
  git: string;
  args: { clients: number; bystanders: number; concurrency: number; quick: boolean };
  loadBefore: number[];
  loadAfter: number[];
  notes: string[];
  errors: string[];
  burst: BurstRow[];
  reconnect: ReconnectRow[];
}

const num = (v: number | null | undefined, digits = 0) => (v === null || v === undefined ? '–' : v.toFixed(digits));
const kinds = (byKind: Record<string, number>) =>
  Object.entries(byKind)
    .map(([k, v]) => `${v} ${k}`)
    .join(', ');

function ratio(value: number | null, base: number | null): string {
  return value === null || base === null || base <= 0 ? '–' : `${(value / base).toFixed(2)}×`;
}

export function stormMarkdown(r: StormResults): string {
  const lines: string[] = [];
  lines.push(`# Connect storms (${r.date.slice(0, 10)}, git ${r.git})`, '');
  lines.push(
    `${r.machine}. Server pinned to core 0, clients on core 1. Load average before ${r.loadBefore.join(' ')}, after ${r.loadAfter.join(' ')}. ` +
      `${r.args.clients} clients, ${r.args.bystanders} bystanders, ${r.args.concurrency} handshakes in flight${r.args.quick ? ' (quick run)' : ''}. ` +
      'Reproduce: `npm run bench -- --scenario=storm`.',
    '',
  );
  for (const note of r.notes) lines.push(`- ${note}`);
  for (const error of r.errors) lines.push(`- **error**: ${error}`);
  if (r.notes.length || r.errors.length) lines.push('');
  if (r.burst.length) {
    const raw = r.burst.find((b) => b.server === 'raw-ws')?.cpuUsPerConnection ?? null;
    lines.push(
      `## Burst: ${r.args.clients} new clients as fast as the server takes them, ${r.args.bystanders} connected players pinging`,
      '',
      '| server | accepted | CPU µs / connection | vs raw ws | logins/s | handshake p50 / p99 ms | failed handshakes | deferred (503 + Retry-After) | bystanders pong p99 ms |',
      '|---|---|---|---|---|---|---|---|---|',
    );
    for (const b of r.burst) {
      lines.push(
        `| ${b.label} | ${b.accepted}/${b.clients} | ${num(b.cpuUsPerConnection)} | ${ratio(b.cpuUsPerConnection, raw)} | ${num(b.loginsPerSec)} | ${num(b.handshakeP50Ms)} / ${num(b.handshakeP99Ms)} | ${b.failed}${b.failed ? ` (${kinds(b.failedByKind)})` : ''} | ${b.deferred} | ${num(b.pongP99Ms, 1)} |`,
      );
    }
    lines.push('');
  }
  if (r.reconnect.length) {
    const raw = r.reconnect.find((b) => b.server === 'raw-ws')?.cpuUsPerReconnection ?? null;
    lines.push(
      `## Reconnect: ${r.args.clients} clients (SDK backoff: full jitter from 500 ms, Retry-After honoured) after the server is killed and restarted`,
      '',
      '| server | back | restart s | all back s (from the kill) | CPU µs / reconnection | vs raw ws | handshake p99 ms | attempts while down | failed while restarting | failed handshakes (node up) | deferred | most attempts of one client |',
      '|---|---|---|---|---|---|---|---|---|---|---|---|',
    );
    for (const c of r.reconnect) {
      lines.push(
        `| ${c.label} | ${c.back}/${c.clients} | ${num(c.restartMs / 1000, 1)} | ${c.allBackMs === null ? '**not all**' : num(c.allBackMs / 1000, 1)} | ${num(c.cpuUsPerReconnection)} | ${ratio(c.cpuUsPerReconnection, raw)} | ${num(c.handshakeP99Ms)} | ${c.attemptsWhileDown} | ${kinds(c.failedWhileRestarting ?? {}) || 0} | ${c.failedAttempts}${c.failedAttempts ? ` (${kinds(c.failedByKind)})` : ''} | ${c.deferred} | ${c.maxAttempts} |`,
      );
    }
    lines.push('');
  }
  return `${lines.join('\n')}\n`;
}
