/**
 * SmallMap (src/stores/memory/small-map.ts) against a real Map: the same random sequence of sets and
 * deletes on both must leave the same contents after every step, across the inline entry and
 * the overflow map (few keys, so every case of moving between them comes up).
 */
import t from 'tap';
import { SmallMap } from '../../src/stores/memory/small-map.ts';

const contents = (entries: Iterable<[string, number]>) => [...entries].sort(([a], [b]) => a.localeCompare(b));

t.test('behaves like a Map under random sets and deletes', async (t) => {
  let seed = 7;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const small = new SmallMap<number>();
  const real = new Map<string, number>();
  let mismatches = 0;
  for (let step = 0; step < 5000; step++) {
    const key = `node-${Math.floor(random() * 4)}`;
    if (random() < 0.6) {
      small.set(key, step);
      real.set(key, step);
    } else {
      if (small.delete(key) !== real.delete(key)) mismatches++;
    }
    if (JSON.stringify(contents(small)) !== JSON.stringify(contents(real))) mismatches++;
    for (const k of ['node-0', 'node-1', 'node-2', 'node-3']) if (small.get(k) !== real.get(k)) mismatches++;
    if (JSON.stringify([...small.keys()].sort()) !== JSON.stringify([...real.keys()].sort())) mismatches++;
  }
  t.equal(mismatches, 0, 'same delete answers, contents, lookups and keys as a Map after every step');
});

t.test('of, and Object.fromEntries as the store uses it', async (t) => {
  const map = SmallMap.of('a', 1);
  t.same(Object.fromEntries(map), { a: 1 });
  map.set('b', 2).set('a', 3);
  t.same(Object.fromEntries(map), { a: 3, b: 2 });
  t.equal(map.delete('a'), true);
  t.equal(map.delete('a'), false, 'a second delete finds nothing');
  t.same(Object.fromEntries(map), { b: 2 });
  map.set('c', 4);
  t.same(Object.fromEntries(map), { b: 2, c: 4 }, 'a new key takes the free inline place');
  t.equal(map.get('b'), 2);
});
