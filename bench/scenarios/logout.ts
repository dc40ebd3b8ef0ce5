/**
 * Scenario 4, logout storm: Gatehouse on Redis + PostgreSQL, 5k clients connected (each login
 * written to PostgreSQL first), then the load processes are SIGKILLed: the kernel closes every
 * socket at once and the gateway sees each close immediately. The figure is the time from the
 * kill until every session row of the run has `disconnected_at` set in PostgreSQL, polled every
 * 20 ms. Run with LOGOUT_GRACE_MS=0: the pipeline's own time (a configured grace adds its length).
 */
import type { ConnectReply } from '../lib/ipc.ts';
import { sleep } from '../lib/proc.ts';
import { SERVERS } from '../lib/servers.ts';
import { checkDeadline, deploy, round, shares, startLoad, stopLoad, type BenchContext } from './context.ts';

export interface LogoutPoint {
  server: string;
  clients: number;
  connected: number;
  /** ms from the drop to the first / half / all logouts visible in PostgreSQL. */
  firstMs: number | null;
  halfMs: number | null;
  allMs: number | null;
  landed: number;
  logoutGraceMs: number;
  serverAlive: boolean;
  notes: string[];
}

export async function runLogoutStorm(ctx: BenchContext, clients: number): Promise<LogoutPoint> {
  checkDeadline(ctx, 'logout storm');
  const spec = SERVERS['gatehouse-redis-pg'];
  const db = ctx.infra.db;
  if (!db) throw new Error('logout storm needs PostgreSQL');
  const deployment = await deploy(ctx, spec, 1, { extraEnv: { LOGOUT_GRACE_MS: '0' }, profileName: 'logout-storm' });
  const server = deployment.servers[0]!;
  const schema = deployment.schema!;
  const procs = await startLoad(ctx, Math.max(1, Math.ceil(clients / ctx.socketsPerProcess)));
  const notes: string[] = [];
  try {
    await Promise.all(procs.map((p) => p.request({ cmd: 'heartbeat', enabled: true, intervalMs: 1000 })));
    const want = shares(clients, procs.length);
    const replies = await Promise.all(
      procs.map((p, i) =>
        p.request<ConnectReply>(
          {
            cmd: 'connect',
            group: 'storm',
            protocol: spec.protocol,
            url: server.wsUrl,
            users: Array.from({ length: want[i]! }, (_, k) => `storm${i}x${k}`),
            concurrency: 64,
            timeoutMs: 20_000,
          },
          300_000,
        ),
      ),
    );
    const connected = replies.reduce((a, r) => a + r.connected, 0);
    if (connected < clients) notes.push(`only ${connected}/${clients} connected`);
    // Every login must be in PostgreSQL before the drop (the logout updates those rows).
    const until = Date.now() + 60_000;
    let counts = await db.sessionCounts(schema);
    while (counts.total < connected && Date.now() < until) {
      await sleep(200);
      counts = await db.sessionCounts(schema);
    }
    if (counts.total < connected) notes.push(`only ${counts.total}/${connected} login rows before the drop`);
    await sleep(2000);
    const before = (await db.sessionCounts(schema)).loggedOut;
    if (before > 0) notes.push(`${before} logouts before the drop`);
    const expected = counts.total;

    ctx.log(`logout storm: dropping ${connected} clients at once`);
    const t0 = performance.now();
    await Promise.all(procs.map((p) => p.kill()));
    let firstMs: number | null = null;
    let halfMs: number | null = null;
    let allMs: number | null = null;
    let landed = 0;
    const stopAt = t0 + 60_000;
    while (performance.now() < stopAt) {
      landed = (await db.sessionCounts(schema)).loggedOut - before;
      const at = performance.now() - t0;
      if (landed > 0 && firstMs === null) firstMs = at;
      if (landed >= expected / 2 && halfMs === null) halfMs = at;
      if (landed >= expected) {
        allMs = at;
        break;
      }
      await sleep(20);
    }
    if (allMs === null) notes.push(`only ${landed}/${expected} logouts in PostgreSQL after 60 s`);
    const point: LogoutPoint = {
      server: spec.id,
      clients,
      connected,
      firstMs: round(firstMs, 0),
      halfMs: round(halfMs, 0),
      allMs: round(allMs, 0),
      landed,
      logoutGraceMs: 0,
      serverAlive: server.alive,
      notes,
    };
    ctx.log(`logout storm: ${landed}/${expected} in PostgreSQL, all after ${point.allMs ?? '-'} ms (first ${point.firstMs}, half ${point.halfMs})`);
    return point;
  } finally {
    await deployment.teardown();
    await stopLoad(procs);
  }
}
