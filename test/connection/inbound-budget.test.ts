/**
 * The inbound budget on a fake clock: a refused frame pauses the session's socket until its
 * window ends, one timer per paused session only, one summary (count) per limited window.
 */
import t from 'tap';
import { HEAVY_FRAME_CHARS, InboundBudget, type InboundTimers } from '../../src/connection/inbound-budget.ts';
import { Session, sessionConfig, type SessionLimits } from '../../src/connection/session.ts';
import { LIMITS, ManualClock, RecordingSocket } from '../helpers/core.ts';

/** setTimeout on the manual clock: `advance` runs what falls due, in order. */
class ManualTimers implements InboundTimers {
  private seq = 0;
  readonly pending = new Map<number, { at: number; fn: () => void }>();
  constructor(private readonly clock: ManualClock) {}
  set(fn: () => void, ms: number): unknown {
    const id = ++this.seq;
    this.pending.set(id, { at: this.clock.value + ms, fn });
    return id;
  }
  clear(handle: unknown): void {
    this.pending.delete(handle as number);
  }
  /** setImmediate: what `nextTurn` queued runs at the start of the next `advance` (or `turn`). */
  readonly turns: Array<() => void> = [];
  nextTurn(fn: () => void): void {
    this.turns.push(fn);
  }
  turn(): void {
    for (const fn of this.turns.splice(0)) fn();
  }
  advance(ms: number): void {
    this.turn();
    const end = this.clock.value + ms;
    for (;;) {
      const due = [...this.pending].filter(([, timer]) => timer.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      this.pending.delete(due[0]);
      this.clock.value = Math.max(this.clock.value, due[1].at);
      due[1].fn();
    }
    this.clock.value = end;
  }
}

function setup(limits: Partial<SessionLimits>) {
  const clock = new ManualClock(1_000_000);
  const timers = new ManualTimers(clock);
  const summaries: Array<{ at: number; refused: number; pausedThen: boolean }> = [];
  const socket = new RecordingSocket();
  const session = new Session({
    id: 's1',
    userId: 'u1',
    username: 'u1',
    socket,
    config: sessionConfig({ limits: { ...LIMITS, ...limits }, now: clock.now }),
  });
  session.state = 'open';
  const budget = new InboundBudget({
    onWindowEnd: (s, refused) => summaries.push({ at: clock.value, refused, pausedThen: (s.socket as RecordingSocket).paused }),
    timers,
  });
  const frame = (bytes = 10) => budget.admit(session, bytes, clock.value);
  return { clock, timers, summaries, socket, session, budget, frame };
}

t.test('within budget: nothing paused, no timer', async (t) => {
  const { clock, timers, socket, frame, budget } = setup({ maxMessagesPerSec: 50, maxInboundBytesPerSec: 1000 });
  for (let i = 0; i < 300; i++) {
    t.equal(frame(20), 'ok');
    clock.advance(100); // 10 frames, 200 bytes a second
  }
  t.equal(socket.pauses, 0);
  t.equal(timers.pending.size, 0, 'no timer for a session within its budget');
  t.equal(budget.pausedSessions, 0);
});

t.test('over its bytes: refused, paused until the window ends, then one summary and read again', async (t) => {
  const { clock, timers, summaries, socket, session, frame, budget } = setup({ maxMessagesPerSec: 1000, maxInboundBytesPerSec: 1000 });
  clock.advance(300); // window [1_000_000, 1_001_000)
  t.equal(frame(600), 'ok');
  t.equal(frame(600), 'ok', 'the frame crossing the budget passes');
  t.equal(frame(1), 'limited', 'the next one is refused');
  t.ok(socket.paused, 'and the socket is paused');
  t.ok(budget.isPaused(session));
  t.equal(timers.pending.size, 1, 'one timer');
  for (let i = 0; i < 4; i++) t.equal(frame(1), 'limited', 'frames already read are refused too');
  t.equal(socket.pauses, 1, 'paused once');
  t.equal(timers.pending.size, 1, 'still one timer');
  timers.advance(699);
  t.ok(socket.paused, 'still paused 1 ms before the window ends');
  t.same(summaries, []);
  timers.advance(1);
  t.same(summaries, [{ at: 1_001_000, refused: 5, pausedThen: true }], 'at the window end: one summary of the 5 refusals, sent before reading again');
  t.notOk(socket.paused, 'then read again');
  t.equal(timers.pending.size, 0, 'no timer left');
  t.equal(frame(600), 'ok', 'a fresh window');
});

t.test('over its frames: the same pause and summary', async (t) => {
  const { timers, summaries, socket, frame } = setup({ maxMessagesPerSec: 3 });
  t.same([frame(), frame(), frame(), frame(), frame()], ['ok', 'ok', 'ok', 'limited', 'limited']);
  t.ok(socket.paused);
  timers.advance(1000);
  t.same(
    summaries.map((s) => s.refused),
    [2],
  );
  t.notOk(socket.paused);
});

t.test('a 5 s flood gets at most one summary per window, counting every refused frame', async (t) => {
  const { timers, summaries, socket, frame } = setup({ maxMessagesPerSec: 50, maxInboundBytesPerSec: 262_144, rateLimitStrikes: 1000 });
  let refused = 0;
  let sent = 0;
  // A read of 8 frames every 0.1 ms while the socket is read: the frames of a read already
  // taken in are all handled, pause or not; a paused socket reads nothing more (kernel buffers).
  for (let step = 0; step < 50_000; step++) {
    if (!socket.paused) {
      for (let i = 0; i < 8; i++) {
        sent++;
        if (frame(i % 2 === 0 ? 60_000 : 20) !== 'ok') refused++;
      }
    }
    timers.advance(0.1);
  }
  timers.advance(1000);
  t.ok(summaries.length >= 4 && summaries.length <= 6, `one summary per limited window (${summaries.length} in 5 s)`);
  const windows = new Set(summaries.map((s) => Math.floor((s.at - 1_000_000) / 1000)));
  t.equal(windows.size, summaries.length, 'never two in one window');
  t.equal(
    summaries.reduce((sum, s) => sum + s.refused, 0),
    refused,
    'their counts add up to the refused frames',
  );
  t.ok(refused > summaries.length, `several refusals per summary (${refused} refused)`);
  t.ok(sent - refused <= 5 * 50, `within the frames and bytes budgets (${sent - refused} admitted)`);
});

t.test('a heavy frame within the budget: its session reads again on the next turn, light frames never wait', async (t) => {
  const { timers, socket, session, frame, budget } = setup({ maxMessagesPerSec: 1000, maxInboundBytesPerSec: 1_000_000 });
  for (let i = 0; i < 50; i++) t.equal(frame(HEAVY_FRAME_CHARS - 1), 'ok');
  t.equal(socket.pauses, 0, 'frames under HEAVY_FRAME_CHARS: never paused');
  t.equal(timers.turns.length, 0, 'nothing scheduled for them');
  t.equal(frame(HEAVY_FRAME_CHARS), 'ok', 'a heavy frame is admitted');
  t.ok(socket.paused, 'and its socket stops reading');
  t.equal(budget.yieldedSessions, 1);
  t.notOk(budget.isPaused(session), 'not as a refusal');
  t.equal(frame(HEAVY_FRAME_CHARS), 'ok', 'a second heavy frame of the same read');
  t.equal(socket.pauses, 1, 'paused once');
  t.equal(timers.turns.length, 1, 'one next-turn callback');
  t.equal(timers.pending.size, 0, 'no timer');
  timers.turn();
  t.notOk(socket.paused, 'reads again on the next turn');
  t.equal(budget.yieldedSessions, 0, 'nothing kept');
});

t.test('heavy frames of many sessions in one turn: one callback resumes them all', async (t) => {
  const clock = new ManualClock(1_000_000);
  const timers = new ManualTimers(clock);
  const budget = new InboundBudget({ onWindowEnd: () => {}, timers });
  const sockets = Array.from({ length: 50 }, () => new RecordingSocket());
  for (const [i, socket] of sockets.entries()) {
    const session = new Session({ id: `s${i}`, userId: `u${i}`, username: `u${i}`, socket, config: sessionConfig({ limits: LIMITS, now: clock.now }) });
    session.state = 'open';
    t.equal(budget.admit(session, 60_000, clock.value), 'ok');
  }
  t.ok(
    sockets.every((s) => s.paused),
    'every one paused',
  );
  t.equal(timers.turns.length, 1, 'one setImmediate for the turn');
  timers.turn();
  t.ok(
    sockets.every((s) => !s.paused),
    'every one reads again',
  );
});

t.test('a heavy frame, then a refusal in the same read: the next turn leaves it paused, the window end resumes it', async (t) => {
  const { clock, timers, summaries, socket, frame } = setup({ maxMessagesPerSec: 1000, maxInboundBytesPerSec: 100_000 });
  t.equal(frame(60_000), 'ok');
  t.equal(frame(60_000), 'ok', 'crossing the budget passes');
  t.equal(frame(60_000), 'limited');
  timers.turn();
  t.ok(socket.paused, 'the next turn does not resume a session over its budget');
  timers.advance(1000 - (clock.value - 1_000_000));
  t.same(
    summaries.map((s) => s.refused),
    [1],
  );
  t.notOk(socket.paused, 'its window end does');
});

t.test('a session that ends while yielding is forgotten', async (t) => {
  const { timers, socket, session, frame, budget } = setup({ maxMessagesPerSec: 1000, maxInboundBytesPerSec: 1_000_000 });
  frame(HEAVY_FRAME_CHARS);
  t.ok(socket.paused);
  session.state = 'closed';
  budget.sessionClosed(session);
  t.equal(budget.yieldedSessions, 0);
  timers.turn();
  t.equal(budget.yieldedSessions, 0);
});

t.test('strikes: the close verdict still pauses, and the window end resumes without a summary', async (t) => {
  const { timers, summaries, socket, session, frame } = setup({ maxMessagesPerSec: 1, rateLimitStrikes: 1 });
  t.equal(frame(), 'ok');
  t.equal(frame(), 'close');
  t.ok(socket.paused);
  session.state = 'closing'; // what the dispatcher's close does
  timers.advance(1000);
  t.same(summaries, [], 'no RATE_LIMITED frame after the kick');
  t.notOk(socket.paused, 'resumed so that the close handshake can be read');
});

t.test('a session that ends while paused: its timer is gone, its socket reads again', async (t) => {
  const { timers, summaries, socket, session, frame, budget } = setup({ maxMessagesPerSec: 1 });
  frame();
  frame();
  t.ok(socket.paused);
  session.state = 'closed';
  budget.sessionClosed(session);
  t.equal(timers.pending.size, 0, 'timer cleared');
  t.notOk(socket.paused);
  t.equal(budget.pausedSessions, 0, 'nothing kept for it');
  timers.advance(5000);
  t.same(summaries, []);
  budget.sessionClosed(session); // twice is harmless
});

t.test('a socket that throws on pause/resume changes nothing else', async (t) => {
  const { timers, socket, frame, budget } = setup({ maxMessagesPerSec: 1 });
  socket.pause = () => {
    throw new Error('closed');
  };
  socket.resume = () => {
    throw new Error('closed');
  };
  frame();
  t.equal(frame(), 'limited');
  t.equal(budget.pausedSessions, 1);
  timers.advance(1000);
  t.equal(budget.pausedSessions, 0);
});
