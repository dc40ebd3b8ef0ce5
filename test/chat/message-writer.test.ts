/**
 * The batching of stored messages, on a store whose transactions the test completes by hand
 * (what a slow database looks like): one batch in flight, what arrives meanwhile goes together in
 * the next, seqs handed back in order, a failed batch fails only its own messages, the waiting
 * bound refuses at once; messages numbered before are tried again before they fail. The database side itself is test/chat/message-store.test.ts.
 */
import t from 'tap';
import { MessageWriter } from '../../src/chat/message-writer.ts';
import type { NewMessage, StoredMessage } from '../../src/chat/message-store.ts';

/** A store whose `append` calls wait until the test settles them; seqs count per conversation. */
function handStore() {
  const calls: Array<{ messages: NewMessage[]; settle: (ok: boolean) => void }> = [];
  /** appendNumbered calls: settled with the per-message answer, or false = the database failed. */
  const numberedCalls: Array<{ messages: StoredMessage[]; settle: (answer: boolean[] | false) => void }> = [];
  const last = new Map<string, number>();
  return {
    calls,
    numberedCalls,
    appendNumbered(messages: readonly StoredMessage[]): Promise<boolean[]> {
      return new Promise((resolve, reject) => {
        numberedCalls.push({ messages: [...messages], settle: (answer) => (answer ? resolve(answer) : reject(new Error('database down'))) });
      });
    },
    append(messages: readonly NewMessage[]): Promise<number[]> {
      return new Promise((resolve, reject) => {
        calls.push({
          messages: [...messages],
          settle: (ok) => {
            if (!ok) return reject(new Error('database down'));
            resolve(
              messages.map((m) => {
                const seq = (last.get(m.conversationId) ?? 0) + 1;
                last.set(m.conversationId, seq);
                return seq;
              }),
            );
          },
        });
      });
    },
  };
}

const message = (n: number, conversationId = 'group:g'): NewMessage => ({ conversationId, id: `m${n}`, sender: 'alice', content: String(n), sentAt: n });
const tick = () => new Promise((resolve) => setImmediate(resolve));
/** Past a retry's wait of 0 ms (a timer, later than setImmediate). */
const afterRetryWait = () => new Promise((resolve) => setTimeout(resolve, 5));

t.test('one batch in flight; what arrives meanwhile is written together next, in order', async (t) => {
  const store = handStore();
  const writer = new MessageWriter({ store, maxBatch: 100, maxPending: 1000 });
  const first = writer.write(message(1))!;
  await tick();
  const later = [2, 3, 4].map((n) => writer.write(message(n))!);
  await tick();
  t.equal(store.calls.length, 1, 'the second batch waits for the first');
  t.equal(writer.pending, 4);
  store.calls[0]!.settle(true);
  t.equal(await first, 1);
  await tick();
  t.same(
    store.calls[1]!.messages.map((m) => m.id),
    ['m2', 'm3', 'm4'],
    'one transaction for the three',
  );
  store.calls[1]!.settle(true);
  t.same(await Promise.all(later), [2, 3, 4], 'seqs in the order written');
  t.equal(writer.batches, 2);
  t.equal(writer.stored, 4);
});

t.test('batches are cut at maxBatch', async (t) => {
  const store = handStore();
  const writer = new MessageWriter({ store, maxBatch: 2, maxPending: 1000 });
  const all = [1, 2, 3, 4, 5].map((n) => writer.write(message(n))!);
  for (let i = 0; i < 3; i++) {
    await tick();
    store.calls[i]!.settle(true);
  }
  t.same(await Promise.all(all), [1, 2, 3, 4, 5]);
  t.same(
    store.calls.map((c) => c.messages.length),
    [1, 2, 2],
    'the first alone (nothing was waiting), then two at most',
  );
});

t.test('a failed batch rejects its own messages only; the next batch is written', async (t) => {
  const store = handStore();
  const writer = new MessageWriter({ store, maxBatch: 100, maxPending: 1000 });
  const lost = writer.write(message(1))!;
  await tick();
  const next = writer.write(message(2))!;
  store.calls[0]!.settle(false);
  await t.rejects(lost, /database down/);
  await tick();
  store.calls[1]!.settle(true);
  t.equal(await next, 1, 'the failed one took no seq');
  t.equal(writer.failedBatches, 1);
});

t.test('over maxPending, write refuses at once', async (t) => {
  const store = handStore();
  const writer = new MessageWriter({ store, maxBatch: 100, maxPending: 2 });
  const a = writer.write(message(1));
  const b = writer.write(message(2));
  t.equal(writer.write(message(3)), undefined, 'refused: two are waiting');
  store.calls[0]!.settle(true);
  await a;
  await tick();
  store.calls[1]!.settle(true);
  await b;
  const d = writer.write(message(4));
  t.ok(d, 'taken again once they are written');
  await tick();
  store.calls[2]!.settle(true);
  t.equal(await d, 3);
  await writer.flushed();
});

t.test('numbered messages: their own statement in the same batch; a failed try is repeated, the answer per message passed on', async (t) => {
  const store = handStore();
  const writer = new MessageWriter({ store, maxBatch: 100, maxPending: 1000, retryDelaysMs: [0, 0] });
  const first = writer.write(message(1))!;
  await tick();
  const numbered = [writer.writeNumbered({ ...message(2, 'dm:a:b'), seq: 7 })!, writer.writeNumbered({ ...message(3, 'dm:a:b'), seq: 8 })!];
  const plain = writer.write(message(4))!;
  store.calls[0]!.settle(true);
  t.equal(await first, 1);
  await tick();
  t.equal(store.numberedCalls.length, 1, 'the numbered ones of the batch in one statement');
  t.same(
    store.numberedCalls[0]!.messages.map((m) => m.seq),
    [7, 8],
  );
  store.numberedCalls[0]!.settle(false);
  await afterRetryWait();
  t.equal(store.numberedCalls.length, 2, 'tried again after the failure');
  t.equal(store.calls.length, 1, 'the batch waits for its numbered part');
  store.numberedCalls[1]!.settle([true, false]);
  t.same(await Promise.all(numbered), [true, false], 'durable; the seq held another message');
  await tick();
  store.calls[1]!.settle(true);
  t.equal(await plain, 2, 'then the ones the database numbers');
  t.equal(writer.stored, 3, 'the one whose seq was taken is not counted');
  t.equal(writer.failedBatches, 1);
});

t.test('numbered messages fail once every try failed; full refuses them like the others', async (t) => {
  const store = handStore();
  const writer = new MessageWriter({ store, maxBatch: 100, maxPending: 1, retryDelaysMs: [0] });
  const lost = writer.writeNumbered({ ...message(1, 'dm:a:b'), seq: 1 })!;
  t.ok(writer.full);
  t.equal(writer.writeNumbered({ ...message(2, 'dm:a:b'), seq: 2 }), undefined, 'refused: one is waiting');
  await tick();
  store.numberedCalls[0]!.settle(false);
  await afterRetryWait();
  store.numberedCalls[1]!.settle(false);
  await t.rejects(lost, /database down/);
  t.equal(store.numberedCalls.length, 2, 'the first try and one retry');
  t.notOk(writer.full);
  await writer.flushed();
});

t.test('numbered messages go at most once per linger, together; a database-numbered one and flushed() do not wait', async (t) => {
  const store = handStore();
  const writer = new MessageWriter({ store, maxBatch: 100, maxPending: 1000, numberedLingerMs: 40 });
  const numbered = (n: number) => writer.writeNumbered({ ...message(n, 'dm:a:b'), seq: n })!;
  const first = numbered(1);
  t.equal(store.numberedCalls.length, 1, 'after a quiet spell, at once');
  const next = [numbered(2), numbered(3)];
  store.numberedCalls[0]!.settle([true]);
  t.equal(await first, true);
  await tick();
  t.equal(store.numberedCalls.length, 1, 'the next transaction waits for the linger');
  await new Promise((resolve) => setTimeout(resolve, 60));
  t.same(
    store.numberedCalls.map((c) => c.messages.length),
    [1, 2],
    'the two that waited, in one transaction',
  );
  store.numberedCalls[1]!.settle([true, true]);
  t.same(await Promise.all(next), [true, true]);
  await tick();
  const lingering = numbered(4);
  await tick();
  t.equal(store.numberedCalls.length, 2, 'lingering again');
  const plain = writer.write(message(5))!;
  t.same(
    store.numberedCalls.at(-1)!.messages.map((m) => m.seq),
    [4],
    'a message the database numbers starts the transaction at once, the numbered one with it',
  );
  store.numberedCalls.at(-1)!.settle([true]);
  await tick();
  store.calls[0]!.settle(true);
  t.equal(await plain, 1);
  t.equal(await lingering, true);
  await tick();
  const last = numbered(6);
  const flushed = writer.flushed();
  await tick();
  t.equal(store.numberedCalls.length, 4, 'flushed() ends the linger');
  store.numberedCalls[3]!.settle([true]);
  t.equal(await last, true);
  await flushed;
});
