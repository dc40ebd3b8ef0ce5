/**
 * PostgreSQL's backends (one process per connection) are not the benchmark's: they run wherever
 * the kernel puts them, and a backend woken by a query tends to run on the core of the process
 * that woke it, i.e. on the node under test's core, in its place. As the private redis-server
 * runs on the load core, the backends serving one process are moved there too (taskset, only
 * those backends: they end with their connections). Found by the process's connections to
 * PostgreSQL (`ss`) matched with pg_stat_activity.client_port.
 */
import { spawnSync } from 'node:child_process';
import type pg from 'pg';
import { hasTaskset } from '../lib/proc.ts';

/** Local ports of `pid`'s established TCP connections to `pgPort`. */
function clientPorts(pid: number, pgPort: number): number[] {
  const r = spawnSync('ss', ['-tnpH', 'state', 'established', `( dport = :${pgPort} )`], { encoding: 'utf8' });
  const ports: number[] = [];
  for (const line of (r.stdout ?? '').split('\n')) {
    if (!line.includes(`pid=${pid},`)) continue;
    // Recv-Q Send-Q Local:Port Peer:Port Process
    const local = line.trim().split(/\s+/)[2] ?? '';
    const port = Number(local.slice(local.lastIndexOf(':') + 1));
    if (Number.isInteger(port) && port > 0) ports.push(port);
  }
  return ports;
}

/** The backends serving `pid`'s connections. */
export async function backendsOf(probe: pg.Client, url: string, pid: number): Promise<number[]> {
  const ports = clientPorts(pid, Number(new URL(url).port || 5432));
  if (!ports.length) return [];
  const r = await probe.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE client_port = ANY($1::int[])', [ports]);
  return r.rows.map((row) => row.pid);
}

/** Pins the backends to `core` (all their threads); how many were pinned. */
export function pinBackends(pids: readonly number[], core: number | null): number {
  if (core === null || !hasTaskset()) return 0;
  let pinned = 0;
  for (const pid of pids) if (spawnSync('taskset', ['-a', '-cp', String(core), String(pid)], { stdio: 'ignore' }).status === 0) pinned++;
  return pinned;
}
