/**
 * A flooding client cannot flood the log: it sends far more frames than MAX_MESSAGES_PER_SEC
 * (rate limited, error frames back) to a recipient whose send queue cannot take them (every
 * message dropped). Hundreds of refused frames and dropped messages produce at most one warn
 * line per session and kind per 10 s window (RateLimitedWarner), while the metrics count all.
 * (Since a rate-limited session is not read until its second ends, the node reads only part of
 * the flood; the rest waits in the flooder's buffers.)
 */
import t from 'tap';
import { buildTestApp, eventually, logLines, TEST_ADMIN_TOKEN } from '../helpers/build.ts';
import { TestClient } from '../helpers/ws-client.ts';
import { parseExposition, sampleValue } from '../metrics/exposition.ts';

/** 60 bursts of 50 frames, 20 ms apart: 3,000 frames in a few seconds. */
const BURSTS = 60;

t.test('a flooding client produces a bounded number of warn lines', async (t) => {
  const h = await buildTestApp(t, 'embedded', {
    MAX_MESSAGES_PER_SEC: '20',
    RATE_LIMIT_STRIKES: '1000', // never closed for it: the flood goes on
    SEND_QUEUE_MAX_BYTES: '1024', // a 1.5 kB message never fits a send queue: every one is dropped
    HEARTBEAT_TIMEOUT_MS: '60000',
  });
  if (!h) return;
  const rx = (await TestClient.open(`${h.wsUrl}/ws?token=${h.token('rx')}`)).client;
  const tx = (await TestClient.open(`${h.wsUrl}/ws?token=${h.token('tx')}`)).client;
  t.teardown(() => Promise.all([rx.terminate(), tx.terminate()]));
  // Their logins' replays done (the recovery of stored messages reads the database): rx's
  // messages go to its send queue, not held behind its replay.
  await eventually(() => h.app.gateway.replay.gated === 0, 20_000);
  const linesBefore = h.logs.length;

  const content = 'x'.repeat(1500);
  const started = Date.now();
  let sent = 0;
  for (let burst = 0; burst < BURSTS; burst++) {
    for (let i = 0; i < 50; i++) tx.send({ type: 'message', to: 'rx', content, id: `m${sent++}` });
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const { counters } = h.app.gateway;
  await eventually(() => counters.rateLimited >= 50 && counters.dropped >= 20, 20_000);
  await tx.terminate(); // nothing more of the flood is read: the counters hold still
  const elapsedMs = Date.now() - started;
  // One warn line per session and kind per 10 s window: the bound follows the flood's duration
  // (a few seconds, more on a loaded machine).
  const windows = Math.ceil((elapsedMs + 1) / 10_000);
  t.equal(sent, BURSTS * 50, `${sent} frames sent, ${counters.framesIn} read in ${elapsedMs} ms`);
  t.ok(counters.rateLimited >= 50, `${counters.rateLimited} frames rate limited (20 per second pass)`);
  t.ok(counters.framesIn < sent, 'the node did not read the whole flood (paused while limited)');
  t.ok(counters.dropped >= 20, `${counters.dropped} messages dropped`);

  const warns = h.logs
    .slice(linesBefore)
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((l) => l.level === 40);
  const rateLimited = logLines(h.logs, 'rate limited');
  const dropped = logLines(h.logs, 'send queue full: message dropped');
  t.ok(rateLimited.length >= 1 && rateLimited.length <= windows, `${rateLimited.length} "rate limited" line(s) for the flooding session (at most ${windows})`);
  t.ok(rateLimited.every((l) => l.userId === 'tx'));
  // rx: its queue refuses every message; tx: possibly its own error frames, over its 1 kB bound
  t.ok(dropped.length >= 1 && dropped.length <= 2 * windows, `${dropped.length} "message dropped" line(s) (at most ${2 * windows})`);
  t.ok(
    dropped.some((l) => l.userId === 'rx'),
    'the recipient whose queue overflowed',
  );
  t.ok(warns.length <= 3 * windows, `${warns.length} warn lines in all for ${counters.rateLimited + counters.dropped} refused frames and drops`);
  t.ok(h.logs.length - linesBefore <= 10 * windows, `${h.logs.length - linesBefore} log lines of any level during the flood`);

  const res = await h.app.inject({ url: '/metrics', headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` } });
  const metrics = parseExposition(res.body);
  t.equal(sampleValue(metrics, 'gatehouse_frames_in_total', { type: 'rate_limited' }), counters.rateLimited, 'metrics count every refused frame');
  t.equal(sampleValue(metrics, 'gatehouse_messages_dropped_total'), counters.dropped, 'and every drop');
});
