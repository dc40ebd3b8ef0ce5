/**
 * The main thread's side of the lease keeper (cluster/lease-keeper.ts): starts the worker thread
 * (lease-keeper-worker.ts) with plain connection settings, bumps the shared progress counter from
 * a timer (the proof that the main loop turns), collects the worker's renewal outcomes for
 * ClusterMembership, and feeds its Redis TIME samples to the cluster clock.
 *
 * A worker that crashes is logged and started again after a second; meanwhile `active` is false
 * and the membership renews on the main loop, so a node serving players is never left unrenewed.
 */
import { Worker } from 'node:worker_threads';
import type { ClusterClock } from '../../cluster/cluster-clock.ts';
import type { LeaseKeeper, LeaseRenewalOutcome } from '../../cluster/lease-keeper.ts';
import type { CoreLogger } from '../../core-logger.ts';
import type { RedisConnectionSettings } from './redis-connection.ts';
import type { LeaseMainMessage, LeaseWorkerData, LeaseWorkerMessage } from './lease-keeper-worker.ts';

export interface RedisLeaseKeeperOptions {
  connection: RedisConnectionSettings;
  keyPrefix: string;
  /** REDIS_BUCKETS (every bucket holds a copy of the lease); default 1. */
  buckets?: number;
  nodeId: string;
  intervalMs: number;
  /** NODE_STALL_LIMIT_MS: no renewal once the main loop made no progress for this long. */
  stallLimitMs: number;
  /** A renewal this long after the previous lease (or with none) records a lapse in the store (`lapseAfterMs`). */
  lapseAfterMs: number;
  clock: ClusterClock;
  log: CoreLogger;
  /** Delay before a crashed worker is started again (default 1000 ms). */
  restartDelayMs?: number;
}

/**
 * Compiled (dist/, `node dist/server.js`), the worker is a plain .js file started as it is, with
 * none of the process's flags. From source (tests, `npm run dev`), it is a .ts file: the process
 * runs under `--import tsx`, which worker threads inherit as an option, but on Node 20 the loader
 * hooks it registers stay on the main thread, so the worker registers tsx's hooks itself, then
 * loads the file.
 */
const COMPILED = import.meta.url.endsWith('.js');
const WORKER_SOURCE: URL | string = COMPILED
  ? new URL('./lease-keeper-worker.js', import.meta.url)
  : `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))})
  .then(({ register }) => { register(); return import(${JSON.stringify(new URL('./lease-keeper-worker.ts', import.meta.url).href)}); })`;

/**
 * The thread renews one lease a second and allocates next to nothing: V8's default young
 * generation (16 MB semi-spaces on Node 24) would cost ~14 MB of RSS here for no gain (measured
 * with v8.getHeapSpaceStatistics on an idle node).
 */
const WORKER_LIMITS = { maxYoungGenerationSizeMb: 2, maxOldGenerationSizeMb: 32 };

/** Outcomes kept while nobody takes them (a main loop stalled for minutes). */
const MAX_OUTCOMES = 1000;

export class RedisLeaseKeeper implements LeaseKeeper {
  private worker: Worker | undefined;
  private ready = false;
  private paused = true;
  private stopped = false;
  private generation = '';
  private outcomes: LeaseRenewalOutcome[] = [];
  private readonly readyWaiters = new Set<() => void>();
  private readonly progress = new SharedArrayBuffer(4);
  private progressTimer: NodeJS.Timeout | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  /** Worker restarts after a crash (tests, logs). */
  restarts = 0;

  constructor(private readonly options: RedisLeaseKeeperOptions) {}

  get active(): boolean {
    return this.ready && !this.paused && !this.stopped;
  }

  /**
   * Starts the thread, paused, ahead of `start`: loading it takes a while on a busy host, and
   * until it is ready the main loop renews (the window in which a lagging loop could be reaped).
   */
  prepare(): void {
    if (!this.worker && !this.stopped) this.spawn();
  }

  start(generation: string): void {
    if (this.stopped) return;
    this.generation = generation;
    this.paused = false;
    if (!this.progressTimer) {
      const counter = new Int32Array(this.progress);
      // Several beats per bound, cheap: one atomic add.
      const beatMs = Math.max(10, Math.min(100, Math.floor(this.options.intervalMs / 2)));
      this.progressTimer = setInterval(() => Atomics.add(counter, 0, 1), beatMs);
      this.progressTimer.unref();
    }
    if (this.worker) this.send({ type: 'generation', generation });
    else if (!this.restartTimer) this.spawn();
  }

  whenReady(timeoutMs: number): Promise<boolean> {
    this.prepare();
    if (this.ready) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.readyWaiters.delete(done);
        resolve(false);
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        resolve(true);
      };
      this.readyWaiters.add(done);
    });
  }

  take(): LeaseRenewalOutcome[] {
    const outcomes = this.outcomes;
    this.outcomes = [];
    return outcomes;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.progressTimer);
    clearTimeout(this.restartTimer);
    const worker = this.worker;
    this.worker = undefined;
    if (!worker) return;
    this.send({ type: 'stop' }, worker);
    await worker.terminate();
  }

  private send(message: LeaseMainMessage, worker = this.worker): void {
    worker?.postMessage(message);
  }

  private spawn(): void {
    const { connection, keyPrefix, nodeId, intervalMs, stallLimitMs, lapseAfterMs, log } = this.options;
    const buckets = this.options.buckets ?? 1;
    // '' keeps a restarted thread paused while the node is fenced.
    const generation = this.paused ? '' : this.generation;
    const workerData: LeaseWorkerData = { connection, keyPrefix, buckets, nodeId, generation, intervalMs, stallLimitMs, lapseAfterMs, progress: this.progress };
    const worker = new Worker(WORKER_SOURCE, {
      eval: !COMPILED,
      workerData,
      name: 'lease-keeper',
      resourceLimits: WORKER_LIMITS,
      ...(COMPILED ? { execArgv: [] } : {}),
    });
    this.worker = worker;
    this.ready = false;
    const spawnedAt = performance.now();
    worker.unref();
    worker.on('message', (message: LeaseWorkerMessage) => {
      if (message.type === 'ready') log.info({ nodeId, ms: Math.round(performance.now() - spawnedAt) }, 'lease keeper thread ready');
      this.onMessage(message);
    });
    worker.on('error', (error) => log.error({ nodeId, err: error.message }, 'lease keeper thread failed'));
    worker.on('exit', (code) => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      this.ready = false;
      if (this.stopped) return;
      this.restarts++;
      log.error({ nodeId, code }, 'lease keeper thread exited: the main loop renews the lease until it is back');
      this.restartTimer = setTimeout(() => {
        this.restartTimer = undefined;
        if (!this.stopped) this.spawn();
      }, this.options.restartDelayMs ?? 1000);
      this.restartTimer.unref();
    });
  }

  private onMessage(message: LeaseWorkerMessage): void {
    const { log, nodeId, clock } = this.options;
    switch (message.type) {
      case 'ready':
        this.ready = true;
        for (const done of this.readyWaiters) done();
        this.readyWaiters.clear();
        // A generation set while the thread was starting.
        if (!this.paused) this.send({ type: 'generation', generation: this.generation });
        return;
      case 'renewal':
        if (message.sample) clock.addSample(message.sample);
        if (message.outcome.ok && message.outcome.fenced) this.paused = true;
        this.outcomes.push(message.outcome);
        if (this.outcomes.length > MAX_OUTCOMES) this.outcomes.splice(0, this.outcomes.length - MAX_OUTCOMES);
        return;
      case 'stalled':
        log.error(
          { nodeId, stalledForMs: message.stalledForMs, stallLimitMs: this.options.stallLimitMs },
          'main event loop stalled past NODE_STALL_LIMIT_MS: lease renewal stops (the node will be reaped)',
        );
        return;
    }
  }
}
