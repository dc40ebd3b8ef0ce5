/**
 * Scenario 1, heartbeat: N clients pinging at 1 Hz. Per server and N: server CPU µs per
 * ping/pong (utime+stime over the window / pongs received in it), pong RTT p50/p99, Redis
 * commands per ping (INFO commandstats delta / pongs), RSS per connection after a forced GC
 * ((RSS at N − RSS before any client) / N). One server process per server kind; N grows in
 * steps (1k → 5k → 15k) on the same process, so every step shares one baseline.
 */
import type { ConnectReply } from '../lib/ipc.ts';
import { Histogram } from '../lib/histogram.ts';
import { sleep } from '../lib/proc.ts';
import type { ServerSpec } from '../lib/servers.ts';
import { checkDeadline, deploy, measureWindow, profiled, round, settle, shares, startLoad, stopLoad, type BenchContext } from './context.ts';

export interface HeartbeatPoint {
  server: string;
  clients: number;
  connected: number;
  connectFailures: string[];
  connectMs: number;
  settleMs: number;
  windowMs: number;
  pingsSent: number;
  pongs: number;
  cpuUsPerPing: number | null;
  /** Fraction of its core the server used in the window (≈ 1 means it was saturated). */
  serverCpu: number | null;
  rttP50Ms: number | null;
  rttP99Ms: number | null;
  rttMaxMs: number | null;
  rssKb: number;
  rssBaselineKb: number;
  rssKbPerConn: number | null;
  /** Same without the forced GC (after the settle only). */
  rssKbPerConnNoGc: number | null;
  /** Live V8 heap (main isolate, after the GC) per connection: the JS objects a connection keeps. */
  heapKbPerConn: number | null;
  /** Committed V8 heap (main isolate, after the GC) per connection: live heap plus what V8 keeps reserved. */
  heapCommittedKbPerConn: number | null;
  gcForced: boolean;
  redisCmdsPerPing: number | null;
  /** The busiest Redis commands, per ping. */
  redisTop: Record<string, number>;
  generatorCpu: number;
  generatorCpuEach: number[];
  coreBusy: number[];
  /** CPU of other processes on the server core / the load core during the window (fraction of a core). */
  foreign: { serverCore: number; loadCore: number } | null;
  loopDelayP99Ms: number;
  unexpectedCloses: number;
  /** Sockets lost since the start (ramp included): a starved server's watchdog closes clients. */
  unexpectedClosesTotal: number;
  /** Fewer than 98 % of the clients were connected during the window: not comparable. */
  incomplete: boolean;
  errorFrames: number;
  discarded: boolean;
  attempts: number;
  notes: string[];
  /** With --repeat: CPU µs/ping of every round (the figures above are medians). */
  rounds?: Array<number | null>;
}

function median(values: Array<number | null>): number | null {
  const v = values.filter((x): x is number => x !== null && Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return null;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
}

/**
 * Merges the rounds of --repeat: the median of every figure per (server, N) over the rounds whose
 * window was valid (not discarded, not incomplete), all rounds when none was; notes of every round.
 */
export function mergeRounds(rounds: HeartbeatPoint[][]): HeartbeatPoint[] {
  const groups = new Map<string, HeartbeatPoint[]>();
  for (const round of rounds) {
    for (const p of round) {
      const key = `${p.server}@${p.clients}`;
      groups.set(key, [...(groups.get(key) ?? []), p]);
    }
  }
  const numeric = [
    'cpuUsPerPing',
    'serverCpu',
    'rttP50Ms',
    'rttP99Ms',
    'rttMaxMs',
    'rssKbPerConn',
    'rssKbPerConnNoGc',
    'heapKbPerConn',
    'heapCommittedKbPerConn',
    'redisCmdsPerPing',
    'generatorCpu',
    'loopDelayP99Ms',
  ] as const;
  return [...groups.values()].map((all) => {
    const valid = all.filter((p) => !p.discarded && !p.incomplete);
    const use = valid.length ? valid : all;
    const merged: HeartbeatPoint = { ...use[0]!, notes: [...new Set(all.flatMap((p) => p.notes))], rounds: all.map((p) => p.cpuUsPerPing) };
    for (const field of numeric) {
      const m = median(use.map((p) => p[field]));
      (merged as unknown as Record<string, number | null>)[field] = m === null ? null : round(m, 4);
    }
    merged.discarded = valid.length === 0 && all.some((p) => p.discarded);
    merged.incomplete = valid.length === 0 && all.some((p) => p.incomplete);
    if (all.length > 1) merged.notes.unshift(`median of ${use.length}/${all.length} rounds (CPU µs/ping ${all.map((p) => p.cpuUsPerPing ?? '–').join(', ')})`);
    return merged;
  });
}

export async function runHeartbeat(ctx: BenchContext, spec: ServerSpec, steps: number[]): Promise<HeartbeatPoint[]> {
  const points: HeartbeatPoint[] = [];
  const maxN = Math.max(...steps);
  const procCount = Math.max(1, Math.ceil(maxN / ctx.socketsPerProcess));
  const warmupMs = ctx.quick ? 3000 : 5000;
  const windowMs = ctx.quick ? 5000 : 10_000;
  // A quiet machine connects 15k clients in well under a minute; a contended one may never: the
  // step is then reported INCOMPLETE instead of stretching the run.
  const rampDeadlineMs = ctx.quick ? 45_000 : 75_000;
  checkDeadline(ctx, `heartbeat ${spec.id}`);
  const deployment = await deploy(ctx, spec, 1, { profileName: `heartbeat-${spec.id}` });
  const server = deployment.servers[0]!;
  const procs = await startLoad(ctx, procCount);
  try {
    await Promise.all(procs.map((p) => p.request({ cmd: 'heartbeat', enabled: true, intervalMs: 1000 })));
    // Warm the code paths (JIT, lazy modules) with a few clients, so the baseline is not "cold".
    await procs[0]!.request({
      cmd: 'connect',
      group: 'warm',
      protocol: spec.protocol,
      url: server.wsUrl,
      users: Array.from({ length: 20 }, (_, i) => `warm${i}`),
      concurrency: 10,
      timeoutMs: 10_000,
    });
    await sleep(2000);
    await procs[0]!.request({ cmd: 'close-group', group: 'warm' });
    await sleep(1500);
    const gcBaseline = await server.gc();
    await sleep(500);
    const rssBaselineKb = server.rssKb();
    const heapBaseline = await server.heapUsageKb();
    const have = procs.map(() => 0);

    for (const n of steps) {
      checkDeadline(ctx, `heartbeat ${spec.id} N=${n}`);
      ctx.log(`heartbeat ${spec.id}: connecting ${n} clients`);
      const want = shares(n, procs.length);
      const t0 = Date.now();
      const replies = await Promise.all(
        procs.map((p, i) => {
          const from = have[i]!;
          const to = want[i]!;
          have[i] = to;
          return p.request<ConnectReply>(
            {
              cmd: 'connect',
              group: 'hb',
              protocol: spec.protocol,
              url: server.wsUrl,
              users: Array.from({ length: Math.max(0, to - from) }, (_, k) => `hb${i}x${from + k}`),
              // Few handshakes in flight: the accept work interleaves with the pings of the clients
              // already connected instead of starving them (a starved server's watchdog drops them).
              concurrency: 16,
              timeoutMs: 20_000,
              rampDeadlineMs,
            },
            rampDeadlineMs + 60_000,
          );
        }),
      );
      const connectMs = Date.now() - t0;
      const failures = replies.flatMap((r) => r.errors);
      const failed = replies.reduce((a, r) => a + r.failed, 0);
      const skipped = replies.reduce((a, r) => a + r.skipped, 0);
      const settleMs = await settle([server], warmupMs, warmupMs + 20_000);

      let attempts = 0;
      let m;
      do {
        attempts++;
        m = await profiled(ctx, [server], `heartbeat-${n}`, () => measureWindow(ctx, [server], procs, windowMs));
        if (m.saturated && attempts < 2) ctx.log(`heartbeat ${spec.id} N=${n}: generator saturated (${(m.generatorCpu * 100).toFixed(0)} %), measuring again`);
      } while (m.saturated && attempts < 2);

      const rtt = new Histogram();
      for (const l of m.loads) rtt.merge(l.rtt);
      const pongs = m.loads.reduce((a, l) => a + l.pongs, 0);
      const pingsSent = m.loads.reduce((a, l) => a + l.pingsSent, 0);
      const rssNoGc = server.rssKb();
      const gc = gcBaseline && (await server.gc());
      await sleep(500);
      const rssKb = server.rssKb();
      const heap = gc ? await server.heapUsageKb() : null;
      const connected = m.loads.reduce((a, l) => a + l.openSockets, 0);
      const notes: string[] = [];
      if (failed > 0) notes.push(`${failed} connections failed`);
      if (skipped > 0) notes.push(`ramp deadline (${rampDeadlineMs / 1000} s) passed: ${skipped} clients never connected`);
      if (connected < n) notes.push(`only ${connected}/${n} sockets open during the window`);
      if (pongs < pingsSent * 0.97) notes.push(`pongs lag pings (${pongs}/${pingsSent}): server behind`);
      if (!gc) notes.push('forced GC unavailable: RSS after settle only');
      const lost = m.loads.reduce((a, l) => a + l.unexpectedClosesTotal, 0);
      if (lost > 0) notes.push(`${lost} clients dropped by the server so far`);
      if (m.foreign && (m.foreign.serverCore > 0.2 || m.foreign.loadCore > 0.2)) {
        notes.push(
          `contended: other processes used ${(m.foreign.serverCore * 100).toFixed(0)} % of the server core, ${(m.foreign.loadCore * 100).toFixed(0)} % of the load core`,
        );
      }
      const serverCpu = m.serverCpuUs / (m.wallMs * 1000);
      if (serverCpu > 0.95) notes.push('server core saturated');
      const redisTop: Record<string, number> = {};
      if (m.redis && pongs > 0) {
        for (const [cmd, calls] of Object.entries(m.redis.byCommand)
          .sort((a, b) => b[1] - a[1])
          .slice(0, 5)) {
          redisTop[cmd] = round(calls / pongs, 5) ?? 0;
        }
      }
      const point: HeartbeatPoint = {
        server: spec.id,
        clients: n,
        connected,
        connectFailures: failures,
        connectMs,
        settleMs,
        windowMs: m.wallMs,
        pingsSent,
        pongs,
        cpuUsPerPing: pongs > 0 ? round(m.serverCpuUs / pongs, 2) : null,
        serverCpu: round(serverCpu, 3),
        rttP50Ms: round(rtt.percentile(50), 3),
        rttP99Ms: round(rtt.percentile(99), 3),
        rttMaxMs: round(rtt.maxMs, 3),
        rssKb,
        rssBaselineKb,
        rssKbPerConn: connected > 0 ? round((rssKb - rssBaselineKb) / connected, 2) : null,
        rssKbPerConnNoGc: connected > 0 ? round((rssNoGc - rssBaselineKb) / connected, 2) : null,
        heapKbPerConn: connected > 0 && heap && heapBaseline ? round((heap.usedKb - heapBaseline.usedKb) / connected, 2) : null,
        heapCommittedKbPerConn: connected > 0 && heap && heapBaseline ? round((heap.committedKb - heapBaseline.committedKb) / connected, 2) : null,
        gcForced: Boolean(gc),
        redisCmdsPerPing: m.redis && pongs > 0 ? round(m.redis.total / pongs, 5) : null,
        redisTop,
        generatorCpu: round(m.generatorCpu, 3) ?? 0,
        generatorCpuEach: m.generatorCpuEach.map((v) => round(v, 3) ?? 0),
        coreBusy: m.coreBusy.map((v) => round(v, 3) ?? 0),
        foreign: m.foreign && { serverCore: round(m.foreign.serverCore, 3) ?? 0, loadCore: round(m.foreign.loadCore, 3) ?? 0 },
        loopDelayP99Ms: round(m.loopDelayP99Ms, 2) ?? 0,
        unexpectedCloses: m.loads.reduce((a, l) => a + l.unexpectedCloses, 0),
        unexpectedClosesTotal: m.loads.reduce((a, l) => a + l.unexpectedClosesTotal, 0),
        incomplete: connected < n * 0.98,
        errorFrames: m.loads.reduce((a, l) => a + l.errorFrames, 0),
        discarded: m.saturated,
        attempts,
        notes,
      };
      ctx.log(
        `heartbeat ${spec.id} N=${n}: ${point.cpuUsPerPing} µs/ping, server ${(serverCpu * 100).toFixed(0)} %, ` +
          `RTT p50 ${point.rttP50Ms} p99 ${point.rttP99Ms} ms, RSS ${point.rssKbPerConn} KB/conn (no GC ${point.rssKbPerConnNoGc}, V8 heap ${point.heapKbPerConn}, committed ${point.heapCommittedKbPerConn}), ` +
          `redis ${point.redisCmdsPerPing ?? '-'} cmd/ping, generator ${(m.generatorCpu * 100).toFixed(0)} %` +
          (m.foreign ? `, foreign load ${(m.foreign.serverCore * 100).toFixed(0)}/${(m.foreign.loadCore * 100).toFixed(0)} %` : '') +
          (point.discarded ? ' [DISCARDED]' : '') +
          (point.incomplete ? ` [INCOMPLETE: ${connected}/${n}]` : ''),
      );
      points.push(point);
      if (point.incomplete) {
        ctx.log(`heartbeat ${spec.id}: could not hold ${n} clients, larger steps skipped`);
        break;
      }
    }
  } finally {
    await deployment.teardown();
    await stopLoad(procs);
  }
  return points;
}
