/**
 * Join/leave spam from 10 sessions on the real Redis: what it costs the cluster's Redis.
 *
 * Commands are counted on the client side of the measurement, race-free with the other suites
 * sharing the server: a MONITOR connection sees every command Redis runs, those inside Lua
 * scripts included (the figure of INFO commandstats), and only the ones naming this suite's key
 * or channel prefix are counted. Room work is the subset that names a room key or channel
 * (`room:`, `rooms:`, `gateway:room:`); the rest (lease renewals, presence) is the node's
 * background and reported apart.
 */
import t from 'tap';
import { Redis } from 'ioredis';
import type { Test } from 'tap';
import { buildTestApp, eventually, type TestApp } from '../helpers/build.ts';
import { TEST_REDIS_URL } from '../helpers/services.ts';
import { TestClient } from '../helpers/ws-client.ts';

const SESSIONS = 10;

interface Counted {
  /** Room commands Redis ran, those inside scripts included. */
  room: number;
  /** Room commands the node sent (EVALSHA, SUBSCRIBE, UNSUBSCRIBE...). */
  sent: number;
  all: number;
  stop(): Promise<void>;
}

/** Counts the commands naming `prefix` (room ones apart) until `stop()`. */
async function countCommands(prefix: string): Promise<Counted> {
  const client = new Redis(TEST_REDIS_URL);
  const monitor = await client.monitor();
  // A monitor connection cut while Redis is still streaming to it reports a queue state error.
  monitor.on('error', () => {});
  client.on('error', () => {});
  const counted: Counted = {
    room: 0,
    sent: 0,
    all: 0,
    async stop() {
      monitor.removeAllListeners('monitor');
      monitor.disconnect();
      client.disconnect();
    },
  };
  const roomMarks = [`${prefix}room:`, `${prefix}rooms:`, `${prefix}gateway:room:`];
  monitor.on('monitor', (_time: string, args: string[], source: string) => {
    if (!args.some((a) => a.includes(prefix))) return;
    counted.all++;
    if (!args.some((a) => roomMarks.some((mark) => a.includes(mark)))) return;
    counted.room++;
    if (source !== 'lua') counted.sent++;
  });
  // MONITOR is live once its own PING shows up.
  await client.ping();
  return counted;
}

const open = async (h: TestApp, userId: string) => (await TestClient.open(`${h.wsUrl}/ws?token=${h.token(userId)}`)).client;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const answers = (client: TestClient) => client.frames.filter((f) => f.type === 'joined' || f.type === 'left').length;
/** Refused frames: a ROOM_RATE_LIMITED error each, and one coalesced RATE_LIMITED error per second (its `count`) for the frame limit. */
const refusals = (client: TestClient) =>
  client.frames.filter((f) => f.type === 'error').reduce((sum, f) => sum + (typeof f.count === 'number' ? f.count : 1), 0);

interface Run {
  frames: number;
  answered: number;
  refused: number;
  ms: number;
  counted: Counted;
}

/**
 * 10 sessions, each alternating join / leave of a room of its own (each join the room's first
 * local member: the costliest case), `frames` frames per session, `gapMs` apart (0: all at once).
 * Waits until every frame was answered (every refused frame gets an error frame too).
 */
async function spam(t: Test, env: Record<string, string>, frames: number, gapMs: number): Promise<Run | null> {
  const h = await buildTestApp(t, 'real', { HEARTBEAT_TIMEOUT_MS: '60000', ...env });
  if (!h) return null;
  const clients = await Promise.all(Array.from({ length: SESSIONS }, (_, i) => open(h, `spammer-${i}`)));
  const counted = await countCommands(h.config.REDIS_KEY_PREFIX);
  const started = performance.now();
  await Promise.all(
    clients.map(async (client, i) => {
      for (let n = 0; n < frames; n++) {
        client.send({ type: n % 2 === 0 ? 'join' : 'leave', room: `spam-${i}` });
        if (gapMs > 0) await sleep(gapMs);
      }
      await eventually(() => answers(client) + refusals(client) >= frames, 20_000);
    }),
  );
  const ms = performance.now() - started;
  // Leaves still being flushed are part of the cost.
  await sleep(100);
  await counted.stop();
  const run = {
    frames: SESSIONS * frames,
    answered: clients.reduce((sum, c) => sum + answers(c), 0),
    refused: clients.reduce((sum, c) => sum + refusals(c), 0),
    ms,
    counted,
  };
  t.comment(
    `${run.frames} join/leave frames in ${ms.toFixed(0)} ms: ${run.answered} answered, ${run.refused} refused; ` +
      `room commands run ${counted.room} (${(counted.room / run.frames).toFixed(2)} per frame, ${((counted.room * 1000) / ms).toFixed(0)}/s), ` +
      `sent ${counted.sent} (${(counted.sent / Math.max(1, run.answered)).toFixed(2)} per answered frame); all commands of the node ${counted.all}`,
  );
  await Promise.all(clients.map((c) => c.close()));
  return run;
}

t.test('burst at the default limits: at most 2 Redis commands per join/leave frame, scripts included', async (t) => {
  const run = await spam(t, {}, 100, 0);
  if (!run) return;
  t.equal(run.answered + run.refused, run.frames, 'every frame answered');
  t.ok(run.refused > 0, 'over the budget: refused');
  t.ok(run.counted.room <= 2 * run.frames, `${run.counted.room} commands for ${run.frames} frames`);
});

t.test('no join/leave budget, no frame limit: batching alone (cancelled pairs cost nothing)', async (t) => {
  const run = await spam(t, { MAX_MESSAGES_PER_SEC: '100000', MAX_ROOM_CHANGES_PER_SEC: '10000' }, 200, 0);
  if (!run) return;
  t.equal(run.answered, run.frames, 'every frame accepted');
  t.ok(run.counted.room <= 2 * run.frames, `${run.counted.room} commands for ${run.frames} frames`);
});

t.test('paced at the budget, every change real: at most 2 commands sent per change', async (t) => {
  const run = await spam(t, {}, 12, 110);
  if (!run) return;
  t.equal(run.answered, run.frames, 'within the budget: every frame accepted');
  t.ok(run.counted.sent <= 2 * run.answered, `${run.counted.sent} commands sent for ${run.answered} changes`);
});

t.test('paced at the frame limit (50/s), every accepted change real: at most 2 commands per frame, scripts included', async (t) => {
  const run = await spam(t, {}, 75, 20);
  if (!run) return;
  t.equal(run.answered + run.refused, run.frames, 'every frame answered');
  t.ok(run.counted.room <= 2 * run.frames, `${run.counted.room} commands for ${run.frames} frames`);
});
