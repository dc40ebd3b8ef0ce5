#!/usr/bin/env node
/**
 * `npm run build` (also run by `npm install`): compiles src/ to dist/ with TypeScript's own
 * compiler (tsconfig.build.json), copies what the compiler does not emit (Lua scripts, the admin
 * page's files) beside it, and builds the client SDK package (packages/client/dist), whose
 * browser build the gateway serves at /client.js.
 *
 * `--if-stale` builds only when dist/ is missing or older than any file under src/,
 * tsconfig*.json or package.json, so a later start costs a few stat calls instead of a compile,
 * and a developer who edited src/ never runs yesterday's code. `npm start` (scripts/start.mjs)
 * makes the same check in the server's own process.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const src = join(root, 'src');
const dist = join(root, 'dist');
/** Written last: its time is the build's time, and it only exists when a build finished. */
const stamp = join(dist, '.build-stamp');

/** Files the compiler does not emit: what the running code reads from beside itself. */
const isAsset = (file) => file.endsWith('.lua') || /[\\/]http[\\/]admin[\\/][^\\/]+\.(html|css|js)$/.test(file);

function* walk(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* walk(path);
    else yield path;
  }
}

function newestInput() {
  let newest = 0;
  const inputs = [...walk(src), join(root, 'tsconfig.json'), join(root, 'tsconfig.build.json'), join(root, 'package.json')];
  for (const file of inputs) newest = Math.max(newest, statSync(file).mtimeMs);
  return newest;
}

/** Whether dist/ (or the SDK's build) is missing or older than a source. */
export function isStale() {
  if (!existsSync(stamp) || !existsSync(join(root, 'packages', 'client', 'dist', 'index.js'))) return true;
  return newestInput() > statSync(stamp).mtimeMs;
}

/** Builds dist/ and the SDK package; exits the process on a failure. */
export async function build() {
  const started = performance.now();
  // Loaded only to build: a start with an up-to-date dist/ needs no TypeScript (a production
  // install has none).
  const { compileProject } = await import('./typescript-compiler.mjs');
  // A clean output: a source file deleted or renamed must not live on in dist/.
  rmSync(dist, { recursive: true, force: true });
  const status = compileProject(join(root, 'tsconfig.build.json'));
  if (status !== 0) {
    process.stderr.write(`build: tsc failed (exit ${status})\n`);
    process.exit(1);
  }
  let copied = 0;
  for (const file of walk(src)) {
    if (!isAsset(file)) continue;
    // Copied over the compiler's output where it emitted one too (the dashboard's plain
    // JavaScript module): the browser gets the file as written.
    cpSync(file, join(dist, relative(src, file)));
    copied++;
  }
  const client = spawnSync(process.execPath, [join(root, 'packages', 'client', 'build.mjs')], { stdio: 'inherit' });
  if (client.status !== 0) {
    process.stderr.write(`build: the client SDK failed (exit ${client.status ?? client.signal})\n`);
    process.exit(1);
  }
  writeFileSync(stamp, `${new Date().toISOString()}\n`);
  process.stderr.write(`build: dist/ ready (${copied} assets copied) in ${Math.round(performance.now() - started)} ms\n`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href && !(process.argv.includes('--if-stale') && !isStale())) await build();
