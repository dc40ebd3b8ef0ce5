/**
 * The chaos checker (chaos/check.ts) on hand-made run directories: it must pass a clean run and
 * flag each kind of failure it exists for (a false logout, including one stamped on a skewed
 * clock, a duplicate and a missing logout, a ghost over the bound, a crash), and must not flag
 * what is legitimate (a frozen node's players reaped, a clean close, a drained connection); a
 * Redis restart that was not the fault it claims (an "empty" one that loaded data, a rewind that
 * did not) fails the run as a harness error.
 */
import t, { type Test } from 'tap';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkRun, liveAt, renderMarkdown } from '../../chaos/check.ts';
import { LATE_CONFIRMED } from '../../src/presence/logout-pipeline.ts';

const S = 1000;
const BASE = 1_800_000_000_000;
const at = (seconds: number) => BASE + seconds * S;

/** A connection record with a pong every second from `from` to `to` (seconds), minus `gaps`. */
function conn(u: string, from: number, to: number | null, extra: Record<string, unknown> = {}) {
  const last = to ?? 300;
  return {
    ev: 'conn',
    u,
    open: at(from),
    connected: at(from),
    sid: `${u}-c`,
    node: 'n1',
    close: to === null ? null : at(to),
    code: to === null ? null : 1000,
    reason: null,
    byClient: false,
    kicked: [],
    reconnect: [],
    pings: 0,
    pongs: 0,
    firstPong: at(from + 0.1),
    lastPong: at(last - 0.1),
    lastPing: at(last - 0.1),
    gaps: [],
    ...extra,
  };
}

interface Run {
  bots: object[];
  rows: Array<{ id: string; userId: string; disconnectedAt: number | null; reason: string | null }>;
  logouts: Array<{ sid: string; userId: string; time: number; reason: string; nodeId?: string }>;
  faults?: object[];
  ghosts?: object[];
  nodeLines?: string[];
}

function runDir(t: Test, run: Run): string {
  const dir = mkdtempSync(join(tmpdir(), 'chaos-check-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const raw = join(dir, 'raw');
  mkdirSync(join(raw, 'bots'), { recursive: true });
  mkdirSync(join(raw, 'nodes'));
  const settings = { HEARTBEAT_TIMEOUT_MS: 10_000, WATCHDOG_INTERVAL_MS: 1000, NODE_DEAD_AFTER_MS: 5000, NODE_LEASE_INTERVAL_MS: 1000, LOGOUT_GRACE_MS: 5000 };
  writeFileSync(
    join(raw, 'meta.json'),
    JSON.stringify({ options: { seed: 1, bots: 1, nodes: 1, durationS: 1, faults: [], faultScale: 1 }, settings, faultsStart: BASE }),
  );
  writeFileSync(join(raw, 'bots', 'w.jsonl'), run.bots.map((b) => JSON.stringify(b)).join('\n'));
  const lines = run.logouts.map((l) =>
    JSON.stringify({ level: 30, time: l.time, nodeId: l.nodeId ?? 'n1', userId: l.userId, reason: l.reason, logicalSessionId: l.sid, msg: 'user logged out' }),
  );
  writeFileSync(join(raw, 'nodes', 'n1.1.log'), [...(run.nodeLines ?? []), ...lines].join('\n'));
  writeFileSync(join(raw, 'faults.jsonl'), (run.faults ?? []).map((f) => JSON.stringify(f)).join('\n'));
  writeFileSync(join(raw, 'events.jsonl'), '');
  writeFileSync(join(raw, 'observer.json'), JSON.stringify(run.ghosts ?? []));
  writeFileSync(join(raw, 'db-sessions.json'), JSON.stringify(run.rows.map((r) => ({ nodeId: 'n1', epoch: 1, connectedAt: BASE, ...r }))));
  writeFileSync(join(raw, 'redis-end.json'), JSON.stringify({ at: at(400), online: [], bots: [] }));
  writeFileSync(join(raw, 'redis-after.json'), JSON.stringify({ online: [] }));
  return dir;
}

t.test('liveAt: pongs before and after, open after', async (t) => {
  const c = { firstPong: at(0), lastPong: at(100), close: at(100), gaps: [] as Array<[number, number]> };
  t.ok(liveAt(c, at(50), 5000, 5000));
  t.notOk(liveAt(c, at(99.5), 5000, 5000), 'closed within a second of x: the close and its logout');
  t.notOk(liveAt(c, at(2), 5000, 5000), 'not pinging for the 5 s before x yet');
  t.ok(liveAt({ ...c, gaps: [[at(48), at(51)]] }, at(50), 5000, 5000), 'a 3 s gap (a lagging node) is still live');
  t.notOk(liveAt({ ...c, gaps: [[at(50.3), at(56)]] }, at(50), 5000, 5000), 'a frozen node: silence starting just after x');
});

t.test('a clean run passes', async (t) => {
  const dir = runDir(t, {
    bots: [conn('a', 0, 100, { byClient: true }), { ev: 'quit', u: 'a', t: at(100), lastFrame: at(99.9) }],
    rows: [{ id: 'sa', userId: 'a', disconnectedAt: at(100), reason: 'closed' }],
    logouts: [{ sid: 'sa', userId: 'a', time: at(105), reason: 'closed' }],
  });
  const report = checkRun(dir);
  t.same(report.verdict, { pass: true, failed: [] });
  t.equal((report.checks.stampError as any).cleanCloseMs.n, 1);
});

t.test('a Redis restart that was not the intended one fails the run, loudly in the report', async (t) => {
  const clean = {
    bots: [conn('a', 0, 100, { byClient: true }), { ev: 'quit', u: 'a', t: at(100), lastFrame: at(99.9) }],
    rows: [{ id: 'sa', userId: 'a', disconnectedAt: at(100), reason: 'closed' }],
    logouts: [{ sid: 'sa', userId: 'a', time: at(105), reason: 'closed' }],
  };
  const restart = { kind: 'redis-restart', start: at(50), end: at(51), loadedFromDisk: false, loadedKeysAtStart: 0, oldDataBack: false };
  const rewind = { kind: 'redis-rewind', start: at(60), end: at(75), loadedFromDisk: true, loadedKeysAtStart: 40, snapshotAgeMs: 15_000 };
  const good = checkRun(runDir(t, { ...clean, faults: [restart, rewind] }));
  t.same(good.verdict, { pass: true, failed: [] }, 'an empty restart and a rewind that loaded its snapshot');
  t.notMatch(renderMarkdown(good), /NOT THE INTENDED/);
  const harness = ['harness: a Redis restart was not the intended one'];
  for (const [what, faults, flag] of [
    [
      'a restart that loaded an RDB file',
      [{ ...restart, loadedFromDisk: true, loadedKeysAtStart: 1200 }, rewind],
      /NOT THE INTENDED FAULT: the "empty" restart loaded an RDB file/,
    ],
    ['a restart whose marker came back', [{ ...restart, oldDataBack: true }], /NOT THE INTENDED FAULT: the marker/],
    ['a rewind that loaded nothing', [restart, { ...rewind, loadedFromDisk: false, loadedKeysAtStart: 0 }], /NOT THE INTENDED FAULT: the rewind did not load/],
  ] as const) {
    const report = checkRun(runDir(t, { ...clean, faults: [...faults] }));
    t.same(report.verdict, { pass: false, failed: harness }, what);
    t.match(renderMarkdown(report), flag, `${what}: flagged in the faults table`);
  }
});

t.test('each failure is found, legitimate logouts are not', async (t) => {
  const dir = runDir(t, {
    bots: [
      conn('live', 0, null), // logged out by a reaper while pinging: false
      conn('frozen-node', 0, 120, { gaps: [[at(50.3), at(57)]], code: 1001 }), // its node froze: legit reap
      conn('skewed', 60, 200), // stamped 60 s off (before it connected), but logged out at 100 s while live: false
      conn('dup', 0, 40),
      conn('open', 0, 50),
      // Closed at 40, back at 47 (after the 5 s grace): a new logical session. The old one's
      // logout, written late (52 s), is no false logout of it.
      conn('late', 0, 40),
      conn('late', 47, null, { sid: 'late-2' }),
      // Closed at 40, back at 41 (within the grace): the logout of the session it should have
      // resumed, made at 52 s while it plays, is a false logout.
      conn('resumable', 0, 40),
      conn('resumable', 41, null, { sid: 'resumable-2' }),
      // Their node n1 is cut from Redis from 60 s to 68 s and reaped at 65 s, stamped 60 s: one
      // client quits at 62 s (during the cut), one is fenced with 1012 at 69 s: both excused. One
      // on another node (n2) is not.
      conn('cut-quit', 0, 62),
      conn('cut-fenced', 0, 69, { code: 1012 }),
      conn('elsewhere', 0, null, { node: 'n2' }),
    ],
    rows: [
      { id: 's-live', userId: 'live', disconnectedAt: at(50), reason: 'node_lost' },
      { id: 's-frozen', userId: 'frozen-node', disconnectedAt: at(50), reason: 'node_lost' },
      { id: 's-skewed', userId: 'skewed', disconnectedAt: at(40), reason: 'node_lost' },
      { id: 's-dup', userId: 'dup', disconnectedAt: at(40), reason: 'closed' },
      { id: 's-open', userId: 'open', disconnectedAt: null, reason: null },
      { id: 's-late', userId: 'late', disconnectedAt: at(40), reason: 'closed' },
      { id: 's-resumable', userId: 'resumable', disconnectedAt: at(40), reason: 'closed' },
      { id: 's-cut-quit', userId: 'cut-quit', disconnectedAt: at(60), reason: 'node_lost' },
      { id: 's-cut-fenced', userId: 'cut-fenced', disconnectedAt: at(60), reason: 'node_lost' },
      { id: 's-elsewhere', userId: 'elsewhere', disconnectedAt: at(60), reason: 'node_lost' },
    ],
    logouts: [
      { sid: 's-live', userId: 'live', time: at(55.5), reason: 'node_lost' },
      { sid: 's-frozen', userId: 'frozen-node', time: at(55.5), reason: 'node_lost' },
      // Logged by a node whose clock ran 60 s behind from 90 s to 130 s: really at 100 s.
      { sid: 's-skewed', userId: 'skewed', time: at(40), reason: 'node_lost', nodeId: 'n2' },
      { sid: 's-dup', userId: 'dup', time: at(40), reason: 'closed' },
      { sid: 's-dup', userId: 'dup', time: at(47), reason: 'node_lost' },
      { sid: 's-late', userId: 'late', time: at(52), reason: 'closed' },
      { sid: 's-resumable', userId: 'resumable', time: at(52), reason: 'closed' },
      { sid: 's-cut-quit', userId: 'cut-quit', time: at(65), reason: 'node_lost', nodeId: 'n3' },
      { sid: 's-cut-fenced', userId: 'cut-fenced', time: at(65), reason: 'node_lost', nodeId: 'n3' },
      { sid: 's-elsewhere', userId: 'elsewhere', time: at(65), reason: 'node_lost', nodeId: 'n3' },
    ],
    faults: [
      { kind: 'skew', nodeId: 'n2', start: at(90), end: at(130), skewMs: -60_000 },
      { kind: 'redis-cut', nodeId: 'n1', start: at(60), end: at(68) },
    ],
    ghosts: [
      {
        userId: 'g1',
        kind: 'vanish',
        nodeId: 'n1',
        lastFrame: at(10),
        silentAt: at(10),
        lastOnlineAt: at(21.8),
        offlineAt: at(22),
        logoutTime: null,
        logoutReason: null,
        censoredAt: null,
      },
      {
        userId: 'g2',
        kind: 'freeze',
        nodeId: 'n1',
        lastFrame: at(10),
        silentAt: at(10),
        lastOnlineAt: at(20),
        offlineAt: at(21),
        logoutTime: null,
        logoutReason: null,
        censoredAt: null,
      },
      {
        // Last seen online at 11.3 s, first seen offline at 11.7 s: unresolved, not a violation.
        userId: 'g4',
        kind: 'vanish',
        nodeId: 'n1',
        lastFrame: at(10),
        silentAt: at(10),
        lastOnlineAt: at(21.3),
        offlineAt: at(21.7),
        logoutTime: null,
        logoutReason: null,
        censoredAt: null,
      },
      {
        userId: 'g3',
        kind: 'freeze',
        nodeId: 'n1',
        lastFrame: at(10),
        silentAt: at(10),
        lastOnlineAt: at(29),
        offlineAt: null,
        logoutTime: null,
        logoutReason: null,
        censoredAt: at(30),
      },
    ],
    nodeLines: [
      'Error: boom',
      '    at somewhere (file.ts:1:1)',
      ...['s-late', 's-resumable'].map((sid) => JSON.stringify({ level: 40, time: at(52), nodeId: 'n1', logicalSessionId: sid, msg: LATE_CONFIRMED })),
    ],
  });
  const report = checkRun(dir);
  const c = report.checks as any;
  t.same(
    c.falseLogouts.examples.map((f: any) => [f.userId, f.judgedAt]).sort(),
    [
      ['elsewhere', 'stamp and logout'],
      ['live', 'stamp and logout'],
      ['resumable', 'logout'],
      ['skewed', 'logout'],
    ],
    'the reaped live player, the one stamped on a skewed clock, the one back within the grace; not the frozen node player, nor a late write of a session left for good',
  );
  t.same(
    c.falseLogouts.excusedExamples.map((f: any) => f.userId).sort(),
    ['cut-fenced', 'cut-quit'],
    'reaped while their node was cut from Redis: fenced after, or closed during the cut',
  );
  t.equal(c.exactlyOnce.duplicates, 1);
  t.equal(c.exactlyOnce.missing, 1);
  t.same(c.ghost.examples.map((g: any) => g.userId).sort(), ['g1', 'g3'], 'seen online past 11.5 s (also when censored), not the one at 11 s');
  t.same(
    c.ghost.unresolvedExamples.map((g: any) => g.userId),
    ['g4'],
    'online at 11.3 s, offline at 11.7 s: unresolved',
  );
  t.equal(c.crashes.logLines, 1, 'the error line on the node output');
  t.same(report.verdict.failed, ['duplicate logouts', 'missing logouts', 'false logouts', 'ghost bound', 'crash']);
});
