/**
 * The chaos run in CI: `chaos/run.ts` with a fixed seed, 300 bots and short faults (every fault
 * kind is visited once, in a seeded order, the opt-in rewind included), about 2.7 minutes of
 * faults; then the checker's verdict must hold: every ended logical session logged out exactly
 * once, zero false logouts, every vanished or frozen bot offline within the ghost bound, nobody
 * listed online who is gone, no crash. The run is a child process (its own private Redis +
 * Sentinels, PostgreSQL and three nodes on free ports); this file only reads its report. See
 * chaos/README.md.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { redisServerInstalled } from '../helpers/redis-server.ts';
import { FAULT_KINDS, OPT_IN_FAULT_KINDS } from '../../chaos/lib/faults.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
// Every fault kind, the opt-in rewind (Redis back from an older snapshot) included.
const FAULTS = [...FAULT_KINDS, ...OPT_IN_FAULT_KINDS];
const ARGS = ['--seed=42', '--bots=300', '--workers=2', '--duration=160', '--fault-scale=0.4', '--ramp=5', `--faults=${FAULTS.join(',')}`];

// Setup (~30 s) + ramp + 160 s of faults + settling and a sequential shutdown (~40 s).
t.setTimeout(420_000);

t.test('chaos run, seed 42: the checker finds nothing wrong', async (t) => {
  if (!redisServerInstalled(t)) return;
  const out = mkdtempSync(join(tmpdir(), 'gatehouse-chaos-ci-'));
  t.teardown(() => rmSync(out, { recursive: true, force: true }));
  const child = spawn(process.execPath, ['--import', 'tsx', 'chaos/run.ts', ...ARGS, `--out=${out}`], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGINT');
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  t.comment(output.trim().split('\n').slice(-25).join('\n'));
  t.not(code, 2, 'the run itself completed (exit 2 = the harness failed)');
  let report: any;
  try {
    report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'));
  } catch {
    t.fail('no report.json');
    return;
  }
  const c = report.checks;
  t.comment(readFileSync(join(out, 'report.md'), 'utf8').split('\n').slice(0, 22).join('\n'));
  const kinds = new Set(c.faults.filter((f: any) => !f.error).map((f: any) => f.kind));
  t.equal(kinds.size, FAULTS.length, `every fault kind was injected (${[...kinds].join(', ')})`);
  t.ok(c.bots.churnEvents > 20, `bots churned (${c.bots.churnEvents} quit / vanish / freeze events)`);
  t.ok(c.ghost.observed > 5, `vanished and frozen bots were observed (${c.ghost.observed})`);
  t.equal(c.exactlyOnce.duplicates, 0, 'no logical session logged out twice');
  t.equal(c.exactlyOnce.missing, 0, 'every ended logical session has its logout');
  t.equal(c.falseLogouts.count, 0, 'no false logout');
  t.equal(c.ghost.violations, 0, 'every silent bot went offline within the ghost bound');
  t.equal(c.redis.goneButListed, 0, 'nobody who is gone listed online at the end');
  t.equal(c.redis.onlineAfterShutdown, 0, 'nobody online after the clean shutdown');
  t.equal(c.crashes.unexpectedExits + c.crashes.logLines, 0, 'no crash');
  t.equal(code, report.verdict.pass ? 0 : 1, 'exit code follows the verdict');
});
