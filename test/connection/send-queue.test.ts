import t from 'tap';
import { CONTROL_FRAME_BUDGET, SendQueue, type OutboundSocket, type SendQueueOptions } from '../../src/connection/send-queue.ts';

/**
 * A socket whose writes the test releases (flush) or that writes inside send() (syncAck: the
 * kernel took it at once). Success is reported with `null`, exactly as ws (through Node's write
 * callback) does. A send without a callback stays in the buffer until flushed, like any other.
 */
class FakeSocket implements OutboundSocket {
  /** Bytes buffered by someone else (ws-level pings, close frames). */
  external = 0;
  inSocket = 0;
  sent: string[] = [];
  pending: { bytes: number; cb: ((err?: Error | null) => void) | undefined }[] = [];
  syncAck = false;
  depth = 0;
  reentrantSends = 0;
  onSend?: (data: string) => void;
  /** Sends made without a callback. */
  untracked = 0;

  get bufferedAmount(): number {
    return this.external + this.inSocket;
  }

  send(data: string, cb?: (err?: Error | null) => void): void {
    if (this.depth > 0) this.reentrantSends++;
    this.depth++;
    this.sent.push(data);
    this.untracked += cb ? 0 : 1;
    this.onSend?.(data);
    if (this.syncAck) cb?.(null);
    else {
      const bytes = Buffer.byteLength(data);
      this.inSocket += bytes;
      this.pending.push({ bytes, cb });
    }
    this.depth--;
  }

  /** Writes out `n` buffered sends (all by default), in order, running their callbacks. */
  flush(n = Infinity, err?: Error): void {
    while (n-- > 0) {
      const p = this.pending.shift();
      if (!p) return;
      this.inSocket -= p.bytes;
      p.cb?.(err ?? null);
    }
  }
}

function setup(options: Partial<SendQueueOptions> = {}) {
  const socket = new FakeSocket();
  const clock = { now: 1000 };
  const drops: number[] = [];
  let slow = 0;
  const queue = new SendQueue(
    socket,
    { maxMessages: 4, maxBytes: 1000, slowConsumerDrops: 0, now: () => clock.now, ...options },
    {
      onQueueDrop: (n) => void drops.push(n),
      onSlowConsumer: () => void slow++,
    },
  );
  return { socket, clock, drops, queue, slowCount: () => slow };
}

t.test('an empty socket gets the message without a callback; its buffer tells when it is out', async (t) => {
  const { socket, queue, clock } = setup();
  t.equal(queue.oldestPendingSince(), undefined);
  socket.syncAck = true; // the kernel takes it at once: nothing pending
  t.equal(queue.push('a'), true);
  t.same(socket.sent, ['a']);
  t.equal(socket.untracked, 1, 'no callback');
  t.equal(queue.oldestPendingSince(), undefined);

  socket.syncAck = false; // this one stays in the socket's buffer
  t.equal(queue.push('b'), true);
  t.equal(socket.untracked, 2);
  t.equal(queue.depth + queue.bytes + queue.inFlight, 0, 'nothing queued or tracked');
  clock.now = 5000;
  t.equal(queue.oldestPendingSince(), 1000, 'pending since its push');
  socket.flush();
  t.equal(queue.oldestPendingSince(), undefined, 'the empty buffer says it is written out');

  t.equal(queue.push('c'), true);
  t.equal(queue.push('d'), true, 'the socket holds c: d is tracked');
  t.equal(socket.untracked, 3);
  t.equal(queue.inFlight, 1);
  socket.flush();
  t.equal(queue.inFlight, 0);
  t.equal(queue.oldestPendingSince(), undefined);
});

t.test('queues behind a busy socket and drains in order on callbacks', async (t) => {
  const { socket, queue } = setup({ writeThroughBelow: 10 });
  queue.push('x'.repeat(20)); // untracked; buffered 20 >= watermark from now on
  queue.push('b'); // handed over with a callback: a queue needs one coming to drain
  queue.push('c');
  queue.push('d');
  t.same(socket.sent, ['x'.repeat(20), 'b']);
  t.equal(queue.depth, 2);
  t.equal(queue.bytes, 2);
  socket.flush(2);
  t.same(socket.sent, ['x'.repeat(20), 'b', 'c', 'd'], 'drained once the socket caught up');
  t.equal(queue.depth, 0);
  t.equal(queue.bytes, 0);
  t.equal(queue.inFlight, 2);
});

t.test('drops on the message-count bound', async (t) => {
  const { socket, queue, drops } = setup({ maxMessages: 3, writeThroughBelow: 1 });
  const results = ['m1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7'].map((m) => queue.push(m));
  t.same(results, [true, true, true, true, true, false, false], 'two in the socket, three queued, then drops');
  t.equal(queue.depth, 3);
  t.equal(queue.dropped, 2);
  t.equal(queue.consecutiveDrops, 2);
  t.same(drops, [1, 2]);
  socket.flush(2);
  t.same(socket.sent, ['m1', 'm2', 'm3']);
  t.equal(queue.push('m8'), true, 'room again');
  t.equal(queue.consecutiveDrops, 0, 'an accepted message resets the run');
  t.equal(queue.dropped, 2);
  socket.flush();
  socket.flush();
  socket.flush();
  t.same(socket.sent, ['m1', 'm2', 'm3', 'm4', 'm5', 'm8']);
});

t.test('drops on the byte bound, counting the socket buffer', async (t) => {
  const { socket, queue } = setup({ maxBytes: 100, maxMessages: 100 });
  socket.external = 60; // e.g. a ws-level ping we did not send
  t.equal(queue.push('a'.repeat(41)), false, '60 + 41 > 100');
  t.equal(queue.push('a'.repeat(40)), true, '60 + 40 = 100 fits');
  t.equal(queue.push('b'), false, 'socket now holds 100');
  socket.flush();
  t.equal(queue.push('é'.repeat(21)), false, '42 bytes in 21 chars: measured exactly');
  t.equal(queue.push('é'.repeat(20)), true, '40 bytes');
  t.equal(queue.dropped, 3);
});

t.test('queued bytes count toward the bound', async (t) => {
  const { socket, queue } = setup({ maxBytes: 100, maxMessages: 100, writeThroughBelow: 1 });
  queue.push('a'.repeat(9)); // in the socket, untracked
  queue.push('b'); // in the socket, tracked
  queue.push('é'.repeat(25)); // queued, 50 bytes
  t.equal(queue.bytes, 50);
  t.equal(queue.push('c'.repeat(41)), false, '10 + 50 + 41 > 100');
  t.equal(queue.push('c'.repeat(40)), true, '= 100');
  t.equal(queue.bytes, 90);
  socket.flush(2);
  t.equal(queue.bytes, 40, 'bytes leave the count when handed to the socket');
  t.equal(socket.bufferedAmount, 50);
});

t.test('consecutive drops: onQueueDrop every time, onSlowConsumer exactly once', async (t) => {
  const { queue, drops, slowCount } = setup({ maxMessages: 1, writeThroughBelow: 1, slowConsumerDrops: 3 });
  queue.push('in-socket');
  queue.push('in-flight');
  queue.push('queued');
  for (let i = 0; i < 5; i++) queue.push('x');
  t.same(drops, [1, 2, 3, 4, 5]);
  t.equal(slowCount(), 1, 'fired at the third drop in a row, once');
  const again = setup({ maxMessages: 1, writeThroughBelow: 1, slowConsumerDrops: 3 });
  again.queue.push('a');
  again.queue.push('b');
  again.queue.push('c');
  again.queue.push('x');
  again.queue.push('x');
  t.equal(again.slowCount(), 0, 'two in a row is not enough');
  again.socket.flush(2);
  again.queue.push('ok');
  again.queue.push('x');
  again.queue.push('x');
  t.equal(again.slowCount(), 0, 'an accepted message restarted the count');
  again.queue.push('x');
  t.equal(again.slowCount(), 1);
  const never = setup({ maxMessages: 1, writeThroughBelow: 1, slowConsumerDrops: 0 });
  for (let i = 0; i < 100; i++) never.queue.push('x');
  t.equal(never.slowCount(), 0, 'SLOW_CONSUMER_DROPS=0 never fires');
  t.equal(never.queue.dropped, 97, 'two in the socket, one queued');
});

t.test('oldestPendingSince follows the oldest unflushed message', async (t) => {
  const { socket, queue, clock } = setup({ writeThroughBelow: 1 });
  clock.now = 1000;
  queue.push('a'); // in the socket, untracked
  clock.now = 2000;
  queue.push('b'); // in flight
  clock.now = 2500;
  queue.push('c'); // queued
  clock.now = 3000;
  t.equal(queue.oldestPendingSince(), 1000);
  socket.flush(1); // a written out, b still in the buffer
  t.equal(queue.oldestPendingSince(), 1000, 'the buffer has not been empty since a (PROTOCOL.md: "not drained")');
  socket.flush(1); // b's callback: a is out too; c handed over
  t.equal(queue.oldestPendingSince(), 2500);
  socket.flush();
  t.equal(queue.oldestPendingSince(), undefined);

  // A callback of a later send says the untracked one before it is out, whatever else is buffered.
  queue.push('d');
  clock.now = 4000;
  queue.push('e');
  socket.external = 5; // someone else's bytes (a ws ping): the buffer does not empty
  t.equal(queue.oldestPendingSince(), 3000, 'd');
  socket.flush();
  t.equal(queue.oldestPendingSince(), undefined, "e's callback: d and e are out");
});

t.test('order is preserved under random interleavings, no re-entrant send, no stall', async (t) => {
  let seed = 99;
  const rand = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 4294967296;
  for (let round = 0; round < 20; round++) {
    const { socket, queue } = setup({ maxMessages: 8, maxBytes: 400, writeThroughBelow: 64 });
    const accepted: string[] = [];
    let stalls = 0;
    for (let i = 0; i < 2000; i++) {
      const op = rand();
      if (op < 0.6) {
        const msg = `${i}:` + (rand() < 0.3 ? 'é' : 'a').repeat(Math.floor(rand() * 40));
        if (queue.push(msg)) accepted.push(msg);
      } else if (op < 0.85) socket.flush(Math.floor(rand() * 4));
      else if (op < 0.95) socket.syncAck = !socket.syncAck;
      else socket.external = rand() < 0.5 ? 0 : Math.floor(rand() * 200);
      if (queue.depth > 0 && queue.inFlight === 0) stalls++;
    }
    socket.external = 0;
    socket.flush();
    t.same(socket.sent, accepted, `round ${round}: sent in push order`);
    t.equal(socket.reentrantSends, 0);
    t.equal(stalls, 0, 'queued messages always have a callback coming');
    t.equal(queue.depth + queue.bytes + queue.inFlight, 0, 'fully drained');
  }
});

t.test('a socket that calls back inside send() drains a long queue without recursion', async (t) => {
  const n = 50_000;
  const { socket, queue } = setup({ maxMessages: n, maxBytes: 1 << 30, writeThroughBelow: 1 });
  for (let i = 0; i <= n; i++) queue.push(String(i));
  t.equal(queue.depth, n - 1, 'one untracked and one tracked in the socket');
  socket.syncAck = true;
  socket.flush(2);
  t.equal(socket.sent.length, n + 1);
  t.equal(socket.sent[n], String(n));
  t.ok(
    socket.sent.every((s, i) => s === String(i)),
    'in order',
  );
  t.equal(socket.reentrantSends, 0);
  t.equal(queue.depth + queue.inFlight + queue.bytes, 0);
});

t.test('a push (bulk or control) from inside send() is queued and sent right after', async (t) => {
  for (const lane of ['push', 'pushControl'] as const) {
    for (const syncAck of [false, true]) {
      const { socket, queue } = setup();
      socket.syncAck = syncAck;
      let once = true;
      socket.onSend = () => {
        if (once) {
          once = false;
          queue[lane]('inner');
        }
      };
      queue.push('outer');
      t.same(socket.sent, ['outer', 'inner'], `${lane}, syncAck=${syncAck}`);
      t.equal(socket.reentrantSends, 0);
    }
  }
});

t.test('the arrays are compacted while the pipeline never empties', async (t) => {
  const { socket, queue } = setup({ maxMessages: 10, writeThroughBelow: 1 });
  queue.push('first');
  for (let i = 0; i < 20_000; i++) {
    queue.push(`m${i}`);
    socket.flush(1);
  }
  const internal = queue as unknown as { bulk: { slots: number }; flight: number[] };
  t.ok(internal.bulk.slots < 2100, `queued slots stay bounded (${internal.bulk.slots})`);
  t.ok(internal.flight.length < 2100, `in-flight slots stay bounded (${internal.flight.length})`);
  socket.flush();
  t.equal(socket.sent.length, 20_001);
  t.equal(socket.sent[20_000], 'm19999');
});

t.test('a send error discards the queue; later pushes are refused without counting drops', async (t) => {
  const { socket, queue, drops } = setup({ writeThroughBelow: 1 });
  queue.push('a');
  queue.push('b');
  queue.push('c');
  socket.flush(2, new Error('socket closed'));
  t.equal(queue.failed, true);
  t.equal(queue.depth, 0);
  t.equal(queue.bytes, 0);
  t.equal(queue.push('d'), false);
  t.equal(queue.dropped, 0);
  t.same(drops, []);
  t.same(socket.sent, ['a', 'b']);
  t.equal(queue.oldestPendingSince(), undefined);

  const throwing = setup();
  throwing.socket.send = () => {
    throw new Error('WebSocket is not open');
  };
  t.doesNotThrow(() => throwing.queue.push('x'));
  t.equal(throwing.queue.failed, true);
  t.equal(throwing.queue.inFlight, 0);
});

t.test('clear() drops what is queued, keeps in-flight tracking and counters', async (t) => {
  const { socket, queue } = setup({ maxMessages: 1, writeThroughBelow: 1 });
  queue.push('a');
  queue.push('b');
  queue.push('c');
  queue.push('dropped');
  queue.clear();
  t.equal(queue.depth, 0);
  t.equal(queue.bytes, 0);
  t.equal(queue.inFlight, 1);
  t.equal(queue.dropped, 1);
  socket.flush();
  t.same(socket.sent, ['a', 'b']);
  t.equal(queue.push('d'), true, 'still usable');
  t.same(socket.sent, ['a', 'b', 'd']);
});

t.test('control frames overtake queued bulk; each lane keeps its own order', async (t) => {
  const { socket, queue } = setup({ maxMessages: 10, writeThroughBelow: 10 });
  queue.push('x'.repeat(20)); // untracked; the socket is above the watermark from now on
  queue.push('b1'); // tracked: a callback is coming
  queue.push('b2');
  queue.push('b3');
  t.equal(queue.pushControl('pong1'), true);
  t.equal(queue.pushControl('ack1'), true);
  t.equal(queue.push('b4'), true);
  t.equal(queue.pushControl('pong2'), true);
  t.same(socket.sent, ['x'.repeat(20), 'b1'], 'nothing overtakes what the socket holds');
  t.equal(queue.depth, 3, 'bulk waiting');
  t.equal(queue.controlDepth, 3, 'control waiting');
  t.equal(queue.controlBytes, 14);
  t.equal(queue.bytes, 6, 'control bytes are not bulk bytes');
  socket.flush(2); // the socket drained: control first, in order, up to the watermark
  t.same(socket.sent, ['x'.repeat(20), 'b1', 'pong1', 'ack1', 'pong2']);
  socket.flush();
  socket.flush();
  t.same(socket.sent, ['x'.repeat(20), 'b1', 'pong1', 'ack1', 'pong2', 'b2', 'b3', 'b4']);
  t.equal(queue.depth + queue.controlDepth, 0);
});

t.test('the socket is given at most about one watermark while bulk waits: a pong waits behind no more', async (t) => {
  const { socket, queue } = setup({ maxMessages: 1000, maxBytes: 1 << 20, writeThroughBelow: 100 });
  for (let i = 0; i < 200; i++) queue.push(`${String(i).padStart(3, '0')}:${'m'.repeat(36)}`); // 40 bytes each
  t.ok(socket.bufferedAmount <= 140, `the socket holds ${socket.bufferedAmount} bytes: the watermark plus the message that crossed it`);
  const handed = socket.sent.length;
  queue.pushControl('pong');
  t.equal(socket.sent.length, handed, 'the pong waits for the socket');
  // written out one at a time: the first callback that finds the buffer below the watermark takes the pong
  while (!socket.sent.includes('pong')) socket.flush(1);
  const at = socket.sent.indexOf('pong');
  t.equal(at, handed, 'no bulk queued behind the socket went before it');
  let ahead = 0;
  for (const m of socket.sent.slice(0, at)) ahead += m.length;
  t.ok(ahead <= 140, `bulk written before the pong: ${ahead} bytes, of 8000 queued`);
});

t.test('the idle socket path is the same for control frames: untracked, no queue', async (t) => {
  const { socket, queue } = setup();
  socket.syncAck = true;
  t.equal(queue.pushControl('pong'), true);
  t.equal(socket.untracked, 1, 'no callback');
  t.equal(queue.inFlight + queue.controlDepth + queue.depth, 0);
  const internal = queue as unknown as { bulk?: unknown; control?: unknown; flight?: unknown };
  t.equal(internal.control, undefined, 'no lane built');
  t.equal(internal.flight, undefined, 'no tracking built');
  socket.syncAck = false;
  queue.pushControl('pong2'); // stays in the socket's buffer: untracked too
  t.equal(queue.pushControl('pong3'), true, 'the socket holds pong2: tracked write-through below the watermark');
  t.same(socket.sent, ['pong', 'pong2', 'pong3']);
  t.equal(queue.inFlight, 1);
  t.equal(queue.controlDepth, 0);
});

t.test('a full bulk lane never drops a control frame; the control lane has its own bound', async (t) => {
  const { socket, queue, drops } = setup({ maxMessages: 3, maxBytes: 1000, writeThroughBelow: 1 });
  queue.push('b0'); // untracked, in the socket
  queue.push('b1'); // tracked
  for (let i = 2; i < 5; i++) t.equal(queue.push(`b${i}`), true);
  t.equal(queue.push('b5'), false, 'bulk full');
  t.equal(queue.push('x'.repeat(990)), false);
  for (let i = 0; i < 3; i++) t.equal(queue.pushControl(`c${i}`), true, `control ${i} fits though bulk is full`);
  t.equal(queue.pushControl('c3'), false, 'control lane full at SEND_QUEUE_MAX messages');
  t.equal(queue.dropped, 3, 'every drop counted');
  t.equal(queue.controlDropped, 1, 'one of them a control frame');
  t.same(drops, [1, 2, 3], 'a control drop extends the run of drops');
  socket.flush(2); // b0 (untracked: no callback) and b1 out
  t.same(socket.sent, ['b0', 'b1', 'c0'], 'control first when the socket drains');
  socket.flush();
  socket.flush();
  socket.flush();
  socket.flush();
  socket.flush();
  socket.flush();
  t.same(socket.sent, ['b0', 'b1', 'c0', 'c1', 'c2', 'b2', 'b3', 'b4']);
});

t.test('control lane byte bound: SEND_QUEUE_MAX x CONTROL_FRAME_BUDGET, never more than SEND_QUEUE_MAX_BYTES', async (t) => {
  const { queue } = setup({ maxMessages: 4, maxBytes: 1 << 20, writeThroughBelow: 1 });
  queue.push('a'); // untracked
  queue.push('b'); // tracked: everything else waits
  t.equal(queue.pushControl('x'.repeat(CONTROL_FRAME_BUDGET * 3)), true, '3 KiB of 4 KiB');
  t.equal(queue.pushControl('é'.repeat(CONTROL_FRAME_BUDGET / 2 + 1)), false, 'measured in UTF-8 bytes: 1026 > 1024 left');
  t.equal(queue.pushControl('y'.repeat(CONTROL_FRAME_BUDGET)), true, 'exactly 4 KiB');
  t.equal(queue.controlBytes, CONTROL_FRAME_BUDGET * 4);
  t.equal(queue.controlDropped, 1);
  const small = setup({ maxMessages: 64, maxBytes: 1024, writeThroughBelow: 1 });
  small.queue.push('a');
  small.queue.push('b');
  t.equal(small.queue.pushControl('z'.repeat(1025)), false, 'capped by SEND_QUEUE_MAX_BYTES');
  t.equal(small.queue.pushControl('z'.repeat(1024)), true);
});

t.test('an accepted control frame does not end a run of bulk drops (a slow consumer stays one)', async (t) => {
  const { queue, slowCount } = setup({ maxMessages: 1, writeThroughBelow: 1, slowConsumerDrops: 3 });
  queue.push('a');
  queue.push('b');
  queue.push('c');
  queue.push('x');
  queue.push('x');
  t.equal(queue.pushControl('pong'), true);
  t.equal(queue.consecutiveDrops, 2, 'the pong did not reset the run');
  queue.push('x');
  t.equal(slowCount(), 1, 'third bulk drop in a row');
});

t.test('fence(): bulk queued before it is not overtaken; bulk queued after it is', async (t) => {
  const { socket, queue } = setup({ maxMessages: 10, writeThroughBelow: 1 });
  queue.push('r0'); // untracked
  queue.push('r1'); // tracked
  queue.push('r2');
  queue.push('r3');
  queue.fence(); // r2, r3 stay ahead of control
  queue.push('live');
  queue.pushControl('pong');
  socket.flush();
  socket.flush();
  socket.flush();
  socket.flush();
  socket.flush();
  t.same(socket.sent, ['r0', 'r1', 'r2', 'r3', 'pong', 'live']);
  t.equal(queue.depth + queue.controlDepth + queue.inFlight, 0);
  // a fence is spent once its bulk is out: the next control frame overtakes again
  queue.push('m0');
  queue.push('m1');
  queue.push('m2');
  queue.pushControl('pong2');
  socket.flush(2);
  t.same(socket.sent.slice(-3), ['m0', 'm1', 'pong2']);
  // clear() lifts a fence with the bulk it guarded
  queue.push('n0');
  queue.fence();
  queue.clear();
  queue.pushControl('pong3');
  socket.flush();
  socket.flush();
  t.equal(socket.sent.at(-1), 'pong3');
  t.notOk(socket.sent.includes('n0'));
});

t.test('pushFinal discards both lanes and goes first', async (t) => {
  const { socket, queue } = setup({ maxMessages: 10, writeThroughBelow: 1 });
  queue.push('a');
  queue.push('b');
  queue.push('queued');
  queue.pushControl('pong');
  t.equal(queue.pushFinal('kicked'), true);
  t.equal(queue.depth + queue.controlDepth, 0);
  socket.flush();
  socket.flush();
  t.same(socket.sent, ['a', 'b', 'kicked'], 'kicked is the last frame, nothing queued follows it');
});

t.test('oldestPendingSince: a control frame written ahead of older bulk does not hide it', async (t) => {
  const { socket, queue, clock } = setup({ maxMessages: 10, writeThroughBelow: 1 });
  clock.now = 1000;
  queue.push('a'); // untracked
  clock.now = 1100;
  queue.push('b'); // tracked
  clock.now = 2000;
  queue.push('old-bulk'); // queued
  clock.now = 5000;
  queue.pushControl('pong'); // queued
  socket.flush(1); // a out
  t.equal(queue.oldestPendingSince(), 1000, 'untracked a: the buffer has not been empty since');
  socket.flush(1); // b out: pong then old-bulk handed over? one at a time: the watermark is 1
  t.same(socket.sent, ['a', 'b', 'pong'], 'the pong goes first');
  t.equal(queue.oldestPendingSince(), 2000, 'old-bulk still queued');
  socket.flush(1); // pong out, old-bulk handed over
  t.equal(queue.oldestPendingSince(), 2000, 'old-bulk in the socket');
  queue.pushControl('pong2'); // queued behind old-bulk in flight: none waits but the socket is busy
  clock.now = 6000;
  t.equal(queue.oldestPendingSince(), 2000);
  socket.flush();
  socket.flush();
  t.equal(queue.oldestPendingSince(), undefined);

  // Both written before either is out: the in-flight head (the pong) carries the older push.
  const two = setup({ maxMessages: 10, maxBytes: 1 << 20, writeThroughBelow: 1000 });
  two.clock.now = 100;
  two.queue.push('x'.repeat(2000)); // untracked, over the watermark
  two.queue.push('tracked'); // tracked
  two.clock.now = 200;
  two.queue.push('old-bulk');
  two.clock.now = 300;
  two.queue.pushControl('pong');
  two.socket.flush(2); // the big one and 'tracked' out: pong and old-bulk both handed over
  t.same(two.socket.sent.slice(2), ['pong', 'old-bulk']);
  t.equal(two.queue.inFlight, 2);
  t.equal(two.queue.oldestPendingSince(), 200, 'old-bulk, written after the pong, is pending since 200');
  two.socket.flush(1);
  t.equal(two.queue.oldestPendingSince(), 200);
  two.socket.flush(1);
  t.equal(two.queue.oldestPendingSince(), undefined);
});

t.test('both lanes: order within each lane under random interleavings, no stall, bounded', async (t) => {
  let seed = 7;
  const rand = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 4294967296;
  for (let round = 0; round < 20; round++) {
    const { socket, queue } = setup({ maxMessages: 8, maxBytes: 400, writeThroughBelow: 64 });
    const bulk: string[] = [];
    const control: string[] = [];
    let stalls = 0;
    let overtook = 0;
    for (let i = 0; i < 3000; i++) {
      const op = rand();
      if (op < 0.45) {
        const msg = `b${i}:` + 'a'.repeat(Math.floor(rand() * 40));
        if (queue.push(msg)) bulk.push(msg);
      } else if (op < 0.6) {
        const msg = `c${i}`;
        const bulkWaiting = queue.depth;
        if (queue.pushControl(msg)) {
          control.push(msg);
          if (bulkWaiting > 0) overtook++;
        }
      } else if (op < 0.85) socket.flush(Math.floor(rand() * 4));
      else if (op < 0.95) socket.syncAck = !socket.syncAck;
      else socket.external = rand() < 0.5 ? 0 : Math.floor(rand() * 200);
      if (queue.depth + queue.controlDepth > 0 && queue.inFlight === 0) stalls++;
      if (queue.controlDepth > 8) t.fail('control lane over its bound');
    }
    socket.external = 0;
    socket.flush();
    t.same(
      socket.sent.filter((m) => m.startsWith('b')),
      bulk,
      `round ${round}: bulk in push order`,
    );
    t.same(
      socket.sent.filter((m) => m.startsWith('c')),
      control,
      `round ${round}: control in push order`,
    );
    t.ok(overtook > 0, 'control frames were pushed while bulk waited');
    t.equal(socket.reentrantSends, 0);
    t.equal(stalls, 0, 'queued messages always have a callback coming');
    t.equal(queue.depth + queue.bytes + queue.controlDepth + queue.controlBytes + queue.inFlight, 0, 'fully drained');
  }
});
