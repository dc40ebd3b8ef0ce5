/**
 * `npm start`: the gateway from dist/, compiled first when a source is newer (scripts/build.mjs),
 * in one process: the check is a few stat calls here rather than a process of its own before
 * the server's (npm's `prestart` cost about 0.3 s of every start). The container runs
 * `node dist/server.js` directly.
 */
import { build, isStale } from './build.mjs';

if (isStale()) await build();
await import('../dist/server.js');
