/**
 * What one connection keeps in the V8 heap of a server, by object kind: starts the server (as the
 * benchmark does), takes a heap snapshot after a GC before any client and another with N clients
 * connected and pinging, and prints the difference per connection, largest first.
 *
 *   node --import tsx bench/heap-profile.ts [--server=gatehouse] [--clients=2000] [--top=30] [--gatehouse=DIR] [--save=FILE]
 *
 * --save writes the snapshot with the clients connected (open it in Chrome DevTools, Memory tab).
 *
 * Servers: raw-ws, socketio, gatehouse, gatehouse-redis-pg (the last two need the private Redis /
 * PostgreSQL exactly like `npm run bench`).
 */
import { writeFileSync } from 'node:fs';
import { heapSnapshot } from './lib/inspector.ts';
import type { ConnectReply } from './lib/ipc.ts';
import { killAllChildren, sleep } from './lib/proc.ts';
import type { ServerId } from './lib/servers.ts';
import { startSolo } from './lib/solo.ts';

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]]; edge_fields: string[]; edge_types: [string[], ...unknown[]] } };
  nodes: number[];
  edges: number[];
  strings: string[];
}

type Aggregate = Map<string, { size: number; count: number; owners: Map<string, number> }>;

/**
 * self size and count per "type:name" (names of strings and numbers folded into their type),
 * and for each kind the kinds of the objects holding it (first retainer, weak edges ignored).
 */
function aggregate(text: string): Aggregate {
  const snap = JSON.parse(text) as Snapshot;
  const fields = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0];
  const edgeFields = snap.snapshot.meta.edge_fields;
  const edgeTypes = snap.snapshot.meta.edge_types[0];
  const width = fields.length;
  const eWidth = edgeFields.length;
  const iType = fields.indexOf('type');
  const iName = fields.indexOf('name');
  const iSize = fields.indexOf('self_size');
  const iEdges = fields.indexOf('edge_count');
  const eType = edgeFields.indexOf('type');
  const eTo = edgeFields.indexOf('to_node');
  const weak = edgeTypes.indexOf('weak');
  const count = snap.nodes.length / width;
  const keys: string[] = new Array(count);
  for (let n = 0; n < count; n++) {
    const i = n * width;
    const type = types[snap.nodes[i + iType]!] ?? '?';
    let name = snap.strings[snap.nodes[i + iName]!] ?? '';
    if (type === 'string' || type === 'concatenated string' || type === 'sliced string' || type === 'number' || type === 'hidden') name = '';
    if (type === 'code') name = '';
    if (name.length > 60) name = `${name.slice(0, 57)}...`;
    keys[n] = `${type}:${name}`;
  }
  const owner = new Int32Array(count).fill(-1);
  let e = 0;
  for (let n = 0; n < count; n++) {
    const edges = snap.nodes[n * width + iEdges]!;
    for (let k = 0; k < edges; k++, e += eWidth) {
      if (snap.edges[e + eType] === weak) continue;
      const to = snap.edges[e + eTo]! / width;
      if (owner[to] === -1) owner[to] = n;
    }
  }
  const out: Aggregate = new Map();
  for (let n = 0; n < count; n++) {
    const key = keys[n]!;
    const entry = out.get(key) ?? { size: 0, count: 0, owners: new Map<string, number>() };
    entry.size += snap.nodes[n * width + iSize]!;
    entry.count++;
    const o = owner[n]! >= 0 ? keys[owner[n]!]! : '(root)';
    entry.owners.set(o, (entry.owners.get(o) ?? 0) + 1);
    out.set(key, entry);
  }
  return out;
}

async function main(): Promise<void> {
  const arg = (name: string, def: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? def;
  const id = arg('server', 'gatehouse') as ServerId;
  const clients = Number(arg('clients', '2000'));
  const top = Number(arg('top', '30'));
  const { spec, server, load, stop } = await startSolo({ id, gatehouseDir: arg('gatehouse', ''), label: 'heap' });
  try {
    await load.request({ cmd: 'heartbeat', enabled: true, intervalMs: 1000 });
    const connect = (group: string, users: string[]) =>
      load.request<ConnectReply>({ cmd: 'connect', group, protocol: spec.protocol, url: server.wsUrl, users, concurrency: 16, timeoutMs: 20_000 }, 300_000);
    await connect(
      'warm',
      Array.from({ length: 20 }, (_, i) => `warm${i}`),
    );
    await sleep(2000);
    await load.request({ cmd: 'close-group', group: 'warm' });
    await sleep(2000);
    await server.gc();
    const before = aggregate(await heapSnapshot(server.pid, server.inspectPort));
    const r = await connect(
      'c',
      Array.from({ length: clients }, (_, i) => `c${i}`),
    );
    await sleep(5000);
    await server.gc();
    const afterText = await heapSnapshot(server.pid, server.inspectPort);
    if (arg('save', '')) writeFileSync(arg('save', ''), afterText);
    const after = aggregate(afterText);
    const n = r.connected;
    const rows: Array<[string, number, number, string]> = [];
    let total = 0;
    for (const [key, a] of after) {
      const b = before.get(key) ?? { size: 0, count: 0, owners: new Map<string, number>() };
      const size = a.size - b.size;
      total += size;
      // Held by: the retainer kinds that grew the most.
      const grown = [...a.owners]
        .map(([o, c]) => [o, (c - (b.owners.get(o) ?? 0)) / n] as const)
        .filter(([, c]) => c >= 0.05)
        .sort((x, y) => y[1] - x[1])
        .slice(0, 3)
        .map(([o, c]) => `${o} ×${c.toFixed(2)}`)
        .join(', ');
      rows.push([key, size / n, (a.count - b.count) / n, grown]);
    }
    for (const [key, b] of before) if (!after.has(key)) total -= b.size;
    rows.sort((x, y) => y[1] - x[1]);
    process.stdout.write(`${spec.label}: ${n} clients, V8 heap growth ${(total / n / 1024).toFixed(2)} KB per connection\n`);
    process.stdout.write('  bytes/conn  objects/conn  type:constructor  <- held by (per connection)\n');
    for (const [key, size, count, owners] of rows.slice(0, top)) {
      process.stdout.write(`  ${size.toFixed(0).padStart(10)}  ${count.toFixed(2).padStart(12)}  ${key}${owners ? `  <- ${owners}` : ''}\n`);
    }
  } finally {
    await stop();
  }
}

process.on('exit', () => killAllChildren());
main().catch((error: unknown) => {
  process.stderr.write(`heap-profile: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
