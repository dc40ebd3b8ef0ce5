/**
 * Parts 2 and 3 of the chat benchmark, over the wire against a running Gatehouse: direct messages
 * between pairs of players, and a group's fan-out. The clients live in this process (pinned to
 * the load core), so every latency is one clock: the send time travels in the content (`t`,
 * performance.now()) and the client message id names the message for its ack. Every client pings
 * once a second (CountingClient.keepAlive): 5 messages + 1 ping a second stays far under
 * MAX_MESSAGES_PER_SEC.
 */
import { readFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type pg from 'pg';
import { CountingClient, type Frame, handshake } from '../hostile/wire.ts';
import { Histogram } from '../lib/histogram.ts';
import { CLK_TCK, sleep } from '../lib/proc.ts';
import type { RunningServer } from '../lib/servers.ts';
import { round } from '../scenarios/context.ts';

/** p50/p95/p99/max of a histogram, in ms (null: nothing recorded). */
export interface Percentiles {
  count: number;
  p50Ms: number | null;
  p95Ms: number | null;
  p99Ms: number | null;
  maxMs: number | null;
}

const percentiles = (h: Histogram): Percentiles => ({
  count: h.count,
  p50Ms: round(h.percentile(50), 3),
  p95Ms: round(h.percentile(95), 3),
  p99Ms: round(h.percentile(99), 3),
  maxMs: round(h.count ? h.maxMs : null, 3),
});

const bump = (counts: Record<string, number>, key: string) => {
  counts[key] = (counts[key] ?? 0) + 1;
};

/** Handshakes `concurrency` at a time; a 503 (GW_BUSY and the like) is tried again a second later. */
export async function connectAll(server: RunningServer, users: string[], concurrency = 20): Promise<CountingClient[]> {
  const out: CountingClient[] = new Array(users.length);
  let next = 0;
  const worker = async () => {
    while (next < users.length) {
      const k = next++;
      const userId = users[k]!;
      for (let attempt = 1; ; attempt++) {
        const h = await handshake(`${server.wsUrl}?userId=${encodeURIComponent(userId)}`);
        if (h.ok) {
          const client = new CountingClient(h.ws, userId);
          client.keepAlive();
          out[k] = client;
          break;
        }
        if (h.status !== 503 || attempt >= 30) throw new Error(`${userId} refused: HTTP ${h.status} ${h.body}`);
        await sleep(1000);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return out;
}

export function closeAll(clients: readonly CountingClient[]): void {
  for (const c of clients) c?.close();
}

/** The load process's own figures over a phase: a saturated generator measures itself. */
interface GeneratorMeter {
  stop(): { cpu: number; loopDelayP99Ms: number };
}

function generatorMeter(): GeneratorMeter {
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  return {
    stop() {
      delay.disable();
      const cpu = process.cpuUsage(cpu0);
      return { cpu: (cpu.user + cpu.system) / ((performance.now() - t0) * 1000), loopDelayP99Ms: delay.percentile(99) / 1e6 };
    },
  };
}

/**
 * Sends `total` frames at `ratePerSec`, frame k from `senderOf(k)`. A 1 ms tick sends what is
 * due (bench/load/client.ts paces its direct messages the same way): round-robin over the
 * senders, so each of them sends at ratePerSec / senders, never in lockstep bursts.
 */
async function paced(total: number, ratePerSec: number, send: (k: number) => void): Promise<void> {
  const t0 = performance.now();
  let sent = 0;
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * ratePerSec));
      while (sent < due) send(sent++);
      if (sent >= total) {
        clearInterval(timer);
        resolve();
      }
    }, 1);
  });
}

async function waitUntil(done: () => boolean, maxMs: number): Promise<void> {
  const until = performance.now() + maxMs;
  while (!done() && performance.now() < until) await sleep(20);
}

/** User and system CPU of a process (all its threads), µs: the kernel's share of a message is the network's. */
function userSystemUs(pid: number): { user: number; system: number } {
  const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { user: (Number(rest[11]) / CLK_TCK) * 1e6, system: (Number(rest[12]) / CLK_TCK) * 1e6 };
}

// ---- direct messages -------------------------------------------------------------------------

export interface DmPhase {
  sent: number;
  /** Distinct messages received by their recipient. */
  received: number;
  duplicates: number;
  /** Sent and never received (after the drain). */
  lost: number;
  recipient: Percentiles;
  ack: Percentiles;
  acks: Record<string, number>;
  /** Acks carrying `conversation` and `seq` (persistence on: all of them). */
  acksWithSeq: number;
  /** Messages with no ack at all after the drain. */
  unacked: number;
  errors: Record<string, number>;
  /** Messages received with a `seq` (persistence on: all of them). */
  receivedWithSeq: number;
  wallMs: number;
  /** Server CPU (all its threads) per message sent, µs, over the phase (drain included). */
  serverCpuUsPerMsg: number | null;
  /** ... of which in the kernel (system time). */
  serverSystemUsPerMsg: number | null;
  generatorCpu: number;
  /** The worst slice's event-loop delay p99 of this process (the generator). */
  generatorLoopDelayP99Ms: number;
  /** performance.now() and hrtime (µs) bounds of the phase (first slice start, last slice end), for cutting a profile to it. */
  startedAt: number;
  hrFromUs: number;
  hrToUs: number;
  /** Date.now() at the first slice's start (the stored rows of the phase are those sent from then on). */
  startedAtEpochMs: number;
}

/**
 * Direct messages to one node, in slices: message k of a slice goes from senders[k % n] to
 * recipients[k % n], `ratePerSec` in all; each slice waits up to `drainMs` after its last send
 * for every message and ack. The figures add up over the slices, so two nodes' slices can take
 * turns (what disturbs the machine for a while then hits both modes alike).
 */
export class DmLoad {
  private readonly recipientLatency = new Histogram();
  private readonly ackLatency = new Histogram();
  private readonly acks: Record<string, number> = {};
  private readonly errors: Record<string, number> = {};
  private sent = 0;
  private received = 0;
  private duplicates = 0;
  private receivedWithSeq = 0;
  private acked = 0;
  private acksWithSeq = 0;
  private wallMs = 0;
  private userUs = 0;
  private systemUs = 0;
  private generatorCpuUs = 0;
  private loopDelayP99Ms = 0;
  private startedAt: number | undefined;
  private startedAtEpochMs: number | undefined;
  private hrFromUs: number | undefined;
  private hrToUs = 0;

  constructor(
    private readonly server: RunningServer,
    private readonly senders: readonly CountingClient[],
    private readonly recipients: readonly CountingClient[],
  ) {}

  async slice(runId: number, ratePerSec: number, seconds: number, drainMs: number): Promise<void> {
    const { server, senders, recipients } = this;
    const n = senders.length;
    const total = Math.round(ratePerSec * seconds);
    const sentAt = new Float64Array(total);
    const receivedFlags = new Uint8Array(total);
    const ackedFlags = new Uint8Array(total);
    let received = 0;
    let duplicates = 0;
    let acked = 0;
    const prefix = `d${runId}-`;
    const onRecipientFrame = (frame: Frame) => {
      if (frame.type !== 'message') return;
      const content = frame.content as { r?: number; k?: number } | null;
      if (!content || content.r !== runId || typeof content.k !== 'number') return;
      const k = content.k;
      if (receivedFlags[k]) {
        duplicates++;
        return;
      }
      receivedFlags[k] = 1;
      received++;
      this.recipientLatency.record(performance.now() - sentAt[k]!);
      if (typeof frame.seq === 'number') this.receivedWithSeq++;
    };
    const onSenderFrame = (frame: Frame) => {
      if (frame.type === 'ack' && typeof frame.id === 'string' && frame.id.startsWith(prefix)) {
        const k = Number(frame.id.slice(prefix.length));
        if (ackedFlags[k]) return;
        ackedFlags[k] = 1;
        acked++;
        this.ackLatency.record(performance.now() - sentAt[k]!);
        bump(this.acks, String(frame.status));
        if (typeof frame.seq === 'number' && typeof frame.conversation === 'string') this.acksWithSeq++;
      } else if (frame.type === 'error') {
        bump(this.errors, String(frame.code));
      }
    };
    for (const r of recipients) r.onFrame = onRecipientFrame;
    for (const s of senders) s.onFrame = onSenderFrame;

    const meter = generatorMeter();
    const cpu0 = userSystemUs(server.pid);
    this.startedAtEpochMs ??= Date.now();
    this.hrFromUs ??= Number(process.hrtime.bigint() / 1000n);
    const startedAt = performance.now();
    this.startedAt ??= startedAt;
    await paced(total, ratePerSec, (k) => {
      const i = k % n;
      sentAt[k] = performance.now();
      senders[i]!.send(`{"type":"message","to":"${recipients[i]!.userId}","content":{"t":${sentAt[k]},"r":${runId},"k":${k}},"id":"${prefix}${k}"}`);
    });
    await waitUntil(() => received + duplicates >= total && acked >= total, drainMs);
    const wallMs = performance.now() - startedAt;
    this.hrToUs = Number(process.hrtime.bigint() / 1000n);
    const cpu1 = userSystemUs(server.pid);
    const generator = meter.stop();
    for (const r of recipients) r.onFrame = undefined;
    for (const s of senders) s.onFrame = undefined;
    this.sent += total;
    this.received += received;
    this.duplicates += duplicates;
    this.acked += acked;
    this.wallMs += wallMs;
    this.userUs += cpu1.user - cpu0.user;
    this.systemUs += cpu1.system - cpu0.system;
    this.generatorCpuUs += generator.cpu * wallMs * 1000;
    this.loopDelayP99Ms = Math.max(this.loopDelayP99Ms, generator.loopDelayP99Ms);
  }

  result(): DmPhase {
    return {
      sent: this.sent,
      received: this.received,
      duplicates: this.duplicates,
      lost: this.sent - this.received,
      recipient: percentiles(this.recipientLatency),
      ack: percentiles(this.ackLatency),
      acks: this.acks,
      acksWithSeq: this.acksWithSeq,
      unacked: this.sent - this.acked,
      errors: this.errors,
      receivedWithSeq: this.receivedWithSeq,
      wallMs: round(this.wallMs, 0) ?? 0,
      serverCpuUsPerMsg: this.sent ? round((this.userUs + this.systemUs) / this.sent, 1) : null,
      serverSystemUsPerMsg: this.sent ? round(this.systemUs / this.sent, 1) : null,
      generatorCpu: round(this.wallMs ? this.generatorCpuUs / (this.wallMs * 1000) : 0, 3) ?? 0,
      generatorLoopDelayP99Ms: round(this.loopDelayP99Ms, 2) ?? 0,
      startedAt: this.startedAt ?? 0,
      hrFromUs: this.hrFromUs ?? 0,
      hrToUs: this.hrToUs,
      startedAtEpochMs: this.startedAtEpochMs ?? 0,
    };
  }
}

/** Stored rows of `messages` sent from `sinceEpochMs` on (optionally of one conversation), and how many transactions wrote them. */
export async function storedSince(
  client: pg.Client,
  schema: string,
  sinceEpochMs: number,
  conversation?: string,
): Promise<{ rows: number; transactions: number }> {
  // Each batch of the writer is one transaction: its rows share their xmin.
  const r = await client.query<{ rows: string; txs: string }>(
    `SELECT count(*) AS rows, count(DISTINCT xmin::text) AS txs FROM "${schema}".messages WHERE sent_at >= to_timestamp($1::double precision / 1000)${conversation ? ' AND conversation_id = $2' : ''}`,
    conversation ? [sinceEpochMs, conversation] : [sinceEpochMs],
  );
  return { rows: Number(r.rows[0]?.rows ?? 0), transactions: Number(r.rows[0]?.txs ?? 0) };
}

// ---- group fan-out ---------------------------------------------------------------------------

export interface GroupPhase {
  members: number;
  senders: number;
  sent: number;
  /** Every other member got it. */
  complete: number;
  /** Deliveries expected (sent × (members − 1)) and missing. */
  deliveriesExpected: number;
  deliveriesMissing: number;
  /** Messages some member never got. */
  lost: number;
  duplicates: number;
  /** Send → the last of the other members' `group` frames (complete messages only). */
  fanout: Percentiles;
  /** Send → one member's `group` frame (every delivery). */
  delivery: Percentiles;
  ack: Percentiles;
  acks: Record<string, number>;
  unacked: number;
  errors: Record<string, number>;
  wallMs: number;
  serverCpuUsPerMsg: number | null;
  generatorCpu: number;
  generatorLoopDelayP99Ms: number;
  startedAtEpochMs: number;
}

/** Creates a group with the admin API (201 expected). */
export async function createGroup(server: RunningServer, adminToken: string, id: string, members: string[]): Promise<void> {
  const res = await fetch(`${server.httpBase}/api/groups`, {
    method: 'POST',
    headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ id, name: 'bench group', members }),
  });
  const text = await res.text();
  if (res.status !== 201) throw new Error(`POST /api/groups: HTTP ${res.status} ${text.slice(0, 300)}`);
}

/** One phase of group messages: message k from senders[k % senders.length], `ratePerSec` in all. */
export async function groupPhase(
  server: RunningServer,
  groupId: string,
  members: readonly CountingClient[],
  senderCount: number,
  runId: number,
  ratePerSec: number,
  seconds: number,
  drainMs: number,
): Promise<GroupPhase> {
  const senders = members.slice(0, senderCount);
  const others = members.length - 1;
  const total = Math.round(ratePerSec * seconds);
  const sentAt = new Float64Array(total);
  const deliveries = new Uint16Array(total);
  // Per member, which messages it got (duplicates are counted, not recorded twice).
  const seen = members.map(() => new Uint8Array(total));
  const fanout = new Histogram();
  const delivery = new Histogram();
  const ack = new Histogram();
  const acks: Record<string, number> = {};
  const errors: Record<string, number> = {};
  const acked = new Uint8Array(total);
  let ackCount = 0;
  let deliveryCount = 0;
  let duplicates = 0;
  let complete = 0;
  const prefix = `g${runId}-`;
  members.forEach((member, m) => {
    member.onFrame = (frame: Frame) => {
      if (frame.type === 'group') {
        const content = frame.content as { r?: number; k?: number } | null;
        if (!content || content.r !== runId || typeof content.k !== 'number') return;
        const k = content.k;
        if (seen[m]![k]) {
          duplicates++;
          return;
        }
        seen[m]![k] = 1;
        deliveryCount++;
        const ms = performance.now() - sentAt[k]!;
        delivery.record(ms);
        if (++deliveries[k]! === others) {
          complete++;
          fanout.record(ms);
        }
      } else if (frame.type === 'ack' && typeof frame.id === 'string' && frame.id.startsWith(prefix)) {
        const k = Number(frame.id.slice(prefix.length));
        if (acked[k]) return;
        acked[k] = 1;
        ackCount++;
        ack.record(performance.now() - sentAt[k]!);
        bump(acks, String(frame.status));
      } else if (frame.type === 'error') {
        bump(errors, String(frame.code));
      }
    };
  });

  const meter = generatorMeter();
  const cpu0 = server.cpuUs();
  const startedAtEpochMs = Date.now();
  const startedAt = performance.now();
  await paced(total, ratePerSec, (k) => {
    sentAt[k] = performance.now();
    senders[k % senderCount]!.send(`{"type":"group","group":"${groupId}","content":{"t":${sentAt[k]},"r":${runId},"k":${k}},"id":"${prefix}${k}"}`);
  });
  await waitUntil(() => complete >= total && ackCount >= total, drainMs);
  const wallMs = performance.now() - startedAt;
  const cpu1 = server.cpuUs();
  const generator = meter.stop();
  for (const m of members) m.onFrame = undefined;
  return {
    members: members.length,
    senders: senderCount,
    sent: total,
    complete,
    deliveriesExpected: total * others,
    deliveriesMissing: total * others - deliveryCount,
    lost: total - complete,
    duplicates,
    fanout: percentiles(fanout),
    delivery: percentiles(delivery),
    ack: percentiles(ack),
    acks,
    unacked: total - ackCount,
    errors,
    wallMs: round(wallMs, 0) ?? 0,
    serverCpuUsPerMsg: round((cpu1 - cpu0) / total, 1),
    generatorCpu: round(generator.cpu, 3) ?? 0,
    generatorLoopDelayP99Ms: round(generator.loopDelayP99Ms, 2) ?? 0,
    startedAtEpochMs,
  };
}
