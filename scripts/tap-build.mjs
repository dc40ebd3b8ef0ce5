// Builds tap's plugin set for the `tap.plugin` list in package.json.
//
// tap compiles its Test class from the selected plugins into node_modules. A fresh install ships
// the default set, which includes @tapjs/typescript (broken with TypeScript 7, see
// shared/PLATFORM.md). tap notices the mismatch on its first run and rebuilds, but that first run
// still uses the stale set and every test file fails; so the build happens at install time,
// before anyone runs `npm test`. Without dev dependencies (no tap) there is nothing to build.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const require = createRequire(import.meta.url);
let tapBin;
try {
  const manifest = require.resolve('tap/package.json');
  tapBin = join(dirname(manifest), require(manifest).bin.tap);
} catch {
  process.exit(0);
}
const result = spawnSync(process.execPath, [tapBin, 'build'], { cwd: root, stdio: 'inherit' });
process.exit(result.status ?? 1);
