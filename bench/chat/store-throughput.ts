/**
 * Part 1 of the chat benchmark: how fast stored messages go into the database, in this process
 * (no gateway, no network but the database's): `MessageWriter` over `PrismaMessageStore`, fed as
 * fast as it takes messages with a bounded number in flight, and the same store's `append`
 * straight through in batches of 500 (the ceiling the writer can reach). Each measurement opens
 * its own database with `openDatabase` (PostgreSQL: a fresh private schema of the test database;
 * embedded: PGlite in `memory://`), warms it up, then measures.
 */
import { randomUUID } from 'node:crypto';
import { directConversationId } from '../../src/protocol/conversation-ids.ts';
import type { NewMessage } from '../../src/chat/message-store.ts';
import { MessageWriter } from '../../src/chat/message-writer.ts';
import { type Database, openDatabase } from '../../src/database/database.ts';
import { PrismaMessageStore } from '../../src/database/prisma-message-store.ts';
import { Histogram } from '../lib/histogram.ts';
import type { BenchDatabase } from '../lib/pg.ts';
import { processCpuUs } from '../lib/proc.ts';
import { type OtherWork, otherWorkMeter } from './machine.ts';
import { pinBackends } from './pg-backends.ts';
import type pg from 'pg';
import { round } from '../scenarios/context.ts';

/** The gateway's own settings of its writer (src/gateway/gateway-parts.ts: MESSAGE_BATCH_MAX, MESSAGES_PENDING_MAX). */
export const WRITER_MAX_BATCH = 500;
export const WRITER_MAX_PENDING = 10_000;
/** PostgreSQL pool of the database under test: DATABASE_POOL_MAX's default. */
const POOL_MAX = 10;

export interface ThroughputRow {
  database: 'postgres' | 'pglite';
  path: 'writer' | 'append';
  messages: number;
  conversations: number;
  /** Writer: messages handed over and not yet durable, at most. Append: one batch. */
  inFlight: number;
  wallMs: number;
  perSec: number;
  batches: number;
  meanBatch: number;
  /** Writer: write() → durable (the promise resolved). Append: one `append` call. */
  p50Ms: number | null;
  p99Ms: number | null;
  maxMs: number | null;
  /** write() answered undefined (over maxPending). */
  refused: number;
  failed: number;
  /** CPU of this process (the writer, Prisma, pg; all threads, PGlite's included) per message, µs. */
  cpuUsPerMsg: number;
  /** PostgreSQL: CPU of the backends that ran the batches, per message, µs (from /proc; null when not found). */
  backendCpuUsPerMsg: number | null;
  /** Other work on the machine meanwhile (machine.ts). */
  otherWork: OtherWork;
  /** Those backends, and how many were pinned (to the other core than this process's). */
  backends: number;
  backendsPinned: number;
  /** Rows in `messages` afterwards, and how many the warm-up and the measurement wrote. */
  rows: number;
  expectedRows: number;
}

/** 1,000 direct conversations of 2,000 users, and messages spread over them round-robin. */
function messageSource(conversations: number): (k: number) => NewMessage {
  const pairs = Array.from({ length: conversations }, (_, i) => {
    const a = `player-${String(2 * i).padStart(5, '0')}`;
    const b = `player-${String(2 * i + 1).padStart(5, '0')}`;
    return { id: directConversationId(a, b), users: [a, b] as const };
  });
  return (k) => {
    const pair = pairs[k % conversations]!;
    return {
      conversationId: pair.id,
      id: randomUUID(),
      sender: pair.users[Math.floor(k / conversations) % 2]!,
      // ~70 bytes: a short chat line.
      content: `{"text":"good game, same time tomorrow? message ${k}","n":${k}}`,
      sentAt: Date.now(),
    };
  };
}

async function countRows(db: Database): Promise<number> {
  const rows = await db.prisma.$queryRawUnsafe<Array<{ n: bigint }>>('SELECT count(*) AS n FROM messages');
  return Number(rows[0]?.n ?? 0);
}

/** Feeds `messages` to a writer, keeping at most `window` of them not yet durable. */
async function viaWriter(
  store: PrismaMessageStore,
  messages: readonly NewMessage[],
  window: number,
): Promise<{ writer: MessageWriter; latency: Histogram; refused: number; failed: number }> {
  const writer = new MessageWriter({ store, maxBatch: WRITER_MAX_BATCH, maxPending: WRITER_MAX_PENDING });
  const latency = new Histogram();
  const total = messages.length;
  let next = 0;
  let settled = 0;
  let refused = 0;
  let failed = 0;
  await new Promise<void>((resolve) => {
    const pump = () => {
      while (next < total && next - settled < window) {
        const at = performance.now();
        const written = writer.write(messages[next]!);
        // Refused: over maxPending; the next settled message pumps again.
        if (!written) {
          refused++;
          return;
        }
        next++;
        const done = (ok: boolean) => {
          if (ok) latency.record(performance.now() - at);
          else failed++;
          if (++settled === total) resolve();
          else pump();
        };
        written.then(
          () => done(true),
          () => done(false),
        );
      }
    };
    pump();
  });
  return { writer, latency, refused, failed };
}

/** `append` straight through, one batch of `batch` at a time. */
async function viaAppend(store: PrismaMessageStore, messages: readonly NewMessage[], batch: number): Promise<Histogram> {
  const latency = new Histogram();
  for (let i = 0; i < messages.length; i += batch) {
    const slice = messages.slice(i, i + batch);
    const at = performance.now();
    await store.append(slice);
    latency.record(performance.now() - at);
  }
  return latency;
}

export interface ThroughputOptions {
  database: 'postgres' | 'pglite';
  path: 'writer' | 'append';
  messages: number;
  warmup: number;
  conversations: number;
  window: number;
  /** PostgreSQL (a fresh schema of it per measurement); absent for PGlite. */
  pg?: BenchDatabase;
  /** A connection of the benchmark's own to that PostgreSQL, to find the backends of the pool. */
  probe?: pg.Client;
  /** Pin the backends that run the batches to this core (pg-backends.ts); null: leave them. */
  pgCore: number | null;
}

/**
 * The backends of PostgreSQL that ran APPEND since `since` (the pool's connections: a pool
 * serving one statement at a time reuses the same one), found by their last statement.
 */
async function appendBackends(probe: pg.Client, since: Date): Promise<number[]> {
  const r = await probe.query<{ pid: number }>(
    `SELECT pid FROM pg_stat_activity WHERE backend_type = 'client backend' AND backend_start >= $1 AND query LIKE '%INSERT INTO conversations AS c%' AND pid <> pg_backend_pid()`,
    [since],
  );
  return r.rows.map((row) => row.pid);
}

const cpuOf = (pids: readonly number[]) => pids.reduce((sum, pid) => sum + (processCpuUs(pid) ?? 0), 0);

/** One measurement on a database of its own. */
export async function measureThroughput(options: ThroughputOptions): Promise<ThroughputRow> {
  const { database, path, messages, warmup, conversations, window } = options;
  let db: Database;
  let schema: string | undefined;
  const openedAt = new Date(Date.now() - 1000);
  if (database === 'postgres') {
    if (!options.pg) throw new Error('PostgreSQL not available');
    schema = await options.pg.createSchema();
    db = await openDatabase({ url: options.pg.url, schema, pgliteDir: 'unused', poolMax: POOL_MAX, migrate: true });
  } else {
    db = await openDatabase({ pgliteDir: 'memory://', poolMax: 1, migrate: true });
  }
  try {
    const store = new PrismaMessageStore(db.prisma);
    // Made before the clock starts: what is measured is the writer / the store, not making messages.
    const make = messageSource(conversations);
    const all = Array.from({ length: warmup + messages }, (_, k) => make(k));
    const warm = all.slice(0, warmup);
    const measured = all.slice(warmup);
    // Warm-up (JIT, Prisma's statement cache, the conversations' rows), same path.
    if (path === 'writer') await viaWriter(store, warm, window);
    else await viaAppend(store, warm, WRITER_MAX_BATCH);

    const backends = options.probe && database === 'postgres' ? await appendBackends(options.probe, openedAt) : [];
    const pinned = pinBackends(backends, options.pgCore);
    const backendCpu0 = cpuOf(backends);
    const machine = otherWorkMeter(backends);
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    let latency: Histogram;
    let batches: number;
    let refused = 0;
    let failed = 0;
    if (path === 'writer') {
      const run = await viaWriter(store, measured, window);
      latency = run.latency;
      batches = run.writer.batches;
      refused = run.refused;
      failed = run.failed;
    } else {
      latency = await viaAppend(store, measured, WRITER_MAX_BATCH);
      batches = latency.count;
    }
    const wallMs = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    const backendCpu = cpuOf(backends) - backendCpu0;
    const otherWork = machine.stop();
    const rows = await countRows(db);
    return {
      database,
      path,
      messages,
      conversations,
      inFlight: path === 'writer' ? window : WRITER_MAX_BATCH,
      wallMs: round(wallMs, 0) ?? 0,
      perSec: Math.round((messages / wallMs) * 1000),
      batches,
      meanBatch: round(batches > 0 ? messages / batches : 0, 1) ?? 0,
      p50Ms: round(latency.percentile(50), 2),
      p99Ms: round(latency.percentile(99), 2),
      maxMs: round(latency.maxMs, 2),
      refused,
      failed,
      cpuUsPerMsg: round((cpu.user + cpu.system) / messages, 1) ?? 0,
      backendCpuUsPerMsg: backends.length ? round(backendCpu / messages, 1) : null,
      backends: backends.length,
      backendsPinned: pinned,
      otherWork,
      rows,
      expectedRows: warmup + messages,
    };
  } finally {
    await db.close();
    if (schema) await options.pg?.dropSchema(schema);
  }
}

export interface CommitProbe {
  commits: number;
  p50Ms: number | null;
  p99Ms: number | null;
  maxMs: number | null;
}

/**
 * The floor under every stored message: `commits` one-row INSERTs in a row, each its own
 * transaction (autocommit, so a WAL flush each), on a table of a fresh schema.
 */
export async function commitProbe(pgDb: BenchDatabase, probe: pg.Client, commits: number): Promise<CommitProbe> {
  const schema = await pgDb.createSchema();
  try {
    await probe.query(`CREATE TABLE "${schema}".probe (n int PRIMARY KEY, at timestamptz NOT NULL DEFAULT now())`);
    const latency = new Histogram();
    for (let n = 0; n < commits; n++) {
      const at = performance.now();
      await probe.query(`INSERT INTO "${schema}".probe (n) VALUES ($1)`, [n]);
      latency.record(performance.now() - at);
    }
    return { commits, p50Ms: round(latency.percentile(50), 2), p99Ms: round(latency.percentile(99), 2), maxMs: round(latency.maxMs, 2) };
  } finally {
    await pgDb.dropSchema(schema);
  }
}

/**
 * The same one-row commits, one every `intervalMs`, in the background until stopped: what a
 * commit cost while a phase ran (the disk is shared with other work on this machine).
 */
export async function commitSampler(pgDb: BenchDatabase, probe: pg.Client, intervalMs = 50): Promise<{ stop(): Promise<CommitProbe> }> {
  const schema = await pgDb.createSchema();
  await probe.query(`CREATE TABLE "${schema}".probe (n int PRIMARY KEY, at timestamptz NOT NULL DEFAULT now())`);
  const latency = new Histogram();
  let stopped = false;
  const loop = (async () => {
    for (let n = 0; !stopped; n++) {
      const at = performance.now();
      await probe.query(`INSERT INTO "${schema}".probe (n) VALUES ($1)`, [n]);
      latency.record(performance.now() - at);
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop.catch(() => {});
      await pgDb.dropSchema(schema).catch(() => {});
      return { commits: latency.count, p50Ms: round(latency.percentile(50), 2), p99Ms: round(latency.percentile(99), 2), maxMs: round(latency.maxMs, 2) };
    },
  };
}
