/**
 * Drain batching through the real shutdown path (app.close -> the gateway plugin's preClose):
 * with DRAIN_BATCH=N and DRAIN_INTERVAL_MS=T the sessions are told to reconnect and closed with
 * 1012 in waves of N, about T apart. Asserted on the grouping of the close times seen by the
 * clients, not on exact timings: within a wave the closes are close together, between waves
 * there is a gap of the order of T.
 */
import t from 'tap';
import { CloseCode } from '../../src/protocol/close-codes.ts';
import { buildTestApp, eventually } from '../helpers/build.ts';
import { TestClient } from '../helpers/ws-client.ts';

const BATCH = 2;
const INTERVAL_MS = 600;
const CLIENTS = 7;

t.test('sessions close in waves of DRAIN_BATCH spaced by DRAIN_INTERVAL_MS', async (t) => {
  const h = await buildTestApp(t, 'embedded', {
    DRAIN_BATCH: String(BATCH),
    DRAIN_INTERVAL_MS: String(INTERVAL_MS),
    HEARTBEAT_TIMEOUT_MS: '60000',
    WS_PING_INTERVAL_MS: '600000',
    // Drain ends wait in the grace (no database write while draining: the embedded database
    // shares this event loop and would skew the close times); the last node ends them at close.
    LOGOUT_GRACE_MS: '60000',
  });
  if (!h) return;
  const clients: TestClient[] = [];
  for (let i = 0; i < CLIENTS; i++) clients.push((await TestClient.open(`${h.wsUrl}/ws?token=${h.token(`wave-${i}`)}`)).client);
  // The embedded database runs on this event loop: let the login writes finish first, so a
  // query in flight cannot stall the loop in the middle of the drain and merge two waves.
  await eventually(async () => (await h.app.players.listOpenSessions(h.config.NODE_ID, 100)).length === CLIENTS, 20_000);
  const closes = clients.map((c) => c.closed.then((closed) => ({ ...closed, at: performance.now() })));

  const closing = h.app.close();
  const seen = await Promise.all(closes);
  await closing;

  t.ok(
    seen.every((c) => c.code === CloseCode.RESTART),
    'every session closed with 1012',
  );
  for (const c of clients) t.match(await c.next('reconnect', 1000), { type: 'reconnect' }, 'after a reconnect frame');

  // Group the close times: a new wave starts where the gap to the previous close exceeds T/2.
  const times = seen.map((c) => c.at).sort((a, b) => a - b);
  const waves: number[][] = [[times[0]!]];
  for (let i = 1; i < times.length; i++) {
    if (times[i]! - times[i - 1]! > INTERVAL_MS / 2) waves.push([]);
    waves.at(-1)!.push(times[i]!);
  }
  const sizes = waves.map((w) => w.length);
  const spreads = waves.map((w) => Math.round(w.at(-1)! - w[0]!));
  const gaps = waves.slice(1).map((w, i) => Math.round(w[0]! - waves[i]!.at(-1)!));
  t.comment(`waves ${JSON.stringify(sizes)}, spread within ${JSON.stringify(spreads)} ms, gaps ${JSON.stringify(gaps)} ms`);
  t.same(sizes, [2, 2, 2, 1], `${CLIENTS} sessions in waves of ${BATCH}`);
  t.ok(
    gaps.every((g) => g >= INTERVAL_MS * 0.6 && g <= INTERVAL_MS * 4),
    `waves about ${INTERVAL_MS} ms apart`,
  );
});
