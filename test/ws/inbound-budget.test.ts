/**
 * The inbound budget over real WebSockets: a session flooding nested 60 KB frames (within the
 * frames/s limit) is refused and no longer read, so a bystander's pongs stay prompt; a flood of
 * small frames gets one RATE_LIMITED error frame per window, not one per frame.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import t from 'tap';
import WebSocket from 'ws';
import { buildTestApp } from '../helpers/build.ts';
import { CLOSING_READ_MAX_BYTES } from '../../src/gateway/gateway.ts';
import { FrameIn } from '../../src/gateway/gateway-counters.ts';
import { TestClient } from '../helpers/ws-client.ts';

type Frame = { type: string; code?: string; count?: number };

/** A raw client (no SDK): sends strings as fast as asked, records what comes back. */
async function rawClient(url: string): Promise<{ socket: WebSocket; frames: Frame[] }> {
  const socket = new WebSocket(url);
  const frames: Frame[] = [];
  socket.on('message', (data) => frames.push(JSON.parse(String(data)) as Frame));
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.on('message', function first() {
      socket.off('message', first);
      resolve(); // `connected`
    });
  });
  return { socket, frames };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function p99(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))] ?? Number.POSITIVE_INFINITY;
}

/**
 * The flooders run in a child process, as attackers would: their own sending (masking 60 KB
 * frames by the hundred) must not be charged to the node's event loop. They connect, print
 * `ready`, flood on `go` (stdin) for `ms`, then print what they wrote and received.
 */
const FLOODER = `
import WebSocket from 'ws';
const [urls, depth, ms] = JSON.parse(process.argv[1]);
const nested = '{"type":"message","to":"bystander","content":' + '['.repeat(depth) + ']'.repeat(depth) + '}';
const socks = await Promise.all(urls.map((url) => new Promise((resolve, reject) => {
  const socket = new WebSocket(url);
  const frames = [];
  socket.on('message', (data) => frames.push(JSON.parse(String(data))));
  socket.once('error', reject);
  socket.once('message', () => resolve({ socket, frames }));
})));
process.stdout.write('ready\\n');
await new Promise((resolve) => process.stdin.once('data', resolve));
let written = 0;
const end = Date.now() + ms;
while (Date.now() < end) {
  // 45 frames/s each would be within MAX_MESSAGES_PER_SEC; they send all their socket takes.
  for (const { socket } of socks) while (socket.bufferedAmount < 1 << 20) { socket.send(nested); written++; }
  await new Promise((resolve) => setTimeout(resolve, 5));
}
await new Promise((resolve) => setTimeout(resolve, 1200)); // the last window's RATE_LIMITED
process.stdout.write(JSON.stringify({ written, length: nested.length, frames: socks.map((s) => s.frames) }) + '\\n');
for (const { socket } of socks) socket.terminate();
process.exit(0);
`;

interface FloodReport {
  written: number;
  length: number;
  frames: Frame[][];
}

function startFlooders(urls: string[], depth: number, ms: number) {
  const child = spawn(process.execPath, ['--input-type=module', '-e', FLOODER, JSON.stringify([urls, depth, ms])], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout });
  const next = () => new Promise<string>((resolve) => lines.once('line', resolve));
  return {
    child,
    ready: next(),
    go: () => {
      const report = next();
      child.stdin.write('go\n');
      return report.then((line) => JSON.parse(line) as FloodReport);
    },
  };
}

t.test('a flooder of nested 60 KB frames is refused and paused; a bystander is not delayed', async (t) => {
  const h = (await buildTestApp(t, 'real', { RATE_LIMIT_STRIKES: '1000' }))!;
  if (!h) return;
  const counters = h.app.gateway.counters;
  const floodMs = 3000;
  const flooders = startFlooders(
    [1, 2, 3, 4].map((i) => `${h.wsUrl}/ws?token=${h.token(`flooder-${i}`)}`),
    30_000,
    floodMs,
  );
  t.teardown(() => void flooders.child.kill());
  t.equal(await flooders.ready, 'ready');
  const { client: bystander } = await TestClient.open(`${h.wsUrl}/ws?token=${h.token('bystander')}`);

  /**
   * The bystander's ping round trips for `ms`, 50 ms apart: well within MAX_MESSAGES_PER_SEC
   * (50) whatever the round trip (20 ms apart, a quick machine fits a 51st frame into a window).
   */
  const pingFor = async (ms: number): Promise<number[]> => {
    const rtts: number[] = [];
    const end = Date.now() + ms;
    while (Date.now() < end) {
      const sent = performance.now();
      await bystander.ping(10_000);
      rtts.push(performance.now() - sent);
      await sleep(50);
    }
    return rtts;
  };
  // The machine's own noise (other suites, other processes), to judge the flood's effect by.
  for (let i = 0; i < 5; i++) await bystander.ping(); // warm: the first pings compile the path
  const baseline = p99(await pingFor(1000));

  const readBefore = counters.framesIn;
  const report = flooders.go();
  const rtts = await pingFor(floodMs);
  const { written, length, frames } = await report;
  const read = counters.framesIn - readBefore - rtts.length - 5;

  t.ok(length > 60_000 && length < 65_536, 'frames within MAX_CONTENT_BYTES: only their nesting is wrong');
  t.ok(rtts.length >= 10, `the bystander pinged throughout (${rtts.length} pongs)`);
  // Generous: 200 ms on a quiet machine, more when the machine itself is slow (baseline).
  const bound = 200 + 3 * baseline;
  t.ok(p99(rtts) < bound, `bystander pong p99 ${p99(rtts).toFixed(1)} ms under ${bound.toFixed(0)} ms (p99 without the flood ${baseline.toFixed(1)} ms)`);
  t.ok(written > 0 && read < written / 2, `the node read ${read} of the ${written} frames written: the rest waited in the flooders' buffers`);
  t.ok(counters.rateLimited > 0, `frames refused by the budget (${counters.rateLimited})`);
  for (const received of frames) {
    const limited = received.filter((f) => f.type === 'error' && f.code === 'RATE_LIMITED');
    t.ok(limited.length > 0 && limited.every((f) => typeof f.count === 'number' && f.count >= 1), 'each flooder told RATE_LIMITED with a count');
    t.ok(
      received.some((f) => f.type === 'error' && f.code === 'BAD_MESSAGE'),
      'the frames it was allowed are refused for their nesting',
    );
    t.notOk(
      received.some((f) => f.type === 'ack'),
      'none delivered',
    );
  }
  t.notOk(
    bystander.frames.some((f) => f.type === 'message'),
    'nothing reached the bystander',
  );
  await bystander.close();
});

t.test('a flooder kicked with 4008: its backlog is dropped undecoded and read only up to CLOSING_READ_MAX_BYTES', async (t) => {
  const h = (await buildTestApp(t, 'real', { RATE_LIMIT_STRIKES: '1' }))!;
  if (!h) return;
  const counters = h.app.gateway.counters;
  const flooders = startFlooders([`${h.wsUrl}/ws?token=${h.token('kicked-flooder')}`], 30_000, 2000);
  t.teardown(() => void flooders.child.kill());
  t.equal(await flooders.ready, 'ready');
  const droppedBefore = counters.framesInByType[FrameIn.Dropped]!;
  const { written, length, frames } = await flooders.go();
  const dropped = counters.framesInByType[FrameIn.Dropped]! - droppedBefore;
  t.ok(
    frames[0]!.some((f) => f.type === 'kicked'),
    'the flooder was kicked (first refused second: RATE_LIMIT_STRIKES=1)',
  );
  t.ok(
    written * length > 4 * CLOSING_READ_MAX_BYTES,
    `it had written ${((written * length) / 1e6).toFixed(1)} MB: far more than a closing session may make the node read`,
  );
  t.ok(dropped >= 1, `the node read some of it while closing (${dropped} frames dropped)`);
  t.ok(
    (dropped - 1) * length <= CLOSING_READ_MAX_BYTES,
    `then cut the connection: ${dropped} frames of ${length} B read after the kick (at most ${CLOSING_READ_MAX_BYTES} B + one frame)`,
  );
  const { client: bystander } = await TestClient.open(`${h.wsUrl}/ws?token=${h.token('after-kick')}`);
  await bystander.ping(2000);
  t.pass('the node serves others as before');
  await bystander.close();
});

t.test('a 5 s flood gets at most one RATE_LIMITED error frame per one-second window', async (t) => {
  const h = (await buildTestApp(t, 'real', { RATE_LIMIT_STRIKES: '1000' }))!;
  if (!h) return;
  const { socket, frames } = await rawClient(`${h.wsUrl}/ws?token=${h.token('flooder')}`);
  let written = 0;
  const end = Date.now() + 5000;
  while (Date.now() < end) {
    while (socket.bufferedAmount < 64 * 1024) {
      socket.send(`{"type":"ping","ts":${written++}}`);
    }
    await sleep(2);
  }
  await sleep(1200); // the last window's summary
  const errors = frames.filter((f) => f.type === 'error');
  const pongs = frames.filter((f) => f.type === 'pong').length;
  const refused = errors.reduce((sum, f) => sum + (f.count ?? 0), 0);
  t.ok(errors.length >= 4 && errors.length <= 7, `${errors.length} error frames for ${written} frames written in 5 s`);
  t.ok(
    errors.every((f) => f.code === 'RATE_LIMITED' && typeof f.count === 'number' && f.count >= 1),
    'all RATE_LIMITED, each with the count of its window',
  );
  t.ok(pongs <= 7 * 50, `at most MAX_MESSAGES_PER_SEC pongs a window (${pongs})`);
  t.ok(pongs + refused <= written, `counts (${refused}) and pongs add up to no more than what was written`);
  t.equal(socket.readyState, WebSocket.OPEN, 'the connection stays (strikes not reached)');
  socket.terminate();
});
