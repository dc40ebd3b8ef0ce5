/**
 * How a benchmark starts Gatehouse: as users run it. A checkout with the build
 * (scripts/build.mjs) runs `node dist/server.js`, brought up to date first (once per checkout and
 * run); an older checkout (`--gatehouse=DIR` of a commit before the build) runs its source
 * through tsx, as it was run then.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const built = new Set<string>();

/** Node arguments that start Gatehouse from `dir` (its working directory). */
export function gatehouseEntryArgs(dir: string): string[] {
  const buildScript = join(dir, 'scripts', 'build.mjs');
  if (!existsSync(buildScript)) return ['--import', 'tsx', join(dir, 'src', 'server.ts')];
  if (!built.has(dir)) {
    execFileSync(process.execPath, [buildScript, '--if-stale'], {
      cwd: dir,
      stdio: ['ignore', 'ignore', 'inherit'],
      env: { ...process.env, NODE_OPTIONS: '' },
    });
    built.add(dir);
  }
  return [join(dir, 'dist', 'server.js')];
}
