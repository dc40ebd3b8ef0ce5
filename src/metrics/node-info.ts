/** `gatehouse_node_info{node_id,version} 1` and the node's start time, for joins and uptime. */
import { Gauge, type Registry } from 'prom-client';
import { PACKAGE_VERSION } from '../version.ts';

export function registerNodeInfo(registry: Registry, nodeId: string, startedAt: number): void {
  const info = new Gauge({
    name: 'gatehouse_node_info',
    help: 'Always 1; labels name this gateway node and its version',
    labelNames: ['node_id', 'version'],
    registers: [registry],
  });
  info.set({ node_id: nodeId, version: PACKAGE_VERSION }, 1);
  const started = new Gauge({
    name: 'gatehouse_node_start_time_seconds',
    help: 'When this gateway node started, seconds since the Unix epoch',
    registers: [registry],
  });
  started.set(startedAt / 1000);
}
