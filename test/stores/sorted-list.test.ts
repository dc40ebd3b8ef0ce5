import t from 'tap';
import { SortedList } from '../../src/stores/memory/sorted-list.ts';
import { compareCodePoints } from '../../src/presence/code-point-order.ts';
import { random } from './contract-helpers.ts';

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
    t.same(
      [...list.valuesAfter(after)],
      sorted.filter((v) => v > after),
      `after ${after}`,
    );
  }
});

t.test('SortedList valuesFrom and countBetween match a sorted array across many buckets', async (t) => {
  const rand = random(11);
  const list = new SortedList<number>((a, b) => a - b);
  const model = new Set<number>();
  // Enough values for several buckets (a bucket splits above 1,024 values), with holes.
  for (let i = 0; i < 30_000; i++) {
    const value = Math.floor(rand() * 8000);
    if (rand() < 0.7) {
      list.insert(value);
      model.add(value);
    } else {
      list.delete(value);
      model.delete(value);
    }
  }
  const sorted = [...model].sort((a, b) => a - b);
  const probes = [-5, 0, 1, 1023, 1024, 2047, 3999, 4000, 7999, 8000, 9000, ...Array.from({ length: 40 }, () => Math.floor(rand() * 8200))];
  for (const from of probes) {
    t.same([...list.valuesFrom(from)].slice(0, 5), sorted.filter((v) => v >= from).slice(0, 5), `from ${from}`);
    t.equal([...list.valuesFrom(from)].length, sorted.filter((v) => v >= from).length, `from ${from}: all of them`);
    for (const to of [from - 1, from, from + 1, from + 700, from + 5000]) {
      const expected = sorted.filter((v) => v >= from && v < to).length;
      if (list.countBetween(from, to) !== expected) t.fail(`countBetween(${from}, ${to}) = ${list.countBetween(from, to)}, wanted ${expected}`);
    }
  }
  t.equal(list.countBetween(-1, 10_000), sorted.length, 'the whole list');
  t.equal(new SortedList<number>((a, b) => a - b).countBetween(0, 10), 0, 'an empty list');
  t.same([...new SortedList<number>((a, b) => a - b).valuesFrom(3)], []);
});
