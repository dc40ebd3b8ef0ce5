/**
 * The lease keeper's thread (started by redis-lease-keeper.ts): renews this node's lease every
 * NODE_LEASE_INTERVAL_MS on its own Redis connection, so a main event loop lagging by seconds
 * (10,000 players on a starved CPU) does not get its node reaped while its sockets are alive.
 *
 * It renews only while the main loop shows progress: the main thread bumps a shared counter
 * from a timer, and a counter that has not moved for NODE_STALL_LIMIT_MS means a loop that is
 * stuck, not merely slow; the lease then runs out and the node is reaped as a dead one. A process
 * frozen whole (SIGSTOP) stops this thread too.
 *
 * Each round samples Redis `TIME` just before the renewal (the cluster clock, cluster-clock.ts;
 * the samples go to the main thread's clock as well: the monotonic clock is process-wide) and
 * stamps the lease with it. A fenced renewal (the node was reaped) pauses the keeper until the
 * main thread registered a new generation. Messages: main -> worker `{ type: 'generation' }`,
 * `{ type: 'stop' }`; worker -> main `ready`, `renewal` (outcome + sample), `stalled`.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { ClusterClock, monotonicMs, readServerClock, type ClockSample } from '../../cluster/cluster-clock.ts';
import { StallGuard, type LeaseRenewalOutcome } from '../../cluster/lease-keeper.ts';
import { createRedisClient, serverTime, type RedisConnectionSettings } from './redis-connection.ts';
import { createRedisStores } from './redis-stores.ts';

/** What the main thread hands the worker (plain data). */
export interface LeaseWorkerData {
  connection: RedisConnectionSettings;
  keyPrefix: string;
  /** REDIS_BUCKETS: the lease has a copy in every bucket. */
  buckets: number;
  nodeId: string;
  generation: string;
  intervalMs: number;
  stallLimitMs: number;
  lapseAfterMs: number;
  /** Int32Array[1] bumped by the main loop. */
  progress: SharedArrayBuffer;
}

export type LeaseWorkerMessage =
  | { type: 'ready' }
  | { type: 'renewal'; outcome: LeaseRenewalOutcome; sample?: ClockSample }
  | { type: 'stalled'; stalledForMs: number };

export type LeaseMainMessage = { type: 'generation'; generation: string } | { type: 'stop' };

const port = parentPort;
if (!port) throw new Error('lease-keeper-worker.ts runs as a worker thread');
const data = workerData as LeaseWorkerData;
const post = (message: LeaseWorkerMessage) => port.postMessage(message);

const progress = new Int32Array(data.progress);
const redis = createRedisClient(data.connection);
// Failures reach the main thread as failed renewals; ioredis reconnects on its own.
redis.on('error', () => {});
const { nodes } = createRedisStores({ redis, keyPrefix: data.keyPrefix, buckets: data.buckets });
const readRedisTime = serverTime(redis, data.keyPrefix);
const clock = new ClusterClock();
const guard = new StallGuard(data.stallLimitMs);
let generation = data.generation;
// '' = the node is fenced: wait for the new generation.
let paused = generation === '';
let busy = false;
let stallReported = false;

async function renew(): Promise<void> {
  const mono = monotonicMs();
  if (!guard.progressing(Atomics.load(progress, 0), mono)) {
    if (!stallReported) post({ type: 'stalled', stalledForMs: Math.round(guard.stalledFor(mono)) });
    stallReported = true;
    return;
  }
  stallReported = false;
  let sample: ClockSample | undefined;
  try {
    sample = await readServerClock(readRedisTime);
    clock.addSample(sample);
    const at = clock.now();
    const result = await nodes.renewLease(data.nodeId, at, generation, data.lapseAfterMs);
    if (result.fenced) paused = true;
    post({ type: 'renewal', outcome: { ok: true, at, ...result }, sample });
  } catch (error) {
    post({ type: 'renewal', outcome: { ok: false, at: clock.now(), error: (error as Error).message }, ...(sample ? { sample } : {}) });
  }
}

const timer = setInterval(() => {
  if (paused || busy) return;
  busy = true;
  void renew().finally(() => {
    busy = false;
  });
}, data.intervalMs);

port.on('message', (message: LeaseMainMessage) => {
  if (message.type === 'generation') {
    generation = message.generation;
    paused = false;
  } else if (message.type === 'stop') {
    clearInterval(timer);
    paused = true;
    redis.disconnect();
    port.close();
  }
});

redis.connect().then(
  () => post({ type: 'ready' }),
  // Not reachable yet: ioredis keeps retrying; renewals fail (and say so) until it connects.
  () => post({ type: 'ready' }),
);
