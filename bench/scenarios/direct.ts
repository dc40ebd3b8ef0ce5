/**
 * Scenario 2, direct messages: 1k msg/s between 100 sender/recipient pairs, on one node and
 * across two nodes (sender on node A, recipient on node B). Both sockets of a pair live in the
 * same load process, so latency = receive time − send time on one clock. Every client also
 * pings at 1 Hz (10 msg/s + 1 ping/s per sender stays under Gatehouse's 50 frames/s limit).
 */
import type { ConnectReply, DirectReply } from '../lib/ipc.ts';
import { Histogram } from '../lib/histogram.ts';
import { sleep } from '../lib/proc.ts';
import type { ServerSpec } from '../lib/servers.ts';
import { checkDeadline, deploy, profiled, round, startLoad, stopLoad, type BenchContext } from './context.ts';
import { coreBusy, readCoreTimes } from '../lib/proc.ts';
import { PrivateRedis } from '../lib/redis.ts';

export interface DirectPoint {
  server: string;
  nodes: number;
  pairs: number;
  ratePerSec: number;
  windowMs: number;
  sent: number;
  received: number;
  acks: number;
  errors: Record<string, number>;
  p50Ms: number | null;
  p99Ms: number | null;
  maxMs: number | null;
  /** Server CPU (all nodes) per message sent. */
  cpuUsPerMsg: number | null;
  redisCmdsPerMsg: number | null;
  /** The busiest Redis commands (commands run by Lua scripts included), per message. */
  redisTop: Record<string, number>;
  generatorCpu: number;
  coreBusy: number[];
  discarded: boolean;
  notes: string[];
}

const PAIRS = 100;
const RATE = 1000;

export async function runDirect(ctx: BenchContext, spec: ServerSpec, nodes: 1 | 2): Promise<DirectPoint> {
  checkDeadline(ctx, `direct ${spec.id} x${nodes}`);
  const durationMs = ctx.quick ? 4000 : 8000;
  const withRedis = nodes === 2 && spec.id === 'raw-ws';
  const deployment = await deploy(ctx, spec, nodes, { withRedis, profileName: `direct-${spec.id}-x${nodes}` });
  const a = deployment.servers[0]!;
  const b = deployment.servers[1] ?? a;
  const [proc] = await startLoad(ctx, 1);
  try {
    const senders = Array.from({ length: PAIRS }, (_, i) => `s${i}`);
    const recipients = Array.from({ length: PAIRS }, (_, i) => `r${i}`);
    const connect = async (group: string, users: string[], url: string) => {
      const r = await proc!.request<ConnectReply>({ cmd: 'connect', group, protocol: spec.protocol, url, users, concurrency: 20, timeoutMs: 20_000 });
      if (r.failed > 0) throw new Error(`direct ${spec.id}: ${r.failed} connections failed: ${r.errors.join('; ')}`);
    };
    await proc!.request({ cmd: 'heartbeat', enabled: true, intervalMs: 1000 });
    await connect('r', recipients, b.wsUrl);
    await connect('s', senders, a.wsUrl);
    await sleep(1000);
    // Warm-up run (discarded): JIT, Redis connections, subscriptions.
    await proc!.request<DirectReply>({ cmd: 'direct', fromGroup: 's', to: recipients, ratePerSec: RATE, durationMs: ctx.quick ? 1000 : 2000, drainMs: 2000 });
    await sleep(500);

    const servers = deployment.servers;
    const redis = servers.some((s) => s.spec.needsRedis) || withRedis ? ctx.infra.redis : undefined;
    const r0 = redis ? await redis.commandStats() : undefined;
    const cores0 = readCoreTimes();
    const cpu0 = servers.reduce((s, x) => s + x.cpuUs(), 0);
    const reply = await profiled(ctx, servers, `direct-x${nodes}`, () =>
      proc!.request<DirectReply>({ cmd: 'direct', fromGroup: 's', to: recipients, ratePerSec: RATE, durationMs, drainMs: 3000 }, durationMs + 30_000),
    );
    const cpu1 = servers.reduce((s, x) => s + x.cpuUs(), 0);
    const cores1 = readCoreTimes();
    const r1 = redis ? await redis.commandStats() : undefined;
    const latency = Histogram.from(reply.latency);
    const redisDelta = r0 && r1 ? PrivateRedis.delta(r0, r1) : undefined;
    const redisTop: Record<string, number> = {};
    if (redisDelta && reply.sent > 0) {
      for (const [cmd, calls] of Object.entries(redisDelta.byCommand)
        .sort((x, y) => y[1] - x[1])
        .slice(0, 6)) {
        redisTop[cmd] = round(calls / reply.sent, 3) ?? 0;
      }
    }
    const generatorCpu = reply.cpuUs / (reply.wallMs * 1000);
    const notes: string[] = [];
    if (reply.received < reply.sent) notes.push(`${reply.sent - reply.received} of ${reply.sent} messages not received`);
    if (Object.keys(reply.errors).length) notes.push(`error frames: ${JSON.stringify(reply.errors)}`);
    const point: DirectPoint = {
      server: spec.id,
      nodes,
      pairs: PAIRS,
      ratePerSec: RATE,
      windowMs: round(reply.wallMs, 0) ?? 0,
      sent: reply.sent,
      received: reply.received,
      acks: reply.acks,
      errors: reply.errors,
      p50Ms: round(latency.percentile(50), 3),
      p99Ms: round(latency.percentile(99), 3),
      maxMs: round(latency.maxMs, 3),
      cpuUsPerMsg: reply.sent > 0 ? round((cpu1 - cpu0) / reply.sent, 1) : null,
      redisCmdsPerMsg: redisDelta && reply.sent > 0 ? round(redisDelta.total / reply.sent, 3) : null,
      redisTop,
      generatorCpu: round(generatorCpu, 3) ?? 0,
      coreBusy: coreBusy(cores0, cores1).map((v) => round(v, 3) ?? 0),
      discarded: generatorCpu > ctx.saturation,
      notes,
    };
    ctx.log(
      `direct ${spec.id} x${nodes}: p50 ${point.p50Ms} p99 ${point.p99Ms} ms, ${point.received}/${point.sent} received, ` +
        `${point.cpuUsPerMsg} µs CPU/msg, redis ${point.redisCmdsPerMsg ?? '-'} cmd/msg ${Object.keys(redisTop).length ? JSON.stringify(redisTop) : ''}`,
    );
    return point;
  } finally {
    await deployment.teardown();
    await stopLoad([proc!]);
  }
}
