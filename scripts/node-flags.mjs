/**
 * The Node flags the gateway process runs with, read from their one source: package.json's
 * `start` script (`node <flags> dist/server.js`). The container's CMD and the `gatehouse`
 * command's shebang repeat them (test/cli/node-flags.test.ts keeps the three equal); the
 * benchmarks and the test suites start the gateway with them, as it ships.
 *
 * Why flags at all: V8 sizes the young generation when the process starts, and Node 24 lets it
 * grow to 64 MB (twice Node 20's), which a gateway pays in RSS for nothing: its per-message
 * garbage dies young at any size (bench/README.md, "Footprint").
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The flags between `node` and the script in `dir`'s package.json `start` (none: []).
 * @param {string} dir
 * @returns {string[]}
 */
export function gatewayNodeFlags(dir) {
  const { scripts } = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  const words = String(scripts?.start ?? '')
    .trim()
    .split(/\s+/);
  if (words[0] !== 'node') return [];
  return words.slice(1).filter((word) => word.startsWith('--'));
}
