import t from 'tap';
import { SortedList, compareCodePoints } from '../../src/online/sorted-list.ts';
import { random } from './online-store.contract-helpers.ts';

t.test('compareCodePoints is UTF-8 byte order', async (t) => {
  const samples = ['', 'a', 'ab', 'b', 'Z', '\u00e9', '\ud7ff', '\ue000', '\uffff', '\u{10000}', '\u{1f600}', 'a\u{1f600}', 'a\uffff'];
  for (const a of samples) {
    for (const b of samples) {
      const expected = Math.sign(Buffer.compare(Buffer.from(a), Buffer.from(b)));
      if (Math.sign(compareCodePoints(a, b)) !== expected) t.fail(`${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
    }
  }
  t.pass('all pairs agree');
});

t.test('SortedList matches a sorted array under random inserts and deletes', async (t) => {
  const rand = random(7);
  const list = new SortedList<number>((a, b) => a - b);
  const model = new Set<number>();
  for (let i = 0; i < 20_000; i++) {
    const value = Math.floor(rand() * 5000);
    if (rand() < 0.6) {
      if (list.insert(value) === model.has(value)) t.fail(`insert ${value}`);
      model.add(value);
    } else {
      if (list.delete(value) !== model.has(value)) t.fail(`delete ${value}`);
      model.delete(value);
    }
  }
  const sorted = [...model].sort((a, b) => a - b);
  t.equal(list.size, sorted.length);
  t.same([...list.valuesAfter()], sorted);
  for (const after of [-1, 0, 17, 2500, 4999, 5000]) {
    t.same([...list.valuesAfter(after)], sorted.filter((v) => v > after), `after ${after}`);
  }
});
