#!/usr/bin/env node
/**
 * Builds @gatehouse/client from the SDK's source (src/client and the protocol files it imports):
 *   dist/index.js                 ESM for bundlers and Node (readable, with a source map)
 *   dist/gatehouse-client.min.js  minified ESM for a browser <script type="module"> without a
 *                                 bundler (the gateway also serves it at /client.js)
 *   dist/types/                   type declarations (TypeScript's own compiler)
 * The SDK has no dependencies: esbuild bundles only the repository's own files into it.
 */
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { compileProject } from '../../scripts/typescript-compiler.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const entry = join(here, '..', '..', 'src', 'client', 'index.ts');
const dist = join(here, 'dist');
const { version } = createRequire(import.meta.url)('./package.json');

rmSync(dist, { recursive: true, force: true });
const common = {
  entryPoints: [entry],
  bundle: true,
  format: 'esm',
  platform: 'neutral',
  target: 'es2022',
  banner: { js: `/* @gatehouse/client ${version} */` },
  logLevel: 'warning',
};
await build({ ...common, outfile: join(dist, 'index.js'), sourcemap: true });
await build({ ...common, outfile: join(dist, 'gatehouse-client.min.js'), minify: true });

const typesStatus = compileProject(join(here, 'tsconfig.json'));
if (typesStatus !== 0) {
  process.stderr.write('@gatehouse/client: type declarations failed\n');
  process.exit(1);
}

// The source imports siblings as `./x.ts` (run directly by Node and tsx); published declarations
// name them `./x.js`, which every consumer's TypeScript resolves to `./x.d.ts` whatever its settings.
for (const entry of readdirSync(join(dist, 'types'), { recursive: true })) {
  if (!String(entry).endsWith('.d.ts')) continue;
  const file = join(dist, 'types', String(entry));
  writeFileSync(file, readFileSync(file, 'utf8').replace(/(from\s+'\.{1,2}\/[^']*)\.ts'/g, "$1.js'"));
}
