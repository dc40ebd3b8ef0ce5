// @ts-check
/**
 * The embedded database's template: a freshly created PGlite data directory, packed. Creating
 * a database runs initdb, ~5 s of CPU inside WebAssembly (4–5 s measured on these machines);
 * unpacking the template takes under a second. `npm install` makes it once
 * (scripts/pglite-template.mjs), keyed by PGlite's version so an upgrade makes a new one; a
 * first start without it (installed with --ignore-scripts) runs initdb instead.
 *
 * Plain JavaScript: the install script and the database thread use it without TypeScript.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The installed PGlite package folder (its package.json is not exported). */
function pglitePackageDir() {
  let dir = dirname(fileURLToPath(import.meta.resolve('@electric-sql/pglite')));
  while (!existsSync(join(dir, 'package.json'))) dir = dirname(dir);
  return dir;
}

/** Where the template of the installed PGlite version lives: node_modules/.cache/gatehouse/. */
export function templatePath() {
  const dir = pglitePackageDir();
  const { version } = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  return join(dir, '..', '..', '.cache', 'gatehouse', `pglite-${version}-template.tar.gz`);
}
