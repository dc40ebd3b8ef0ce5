/**
 * Runs TypeScript's compiler (TypeScript 7: a native executable) directly, not through its
 * `bin/tsc` Node wrapper: under a test runner the wrapper inherits loader hooks injected into
 * every child Node process (tap's process tracking), with which it fails to load
 * (ERR_REQUIRE_CYCLE_MODULE). The executable needs no Node at all.
 */
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';

const packageDir = dirname(createRequire(import.meta.url).resolve('typescript/package.json'));
const { default: getExePath } = await import(pathToFileURL(join(packageDir, 'lib', 'getExePath.js')).href);

/** Path of the compiler's executable (for callers that run it themselves, e.g. to read its output). */
export const TSC_EXECUTABLE = getExePath();

/** Runs `tsc -p <project>`; returns its exit status (output goes to this process's stdio). */
export function compileProject(project) {
  const result = spawnSync(TSC_EXECUTABLE, ['-p', project], { stdio: 'inherit' });
  return result.status ?? 1;
}
