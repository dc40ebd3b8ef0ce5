/**
 * Bytes a server allocates per ping/pong, by allocating function: starts the server (as the
 * benchmark does), connects N clients pinging at 1 Hz, and runs V8's sampling heap profiler over a
 * window with the objects later collected by GC included (the garbage is what costs GC time).
 *
 *   node --import tsx bench/alloc-profile.ts [--server=gatehouse-redis-pg] [--clients=2000] [--window-s=10] [--top=25] [--gatehouse=DIR] [--env=K=V,K=V]
 *
 * --env sets server environment variables (e.g. --env=HEARTBEAT_FLUSH_INTERVAL_MS=5000).
 */
import { InspectorSession } from './lib/inspector.ts';
import type { ConnectReply } from './lib/ipc.ts';
import { killAllChildren, sleep } from './lib/proc.ts';
import type { ServerId } from './lib/servers.ts';
import { startSolo } from './lib/solo.ts';

interface SamplingNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: SamplingNode[];
}

/** Self bytes per "function (file:line)", and the total. */
function byFunction(head: SamplingNode): { total: number; rows: Map<string, number> } {
  const rows = new Map<string, number>();
  let total = 0;
  const walk = (node: SamplingNode) => {
    if (node.selfSize > 0) {
      const { functionName, url, lineNumber } = node.callFrame;
      const file = url.replace(/^.*\/node_modules\//, 'npm:').replace(/^file:\/\/.*?\/(src|bench)\//, '$1/');
      const key = `${functionName || '(anonymous)'} ${file}:${lineNumber + 1}`;
      rows.set(key, (rows.get(key) ?? 0) + node.selfSize);
      total += node.selfSize;
    }
    for (const child of node.children) walk(child);
  };
  walk(head);
  return { total, rows };
}

async function main(): Promise<void> {
  const arg = (name: string, def: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? def;
  const id = arg('server', 'gatehouse-redis-pg') as ServerId;
  const clients = Number(arg('clients', '2000'));
  const windowS = Number(arg('window-s', '10'));
  const top = Number(arg('top', '25'));
  const extraEnv = Object.fromEntries(
    arg('env', '')
      .split(',')
      .filter(Boolean)
      .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
  );
  const { spec, server, load, stop } = await startSolo({ id, gatehouseDir: arg('gatehouse', ''), label: 'alloc', extraEnv });
  let session: InspectorSession | undefined;
  try {
    await load.request({ cmd: 'heartbeat', enabled: true, intervalMs: 1000 });
    const r = await load.request<ConnectReply>(
      {
        cmd: 'connect',
        group: 'c',
        protocol: spec.protocol,
        url: server.wsUrl,
        users: Array.from({ length: clients }, (_, i) => `c${i}`),
        concurrency: 16,
        timeoutMs: 20_000,
      },
      300_000,
    );
    await sleep(5000); // past the logins and the first heartbeat flushes
    session = await InspectorSession.open(server.pid, server.inspectPort);
    await session.call('HeapProfiler.enable');
    await session.call('HeapProfiler.startSampling', { samplingInterval: 256, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
    await sleep(windowS * 1000);
    const { profile } = await session.call<{ profile: { head: SamplingNode } }>('HeapProfiler.stopSampling', {}, 60_000);
    const { total, rows } = byFunction(profile.head);
    const pings = r.connected * windowS;
    process.stdout.write(`${spec.label}: ${r.connected} clients, ${windowS} s: about ${(total / pings).toFixed(0)} bytes allocated per ping/pong (sampled)\n`);
    for (const [key, bytes] of [...rows].sort((a, b) => b[1] - a[1]).slice(0, top)) {
      process.stdout.write(`  ${(bytes / pings).toFixed(1).padStart(8)} B/ping  ${key}\n`);
    }
  } finally {
    session?.close();
    await stop();
  }
}

process.on('exit', () => killAllChildren());
main().catch((error: unknown) => {
  process.stderr.write(`alloc-profile: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
