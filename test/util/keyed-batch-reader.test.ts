/**
 * KeyedBatchReader: one read in flight; the keys asked for meanwhile go together in the next
 * (at most maxKeys a read), callers of the same key share its answer, a key the read does not
 * answer gets the fallback, and a failed read rejects its own callers only.
 */
import t from 'tap';
import { KeyedBatchReader } from '../../src/util/keyed-batch-reader.ts';

function handReads() {
  const reads: Array<{ keys: string[]; settle: (answer: Map<string, number> | Error) => void }> = [];
  const readMany = (keys: string[]) =>
    new Promise<Map<string, number>>((resolve, reject) =>
      reads.push({ keys, settle: (answer) => (answer instanceof Error ? reject(answer) : resolve(answer)) }),
    );
  return { reads, readMany };
}
const tick = () => new Promise((resolve) => setImmediate(resolve));

t.test('one read in flight; what is asked meanwhile goes together next; shared keys; fallback', async (t) => {
  const { reads, readMany } = handReads();
  const reader = new KeyedBatchReader(readMany, -1, 100);
  const first = reader.read('a');
  const later = [reader.read('b'), reader.read('c'), reader.read('b')];
  await tick();
  t.same(
    reads.map((r) => r.keys),
    [['a']],
    'the others wait for the first read',
  );
  reads[0]!.settle(new Map([['a', 1]]));
  t.equal(await first, 1);
  await tick();
  t.same(reads[1]!.keys, ['b', 'c'], 'one read for the keys asked meanwhile, each once');
  reads[1]!.settle(new Map([['b', 2]]));
  t.same(await Promise.all(later), [2, -1, 2], 'c unanswered: the fallback; both callers of b get its answer');
});

t.test('at most maxKeys a read; a failure rejects its own callers only', async (t) => {
  const { reads, readMany } = handReads();
  const reader = new KeyedBatchReader(readMany, 0, 2);
  const first = reader.read('x');
  const rest = ['p', 'q', 'r'].map((key) => reader.read(key));
  await tick();
  reads[0]!.settle(new Error('database down'));
  await t.rejects(first, /database down/);
  await tick();
  t.same(reads[1]!.keys, ['p', 'q'], 'cut at maxKeys');
  reads[1]!.settle(new Map([['p', 7]]));
  await tick();
  t.same(reads[2]!.keys, ['r']);
  reads[2]!.settle(new Map([['r', 9]]));
  t.same(await Promise.all(rest), [7, 0, 9]);
});
