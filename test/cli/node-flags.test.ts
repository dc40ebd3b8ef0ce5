/**
 * The gateway's Node flags (scripts/node-flags.mjs): one set, written in package.json's `start`
 * script and repeated by the container's CMD and the `gatehouse` command's shebang; and they do
 * what they are there for on the Node that runs them (a young generation that stays small).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { gatewayNodeFlags } from '../../scripts/node-flags.mjs';

const root = fileURLToPath(new URL('../..', import.meta.url));
const flags = gatewayNodeFlags(root);

t.test('one set of flags: npm start, the container and the gatehouse command', async (t) => {
  t.match(flags, [/^--max-semi-space-size=\d+$/], 'the start script caps the young generation');
  const cmd = /^CMD (\[.*\])$/m.exec(readFileSync(`${root}/Dockerfile`, 'utf8'));
  t.ok(cmd, 'the Dockerfile has an exec-form CMD');
  t.same(JSON.parse(cmd![1]!), ['node', ...flags, 'dist/server.js'], "the container's command");
  const shebang = readFileSync(`${root}/src/cli.ts`, 'utf8').split('\n')[0];
  t.equal(shebang, `#!/usr/bin/env -S node ${flags.join(' ')}`, "the gatehouse command's shebang");
});

t.test('the cap holds on this Node: per-message garbage does not grow the young generation past it', async (t) => {
  const semiMb = Number(/^--max-semi-space-size=(\d+)$/.exec(flags[0] ?? '')?.[1]);
  // Short-lived objects by the million, a few thousand alive at a time: what a busy gateway makes.
  const churn = `
    let keep = [];
    for (let i = 0; i < 2e6; i++) { keep.push({ type: 'pong', n: i, at: 'x' + i }); if (keep.length > 5000) keep = []; }
    const space = require('node:v8').getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
    process.stdout.write(String(space.space_size));`;
  const capped = Number(execFileSync(process.execPath, [...flags, '-e', churn]));
  const uncapped = Number(execFileSync(process.execPath, ['-e', churn]));
  t.ok(capped <= 2 * semiMb * 1024 * 1024, `young generation ${(capped / 1048576).toFixed(0)} MB with the flags (cap: 2 × ${semiMb} MB)`);
  t.ok(uncapped > capped, `${(uncapped / 1048576).toFixed(0)} MB without them: the flags are what keeps it small`);
});
