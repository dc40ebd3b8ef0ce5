/**
 * Summarises a V8 .cpuprofile (from `npm run bench -- --profile`, or any `node --cpu-prof`):
 * self time per function (file:line function) and per file/package, as % of the busy time
 * (idle excluded).
 *
 *   node --import tsx bench/profile-summary.ts bench/results/profiles/<run>/heartbeat-gatehouse-node1.cpuprofile [--top=30]
 */
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

const repo = fileURLToPath(new URL('../', import.meta.url));

function where(url: string): string {
  if (!url) return '';
  const path = url.startsWith('file://') ? fileURLToPath(url) : url;
  const rel = path.startsWith(repo) ? relative(repo, path) : path;
  return rel.replace(/^node_modules\/(\.pnpm\/[^/]+\/node_modules\/)?/, 'npm:');
}

/** A file's owner: the npm package, node internals, or the repository path. */
function owner(file: string): string {
  if (file.startsWith('npm:')) {
    const parts = file.slice(4).split('/');
    return `npm:${parts[0]!.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]}`;
  }
  if (file.startsWith('node:')) return 'node internals';
  if (!file) return '(native / VM)';
  return file;
}

export function summarise(profile: Profile, top = 30): string {
  const byNode = new Map<number, ProfileNode>(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const fn = new Map<string, number>();
  const file = new Map<string, number>();
  let busy = 0;
  let idle = 0;
  for (const [id, us] of selfUs) {
    const node = byNode.get(id);
    if (!node) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === '(idle)') {
      idle += us;
      continue;
    }
    busy += us;
    const f = where(url);
    // Code transpiled by tsx reports line 0 for everything: the function name is the locator then.
    const key = f ? `${f}${lineNumber > 0 ? `:${lineNumber + 1}` : ''} ${functionName || '(anonymous)'}` : functionName;
    fn.set(key, (fn.get(key) ?? 0) + us);
    const o = owner(f);
    file.set(o, (file.get(o) ?? 0) + us);
  }
  const pct = (us: number) => `${((us / busy) * 100).toFixed(1).padStart(5)} %`;
  const lines: string[] = [];
  lines.push(
    `busy ${(busy / 1e6).toFixed(2)} s, idle ${(idle / 1e6).toFixed(2)} s (${((busy / (busy + idle)) * 100).toFixed(0)} % busy); self time as % of busy`,
  );
  lines.push('', 'by function:');
  for (const [k, us] of [...fn].sort((a, b) => b[1] - a[1]).slice(0, top)) lines.push(`  ${pct(us)}  ${k}`);
  lines.push('', 'by package / file:');
  for (const [k, us] of [...file].sort((a, b) => b[1] - a[1]).slice(0, top)) lines.push(`  ${pct(us)}  ${k}`);
  return lines.join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const files = process.argv.slice(2).filter((a) => !a.startsWith('--'));
  const topArg = process.argv.find((a) => a.startsWith('--top='));
  if (!files.length) {
    process.stderr.write('usage: node --import tsx bench/profile-summary.ts <file.cpuprofile>... [--top=30]\n');
    process.exit(2);
  }
  for (const f of files) {
    process.stdout.write(`== ${f}\n${summarise(JSON.parse(readFileSync(f, 'utf8')) as Profile, topArg ? Number(topArg.slice(6)) : 30)}\n\n`);
  }
}
