/** StatsExchange over in-process buses: answers gathered, silent nodes missing, never waited for. */
import t from 'tap';
import { MemoryBus, MemoryBusHub } from '../../src/stores/memory/memory-bus.ts';
import { StatsExchange } from '../../src/cluster/stats-exchange.ts';

async function node(hub: MemoryBusHub, nodeId: string, answers = true) {
  const bus = new MemoryBus(hub);
  const exchange = new StatsExchange<{ nodeId: string; connections: number }>({ bus, nodeId, collect: async () => ({ nodeId, connections: nodeId.length }) });
  await bus.subscribe(nodeId, (envelope) => {
    if (answers) exchange.onMessage(envelope);
  });
  return exchange;
}

t.test('gathers every live node and lists the silent one as missing', async (t) => {
  const hub = new MemoryBusHub();
  const a = await node(hub, 'a');
  await node(hub, 'bb');
  await node(hub, 'frozen', false);
  const started = Date.now();
  const result = await a.gather(['a', 'bb', 'frozen'], 300);
  t.same([...result.nodes.keys()].sort(), ['a', 'bb']);
  t.same(result.missing, ['frozen']);
  t.ok(Date.now() - started < 1000, 'returns after the timeout, not later');
  const quick = Date.now();
  const full = await a.gather(['a', 'bb'], 5000);
  t.same([...full.nodes.keys()].sort(), ['a', 'bb']);
  t.ok(Date.now() - quick < 1000, 'returns as soon as everyone answered');
});

t.test('with the node list unknown, collects what arrives within the timeout', async (t) => {
  const hub = new MemoryBusHub();
  const a = await node(hub, 'a');
  await node(hub, 'b');
  const result = await a.gather(null, 200);
  t.same([...result.nodes.keys()].sort(), ['a', 'b']);
  t.same(result.missing, []);
});

t.test('a single node answers for itself without asking', async (t) => {
  const a = await node(new MemoryBusHub(), 'solo');
  const result = await a.gather(['solo'], 5000);
  t.same([...result.nodes.keys()], ['solo']);
});
