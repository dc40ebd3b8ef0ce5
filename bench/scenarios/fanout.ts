/**
 * Scenario 3, fan-out: one sender to 1k members. With rooms (a `join` answered by `joined`)
 * the sender is a member socket publishing `room` frames; without them, POST /api/broadcast
 * (Gatehouse's admin API; the reference servers expose the same endpoint: raw ws loops over its
 * sockets, Socket.IO calls io.emit). The mode is the same for every server of a run.
 * Figures: deliveries per second of one push (members / time from the send to the last
 * member's delivery, median over the pushes) and server CPU µs per delivery. Heartbeats pause
 * during the pushes (shorter than the 10 s timeout) so the CPU is the fan-out's own.
 */
import type { ConnectReply, FanoutReply, SimpleReply } from '../lib/ipc.ts';
import { sleep } from '../lib/proc.ts';
import type { ServerSpec } from '../lib/servers.ts';
import { checkDeadline, deploy, round, startLoad, stopLoad, type BenchContext } from './context.ts';

export interface FanoutPoint {
  server: string;
  mode: 'room' | 'broadcast';
  members: number;
  pushes: number;
  intervalMs: number;
  /** members / median time to the last delivery. */
  deliveriesPerSec: number | null;
  lastDeliveryP50Ms: number | null;
  lastDeliveryP90Ms: number | null;
  firstDeliveryP50Ms: number | null;
  delivered: number;
  expected: number;
  cpuUsPerDelivery: number | null;
  generatorCpu: number;
  discarded: boolean;
  notes: string[];
}

const MEMBERS = 1000;
const ROOM = 'bench-room';

function percentile(values: number[], p = 50): number | null {
  const v = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (!v.length) return null;
  return v[Math.min(v.length - 1, Math.max(0, Math.ceil((p / 100) * v.length) - 1))]!;
}

/** Does this server answer `join` with `joined`? (Gatehouse before rooms answers an error.) */
export async function probeRooms(ctx: BenchContext, spec: ServerSpec): Promise<boolean> {
  const deployment = await deploy(ctx, spec, 1, { profileName: `probe-${spec.id}` });
  const [proc] = await startLoad(ctx, 1);
  try {
    await proc!.request<ConnectReply>({
      cmd: 'connect',
      group: 'p',
      protocol: spec.protocol,
      url: deployment.servers[0]!.wsUrl,
      users: ['probe1'],
      concurrency: 1,
      timeoutMs: 10_000,
    });
    const r = await proc!.request<SimpleReply>({ cmd: 'join', group: 'p', room: ROOM, timeoutMs: 2000 });
    return (r.info?.joined ?? 0) > 0;
  } finally {
    await deployment.teardown();
    await stopLoad([proc!]);
  }
}

export async function runFanout(ctx: BenchContext, spec: ServerSpec, mode: 'room' | 'broadcast'): Promise<FanoutPoint> {
  checkDeadline(ctx, `fan-out ${spec.id}`);
  const pushes = ctx.quick ? 12 : 30;
  const intervalMs = 200;
  const deployment = await deploy(ctx, spec, 1, { profileName: `fanout-${spec.id}` });
  const server = deployment.servers[0]!;
  const [proc] = await startLoad(ctx, 1);
  try {
    // Heartbeats from the first socket on: a slow ramp must not let the watchdog close anyone.
    await proc!.request({ cmd: 'heartbeat', enabled: true, intervalMs: 1000 });
    const members = Array.from({ length: MEMBERS }, (_, i) => `m${i}`);
    const c = await proc!.request<ConnectReply>({
      cmd: 'connect',
      group: 'm',
      protocol: spec.protocol,
      url: server.wsUrl,
      users: members,
      concurrency: 50,
      timeoutMs: 20_000,
    });
    if (c.failed > 0) throw new Error(`fan-out ${spec.id}: ${c.failed} connections failed: ${c.errors.join('; ')}`);
    if (mode === 'room') {
      await proc!.request({ cmd: 'connect', group: 'snd', protocol: spec.protocol, url: server.wsUrl, users: ['sender'], concurrency: 1, timeoutMs: 20_000 });
      const j1 = await proc!.request<SimpleReply>({ cmd: 'join', group: 'm', room: ROOM, timeoutMs: 10_000 });
      const j2 = await proc!.request<SimpleReply>({ cmd: 'join', group: 'snd', room: ROOM, timeoutMs: 10_000 });
      if ((j1.info?.joined ?? 0) < MEMBERS || (j2.info?.joined ?? 0) < 1)
        throw new Error(`fan-out ${spec.id}: join failed (${j1.info?.joined}/${MEMBERS} members, ${j2.info?.joined}/1 sender joined)`);
    }
    await sleep(2000);
    const fanoutCmd = {
      cmd: 'fanout' as const,
      mode,
      intervalMs,
      expect: MEMBERS,
      broadcastUrl: `${server.httpBase}/api/broadcast`,
      adminToken: ctx.infra.adminToken,
      senderGroup: 'snd',
      room: ROOM,
      drainMs: 2000,
    };
    // Warm-up pushes (discarded).
    await proc!.request<FanoutReply>({ ...fanoutCmd, count: 5 });
    // A fresh heartbeat just before pausing them: the pushes take less than the 10 s timeout.
    await sleep(1100);
    await proc!.request({ cmd: 'heartbeat', enabled: false, intervalMs: 1000 });
    const cpu0 = server.cpuUs();
    const reply = await proc!.request<FanoutReply>({ ...fanoutCmd, count: pushes }, 60_000);
    const cpu1 = server.cpuUs();
    await proc!.request({ cmd: 'heartbeat', enabled: true, intervalMs: 1000 });
    const delivered = reply.pushes.reduce((a, p) => a + p.delivered, 0);
    const last = reply.pushes.map((p) => p.lastMs);
    const p50 = percentile(last);
    const generatorCpu = reply.cpuUs / (reply.wallMs * 1000);
    const notes: string[] = [];
    const sendErrors = reply.pushes.filter((p) => p.sendError).map((p) => p.sendError);
    if (sendErrors.length) notes.push(`send errors: ${sendErrors.slice(0, 3).join(', ')}`);
    if (delivered < pushes * MEMBERS) notes.push(`${pushes * MEMBERS - delivered} deliveries missing`);
    const point: FanoutPoint = {
      server: spec.id,
      mode,
      members: MEMBERS,
      pushes,
      intervalMs,
      deliveriesPerSec: p50 && p50 > 0 ? Math.round(MEMBERS / (p50 / 1000)) : null,
      lastDeliveryP50Ms: round(p50, 3),
      lastDeliveryP90Ms: round(percentile(last, 90), 3),
      firstDeliveryP50Ms: round(percentile(reply.pushes.map((p) => p.firstMs)), 3),
      delivered,
      expected: pushes * MEMBERS,
      cpuUsPerDelivery: delivered > 0 ? round((cpu1 - cpu0) / delivered, 2) : null,
      generatorCpu: round(generatorCpu, 3) ?? 0,
      discarded: generatorCpu > ctx.saturation,
      notes,
    };
    ctx.log(
      `fan-out ${spec.id} (${mode}): ${point.deliveriesPerSec} deliveries/s (last delivery p50 ${point.lastDeliveryP50Ms} ms), ` +
        `${point.cpuUsPerDelivery} µs CPU/delivery, ${delivered}/${pushes * MEMBERS} delivered`,
    );
    return point;
  } finally {
    await deployment.teardown();
    await stopLoad([proc!]);
  }
}
