/**
 * NodeLifecycle.stop without a server: the last node of a cluster ends every grace period before
 * writing the logouts; a node that still has a live peer leaves them to it. Fakes record the
 * order of the shutdown steps.
 */
import t from 'tap';
import { NodeLifecycle, type NodeLifecycleOptions } from '../../src/gateway/node-lifecycle.ts';
import type { NodeLease } from '../../src/cluster/node-registry.ts';
import { collectingLogger } from '../helpers/core.ts';

const NOW = 1_000_000;
const DEAD_AFTER_MS = 5000;

function lifecycle(listNodes: () => Promise<NodeLease[]>) {
  const steps: string[] = [];
  const log = collectingLogger();
  const step = (name: string) => async () => void steps.push(name);
  const fakes = {
    gateway: {
      heartbeats: { flush: step('heartbeats') },
      logins: { flush: step('logins') },
      loopLag: { stop: () => {} },
    },
    logout: {
      expireGrace: async (until: number) => {
        steps.push(`expireGrace ${until - NOW}`);
        return 0;
      },
      flush: async () => {
        steps.push('flush');
        return 0;
      },
      stop: () => void steps.push('logout stopped'),
    },
    cluster: { leave: step('leave') },
    nodes: { listNodes },
  };
  const options = {
    ...fakes,
    recovery: undefined,
    bus: { onResubscribed: () => () => {} },
    log,
    now: () => NOW,
    nodeId: 'me',
    deadAfterMs: DEAD_AFTER_MS,
    watchdogIntervalMs: 100,
    drainBatch: 10,
    drainIntervalMs: 10,
    shutdownTimeoutMs: 10_000,
  } as unknown as NodeLifecycleOptions;
  return { node: new NodeLifecycle(options), steps, log };
}

const FAR = 10 * 365 * 86_400_000;

t.test('alone (only its own lease, or peers past NODE_DEAD_AFTER_MS): grace periods end now', async (t) => {
  const { node, steps, log } = lifecycle(async () => [
    { nodeId: 'me', lastRenewal: NOW },
    { nodeId: 'gone', lastRenewal: NOW - DEAD_AFTER_MS - 1 },
  ]);
  await node.stop();
  t.same(steps, ['heartbeats', 'logins', `expireGrace ${FAR}`, 'flush', 'logout stopped', 'leave']);
  t.equal(log.messages('last node of the cluster: grace periods end now').length, 1);
});

t.test('a peer renewed exactly NODE_DEAD_AFTER_MS ago is alive: its grace periods are left to it', async (t) => {
  const { node, steps, log } = lifecycle(async () => [
    { nodeId: 'me', lastRenewal: NOW },
    { nodeId: 'peer', lastRenewal: NOW - DEAD_AFTER_MS },
  ]);
  await node.stop();
  t.same(steps, ['heartbeats', 'logins', 'flush', 'logout stopped', 'leave']);
  t.equal(log.messages('last node of the cluster: grace periods end now').length, 0);
});

t.test('the store cannot list the nodes: treated as the last node', async (t) => {
  const { node, steps } = lifecycle(async () => {
    throw new Error('down');
  });
  await node.stop();
  t.same(steps, ['heartbeats', 'logins', `expireGrace ${FAR}`, 'flush', 'logout stopped', 'leave']);
});
