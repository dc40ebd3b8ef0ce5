/** Options several benchmarks take the same way. */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

type Usage = (message: string) => never;

/** `--gatehouse=DIR`: another checkout to run Gatehouse from (a `git worktree` of an older commit). */
export function gatehouseDirArg(value: string, usage: Usage): string {
  const dir = resolve(value);
  if (!existsSync(join(dir, 'src', 'server.ts'))) usage(`--gatehouse: no src/server.ts in ${dir}`);
  return dir;
}

/** `--label=NAME`: part of the result file names. */
export function labelArg(value: string, usage: Usage): string {
  if (!/^[a-z0-9-]{1,32}$/.test(value)) usage('--label: a-z, 0-9, -');
  return value;
}

/** `--key=value` as [key, value]; `--flag` as [flag, '']. */
export function splitOption(arg: string): [key: string, value: string] {
  const eq = arg.indexOf('=');
  return eq < 0 ? [arg, ''] : [arg.slice(0, eq), arg.slice(eq + 1)];
}
