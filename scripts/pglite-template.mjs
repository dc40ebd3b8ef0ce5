// Makes the embedded database's template at install time (see src/database/embedded/template.mjs):
// initdb runs here, once, instead of on the first `npm start`. Skipped when it exists.
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { templatePath } from '../src/database/embedded/template.mjs';

const path = templatePath();
if (existsSync(path)) process.exit(0);
const startedAt = performance.now();
const db = new PGlite();
await db.waitReady;
const tarball = Buffer.from(await (await db.dumpDataDir('gzip')).arrayBuffer());
await db.close();
mkdirSync(dirname(path), { recursive: true });
// Written aside, then renamed: a half-written template is never picked up.
writeFileSync(`${path}.${process.pid}.tmp`, tarball);
renameSync(`${path}.${process.pid}.tmp`, path);
console.log(`embedded database template: ${path} (${(tarball.length / 1048576).toFixed(1)} MB, ${Math.round(performance.now() - startedAt)} ms)`);
