import t from 'tap';
import { MemoryBus, MemoryBusHub } from '../../../src/stores/memory/memory-bus.ts';
import { attach, barrier, runBusContract } from './bus.contract.ts';

runBusContract(t, 'memory', async (_t, n) => {
  const hub = new MemoryBusHub();
  return Array.from({ length: n }, () => new MemoryBus(hub));
});

t.test('memory: a node id is attached once per hub; a closed node frees it', async (t) => {
  const hub = new MemoryBusHub();
  const first = new MemoryBus(hub);
  const second = new MemoryBus(hub);
  await first.subscribe('A', () => {});
  await t.rejects(
    second.subscribe('A', () => {}),
    /already attached/,
  );
  await first.close();
  const [again, sender] = await attach([new MemoryBus(hub), new MemoryBus(hub)], ['A', 'S']);
  await first.close(); // a stale close must not detach the new owner of the id
  await sender!.bus.publish('A', { kind: 'deliver', userId: 'u', frame: 'x' });
  await barrier(sender!, [again!]);
  t.equal(again!.got.length, 1, 'the new node A receives');
});

t.test('memory: the receiver gets a copy, and counters move', async (t) => {
  const hub = new MemoryBusHub();
  const [a, b] = await attach([new MemoryBus(hub), new MemoryBus(hub)], ['A', 'B']);
  const message = { kind: 'deliver' as const, userId: 'u', frame: 'x' };
  await a!.bus.publish('B', message);
  await a!.bus.broadcast({ kind: 'broadcast', frame: 'y' });
  await barrier(a!, [b!]);
  t.not(b!.got[0]?.message, message, 'not the sender object');
  t.strictSame(b!.got[0]?.message, message);
  t.equal((a!.bus as MemoryBus).published, 4, 'two messages + the barrier markers (node channel, broadcast)');
  t.equal((b!.bus as MemoryBus).received, 4);
});
