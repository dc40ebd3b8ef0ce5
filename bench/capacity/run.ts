/**
 * The capacity model's figures (issue 19, item 6): what each thing a player does costs the
 * Redis every node shares, per operation: commands, the CPU Redis reports spending in those
 * commands (`INFO commandstats` usec) and the CPU of the whole redis-server process (`INFO cpu`,
 * network I/O included). docs/scaling.md turns them into shards and nodes for a player count.
 *
 *   npm run bench -- --scenario=capacity [--redis=standalone|cluster] [--players=1000] [--messages=4000] [--publishes=400] [--label=NAME] [--out=DIR]
 *
 * Two Gatehouse nodes (`node dist/server.js`, production settings) on a private redis-server (or,
 * with --redis=cluster, a private Redis Cluster of 3 primaries and 3 replicas, REDIS_BUCKETS 64)
 * and a fresh PostgreSQL schema, as a two-node cluster. Phases, one after the other, each
 * measured as Redis counters after − before (summed over the primaries), minus the idle rate
 * (lease renewals, stats) over its time: login (players on node A), heartbeat (everyone pings
 * 1/s), cross-node direct message (A → B), room publish (a room with members on both nodes),
 * logout (the players of A dropped). On a cluster each phase also shows how its Redis time
 * spread over the three primaries.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { REPO_ROOT } from '../lib/load.ts';
import { freePort } from '../lib/net.ts';
import { BenchDatabase, DEFAULT_DATABASE_URL } from '../lib/pg.ts';
import { commandOutput, hasTaskset, killAllChildren, loadAverage, pinSelf, sleep } from '../lib/proc.ts';
import { type CommandStats, PrivateRedis, parseCommandStats } from '../lib/redis.ts';
import { AttackedNode } from '../hostile/node.ts';
import { PrivateRedisCluster } from '../../test/helpers/private-redis-cluster.ts';
import { type CountingClient, connect, type NodeAddress } from '../hostile/wire.ts';

interface Args {
  redis: 'standalone' | 'cluster';
  players: number;
  messages: number;
  publishes: number;
  label: string;
  out: string;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { redis: 'standalone', players: 1000, messages: 4000, publishes: 400, label: '', out: join(REPO_ROOT, 'bench', 'results') };
  for (const arg of argv) {
    const [key, value = ''] = arg.split('=', 2);
    const n = Number(value);
    if (key === '--redis' && (value === 'standalone' || value === 'cluster')) args.redis = value;
    else if (key === '--players' && n >= 10) args.players = n;
    else if (key === '--messages' && n >= 10) args.messages = n;
    else if (key === '--publishes' && n >= 10) args.publishes = n;
    else if (key === '--label' && /^[a-z0-9-]+$/.test(value)) args.label = value;
    else if (key === '--out' && value) args.out = value;
    else if (key !== '--scenario') {
      process.stderr.write(`bench capacity: unknown or bad argument ${arg}\n`);
      process.exit(2);
    }
  }
  return args;
}

/** Redis's command counters and the redis-server processes' CPU at one moment (summed over the primaries). */
interface RedisCounters {
  at: number;
  stats: CommandStats;
  cpuUs: number;
  /** Per primary: µs in commands so far (the spread over the shards). */
  usecByPrimary: number[];
}

async function readCounters(clients: readonly Redis[]): Promise<RedisCounters> {
  const each = await Promise.all(
    clients.map(async (client) => {
      const [stats, cpu] = await Promise.all([client.info('commandstats'), client.info('cpu')]);
      const seconds = (name: string) => Number(new RegExp(`${name}:([0-9.]+)`).exec(cpu)?.[1] ?? 0);
      return { stats: parseCommandStats(stats), cpuUs: (seconds('used_cpu_sys') + seconds('used_cpu_user')) * 1e6 };
    }),
  );
  return {
    at: performance.now(),
    stats: each.map((e) => e.stats).reduce(PrivateRedis.sum),
    cpuUs: each.reduce((sum, e) => sum + e.cpuUs, 0),
    usecByPrimary: each.map((e) => e.stats.usec),
  };
}

interface Cost {
  commands: number;
  commandUs: number;
  /** null where the process's CPU cannot be told apart from the idle rate's (heartbeats). */
  processUs: number | null;
  top: Record<string, number>;
}

/** Two significant decimals below 1 (a heartbeat's share of a flush is ~0.0005 commands). */
const fixed = (v: number) => (v >= 1 || v === 0 ? v.toFixed(1) : v.toPrecision(2));

function delta(a: RedisCounters, b: RedisCounters): { seconds: number; stats: CommandStats; processUs: number; usecByPrimary: number[] } {
  return {
    seconds: (b.at - a.at) / 1000,
    stats: PrivateRedis.delta(a.stats, b.stats),
    processUs: b.cpuUs - a.cpuUs,
    usecByPrimary: b.usecByPrimary.map((usec, i) => usec - (a.usecByPrimary[i] ?? 0)),
  };
}

/** Each primary's share of the phase's µs in commands, e.g. `34/33/33 %`. */
function spread(usecByPrimary: readonly number[]): string {
  const total = usecByPrimary.reduce((sum, usec) => sum + usec, 0);
  return usecByPrimary.length < 2 || total === 0 ? '' : `${usecByPrimary.map((usec) => Math.round((100 * usec) / total)).join('/')} %`;
}

interface PhaseResult extends Cost {
  /** Each primary's share of the µs in commands (a cluster), '' on one Redis. */
  spread: string;
  phase: string;
  operations: number;
  unit: string;
  seconds: number;
  note: string;
}

const log = (text: string) => process.stderr.write(`[capacity] ${text}\n`);

export async function runCapacity(argv: string[]): Promise<void> {
  const args = parseArgs(argv);
  const taskset = hasTaskset() && cpus().length >= 2;
  if (taskset) pinSelf(1);
  const cleanups: Array<() => Promise<void>> = [];
  process.on('exit', () => killAllChildren());
  try {
    const redisEnv: Record<string, string> = {};
    let primaries: Redis[];
    let redisWhere: string;
    if (args.redis === 'cluster') {
      const redisCluster = await PrivateRedisCluster.start({ teardown: (fn: () => unknown) => void cleanups.push(async () => void (await fn())) });
      Object.assign(redisEnv, { REDIS_URL: 'redis://127.0.0.1', REDIS_CLUSTER_NODES: redisCluster.nodes });
      primaries = (await redisCluster.primaries()).map((port) => new Redis(port, '127.0.0.1'));
      redisWhere = `private Redis Cluster ${redisCluster.nodes}`;
    } else {
      const redis = await PrivateRedis.start(taskset ? 1 : null);
      cleanups.push(() => redis.stop());
      Object.assign(redisEnv, { REDIS_URL: redis.url });
      primaries = [new Redis(redis.url)];
      redisWhere = `private Redis ${redis.port}`;
    }
    cleanups.push(async () => primaries.forEach((client) => client.disconnect()));
    const db = await BenchDatabase.connect(process.env.BENCH_DATABASE_URL ?? DEFAULT_DATABASE_URL);
    cleanups.push(() => db.close());
    const schema = await db.createSchema();
    const stamp = Date.now().toString(36);
    const jwtSecret = randomBytes(24).toString('hex');
    const adminToken = randomBytes(16).toString('hex');
    const nodes: Array<{ node: AttackedNode; address: NodeAddress }> = [];
    for (const name of ['a', 'b']) {
      const port = await freePort();
      const env: Record<string, string> = {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '',
        NODE_ENV: 'production',
        HOST: '127.0.0.1',
        NODE_ID: `cap-${stamp}-${name}`,
        AUTH_JWT_SECRET: jwtSecret,
        ADMIN_TOKEN: adminToken,
        ...redisEnv,
        REDIS_KEY_PREFIX: `cap:${stamp}:`,
        DATABASE_URL: db.url,
        DATABASE_SCHEMA: schema,
        // Logged out as they close: the logout phase measures the logouts, not a grace period.
        LOGOUT_GRACE_MS: '0',
        MAX_PENDING_LOGINS: '100000',
        MAX_EVENT_LOOP_LAG_MS: '0',
        NODE_OPTIONS: '',
      };
      // Node A on core 0, node B beside Redis and the clients (its CPU is not what is measured).
      const node = new AttackedNode(port, taskset ? (name === 'a' ? 0 : 1) : null, env, join(tmpdir(), `gatehouse-capacity-${stamp}-${name}.log`));
      cleanups.push(() => node.stop());
      await node.start();
      nodes.push({ node, address: { port, jwtSecret, adminToken } });
    }
    const [a, b] = [nodes[0]!.address, nodes[1]!.address];
    const probe = primaries;
    log(`nodes on ports ${a.port}, ${b.port}; ${redisWhere}; schema ${schema}`);
    await sleep(3000);

    // The idle rate: what the two nodes cost with nobody connected.
    const idle0 = await readCounters(probe);
    await sleep(5000);
    const idle = delta(idle0, await readCounters(probe));
    const perSec = { commands: idle.stats.total / idle.seconds, commandUs: idle.stats.usec / idle.seconds, processUs: idle.processUs / idle.seconds };
    log(`idle: ${perSec.commands.toFixed(1)} commands/s, ${perSec.processUs.toFixed(0)} µs/s of redis-server CPU`);

    const results: PhaseResult[] = [];
    /** Runs `work`, waits `settleMs` for what it set off, and charges the net counters to `operations`. */
    /**
     * Runs `work`, waits `settleMs` for what it set off, and charges the net counters to
     * `operations`; with `only`, just those commands, whole (the heartbeat flush's HSETs are far
     * below the idle rate's noise, and the idle nodes send none).
     */
    const phase = async (name: string, unit: string, operations: () => number, work: () => Promise<void>, settleMs = 2000, note = '', only?: string[]) => {
      const before = await readCounters(probe);
      await work();
      await sleep(settleMs);
      const d = delta(before, await readCounters(probe));
      const ops = operations();
      const net = only
        ? {
            commands: only.reduce((n, k) => n + (d.stats.byCommand[k] ?? 0), 0),
            commandUs: only.reduce((n, k) => n + (d.stats.usecByCommand[k] ?? 0), 0),
            processUs: null,
          }
        : {
            commands: Math.max(0, d.stats.total - perSec.commands * d.seconds),
            commandUs: Math.max(0, d.stats.usec - perSec.commandUs * d.seconds),
            processUs: Math.max(0, d.processUs - perSec.processUs * d.seconds),
          };
      results.push({ phase: name, unit, operations: ops, seconds: d.seconds, ...net, top: d.stats.byCommand, note, spread: spread(d.usecByPrimary) });
      log(
        `${name}: ${ops} ${unit}; ${fixed(net.commands / ops)} commands, ${fixed(net.commandUs / ops)} µs in commands${net.processUs === null ? '' : `, ${fixed(net.processUs / ops)} µs of redis-server CPU`} per ${unit}`,
      );
    };

    const inBatches = async <T>(count: number, size: number, make: (i: number) => Promise<T>): Promise<T[]> => {
      const out: T[] = [];
      for (let i = 0; i < count; i += size) out.push(...(await Promise.all(Array.from({ length: Math.min(size, count - i) }, (_, j) => make(i + j)))));
      return out;
    };

    // Login: the players of node A.
    let onA: CountingClient[] = [];
    await phase(
      'login',
      'login',
      () => onA.length,
      async () => {
        onA = await inBatches(args.players, 50, (i) => connect(a, `cap-${stamp}-a${i}`));
      },
    );

    // Heartbeat: every player pings once a second, spread over the second, from now to the end
    // (a player who stops is timed out and logged out in the middle of a later phase); the
    // heartbeat phase is 10 s of it, charged the flushes' HSETs.
    let pings = 0;
    const pingers: NodeJS.Timeout[] = [];
    const keepPinging = (clients: CountingClient[]) =>
      clients.forEach((c, i) => {
        setTimeout(
          () => {
            const tick = () => {
              if (c.send(`{"type":"ping","ts":${Date.now()}}`)) pings++;
            };
            tick();
            pingers.push(setInterval(tick, 1000));
          },
          Math.floor((i * 1000) / clients.length),
        );
      });
    keepPinging(onA);
    await sleep(2000);
    let pingsBefore = 0;
    await phase(
      'heartbeat',
      'ping',
      () => pings - pingsBefore,
      async () => {
        pingsBefore = pings;
        await sleep(10_000);
      },
      0,
      'the HSETs of the flushes only (every HEARTBEAT_FLUSH_INTERVAL_MS, 5 s: one per node per 2,000 changed players)',
      ['hset'],
    );

    // Cross-node direct messages: senders on A, recipients on B (paced under the rate limit).
    const recipients = await inBatches(200, 50, (i) => connect(b, `cap-${stamp}-b${i}`));
    keepPinging(recipients);
    const senders = onA.slice(0, 200);
    let sent = 0;
    await phase(
      'direct message (A → B)',
      'message',
      () => sent,
      async () => {
        const perSender = Math.ceil(args.messages / senders.length);
        for (let round = 0; round < perSender; round++) {
          senders.forEach((s, i) => {
            if (
              sent < args.messages &&
              s.send(`{"type":"message","to":"${recipients[(i + round) % recipients.length]!.userId}","content":{"n":${round}},"id":"m${round}-${i}"}`)
            )
              sent++;
          });
          await sleep(50); // 20 frames/s per sender, under MAX_MESSAGES_PER_SEC
        }
      },
    );
    const delivered = senders.reduce((n, s) => n + (s.acks.delivered ?? 0), 0);
    results.at(-1)!.note = `${delivered} of ${sent} acked delivered`;

    // Room publishes: a room with members on both nodes, published to by a member on A.
    const room = `cap-${stamp}-room`;
    const members = [...recipients.slice(0, 100), ...onA.slice(-100)];
    for (const m of members) m.send(`{"type":"join","room":"${room}"}`);
    await sleep(1500);
    // A member publishes (a room frame goes to the members of a room the sender is in).
    const publisher = onA.at(-1)!;
    let published = 0;
    await phase(
      'room publish (members on 2 nodes)',
      'publish',
      () => published,
      async () => {
        while (published < args.publishes) {
          for (let i = 0; i < 10 && published < args.publishes; i++) {
            publisher.send(`{"type":"room","room":"${room}","content":{"n":${published}},"id":"r${published}"}`);
            published++;
          }
          await sleep(400); // 25 frames/s
        }
      },
    );
    results.at(-1)!.note =
      `${members.length} members (100 per node); publisher acks ${JSON.stringify(publisher.acks)}, errors ${JSON.stringify(publisher.errors)}`;
    for (const m of members) m.send(`{"type":"leave","room":"${room}"}`);
    await sleep(1500);

    // Logout: node A's players dropped at once (LOGOUT_GRACE_MS=0).
    let dropped = 0;
    await phase(
      'logout',
      'logout',
      () => dropped,
      async () => {
        for (const c of onA) c.close();
        dropped = onA.length;
      },
      8000,
      'connections cut (TCP), logouts written to PostgreSQL',
    );
    for (const t of pingers) clearInterval(t);
    for (const r of recipients) r.close();

    const report = markdown(args, results, perSec, { taskset, loadAverage: loadAverage() });
    mkdirSync(args.out, { recursive: true });
    const base = join(args.out, `${new Date().toISOString().slice(0, 10)}-capacity${args.label ? `-${args.label}` : ''}`);
    writeFileSync(`${base}.md`, report);
    writeFileSync(`${base}.json`, `${JSON.stringify({ args, idlePerSec: perSec, results }, null, 2)}\n`);
    process.stdout.write(report);
    log(`wrote ${base}.{md,json}`);
  } finally {
    for (const c of cleanups.reverse()) await c().catch(() => {});
  }
}

function markdown(
  args: Args,
  results: PhaseResult[],
  idle: { commands: number; processUs: number },
  machine: { taskset: boolean; loadAverage: number[] },
): string {
  const commit = commandOutput('git', ['rev-parse', '--short=10', 'HEAD']).trim();
  const lines = [
    `# Capacity: Redis cost per operation — ${new Date().toISOString().slice(0, 10)}${args.label ? ` (${args.label})` : ''}`,
    '',
    `Two Gatehouse nodes (commit \`${commit}\`) on ${args.redis === 'cluster' ? 'a private Redis Cluster (3 primaries, 3 replicas; REDIS_BUCKETS 64; counters summed over the primaries)' : 'one private redis-server (standalone)'} and PostgreSQL; ${args.players} players on node A, 200 on node B. ` +
      `Idle (two nodes, nobody connected): ${idle.commands.toFixed(1)} commands/s, ${idle.processUs.toFixed(0)} µs/s of redis-server CPU, subtracted from every phase. ` +
      `Pinned: ${machine.taskset ? 'node A core 0; Redis, node B and the clients core 1' : 'no'}; load average after ${machine.loadAverage.join(' ')}.`,
    '',
    '| operation | count | Redis commands | µs in commands | µs of redis-server CPU | spread over the primaries | top commands | note |',
    '|---|---|---|---|---|---|---|---|',
  ];
  for (const r of results) {
    const top = Object.entries(r.top)
      .sort((x, y) => y[1] - x[1])
      .slice(0, 4)
      .map(([k, v]) => `${k} ${fixed(v / r.operations)}`)
      .join(', ');
    lines.push(
      `| per ${r.unit}: ${r.phase} | ${r.operations} | ${fixed(r.commands / r.operations)} | ${fixed(r.commandUs / r.operations)} | ${r.processUs === null ? '-' : fixed(r.processUs / r.operations)} | ${r.spread || '-'} | ${top} | ${r.note} |`,
    );
  }
  lines.push('');
  lines.push(
    '"µs in commands" is the time Redis reports spending executing them (`INFO commandstats` usec, scripts included); "redis-server CPU" is the process\'s user + system CPU (`INFO cpu`), which adds reading and writing the network. Per-command counts in "top commands" are per operation.',
  );
  return `${lines.join('\n')}\n`;
}
