/**
 * prom-client's default Node.js metrics (event-loop lag, heap, GC, CPU, file descriptors) are
 * facts of the process, not of a gateway instance, and collecting them starts process-wide
 * monitors (an event-loop delay histogram, a GC observer) that are never stopped. So they live
 * in one registry per process, created on first use and merged into each app's exposition;
 * several apps in one test process share it instead of each starting its own monitors.
 */
import { collectDefaultMetrics, Registry } from 'prom-client';

let processRegistry: Registry | undefined;

export function processMetricsRegistry(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}
