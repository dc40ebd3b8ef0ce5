/**
 * The gateway's side of the embedded database: takes the data directory's lock, starts the
 * PGlite thread (pglite-thread.ts), reports progress while a first start creates the database,
 * and opens wire-protocol connections to it for `pg`.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { MessageChannel, Worker, type TransferListItem } from 'node:worker_threads';
import { extract } from 'tar';
import { lockDataDir, type DataDirLock } from './data-dir-lock.ts';
import { PortSocket } from './port-socket.ts';
import { templatePath } from './template.mjs';
import type { EmbeddedThreadData, FromEmbeddedThread, ToEmbeddedThread } from './thread-messages.ts';

const THREAD_MODULE = new URL('./pglite-thread.mjs', import.meta.url);

/**
 * The thread's own V8 heap holds little (message buffers; PGlite's memory is WebAssembly's):
 * a small young generation keeps its RSS down (~25 MB less, measured).
 */
const THREAD_LIMITS = { maxYoungGenerationSizeMb: 2, maxOldGenerationSizeMb: 64 };

/**
 * Postgres settings for a database of a few small tables on one node. PGlite's defaults are a
 * server's: its 128 MB of shared buffers alone add ~130 MB of RSS at start (measured: 296 MB
 * for a bare PGlite, 153 MB with these); the OS page cache holds these tables just as well.
 */
const POSTGRESQL_CONF = ['shared_buffers=1MB', 'temp_buffers=1MB', 'wal_buffers=64kB'];

/** How often "still creating" is said while a first start runs initdb. */
const PROGRESS_EVERY_MS = 2000;
/** A thread that does not close PGlite in this long is stopped. */
const CLOSE_TIMEOUT_MS = 10_000;

export interface EmbeddedThreadOptions {
  /** Data directory, or `memory://` (no lock: nothing is shared). */
  dir: string;
  log: (message: string) => void;
  /** The template to create a new database from (default templatePath()); false = initdb. */
  template?: string | false;
}

/** Starts a PGlite thread and waits for its first word: `created` / `ready`, or why it failed. */
function startThread(data: EmbeddedThreadData): Promise<{ worker: Worker; ms: number }> {
  // execArgv: [] — not the process's `--import tsx`: the thread is plain JavaScript.
  const worker = new Worker(THREAD_MODULE, { workerData: data, name: 'embedded-database', resourceLimits: THREAD_LIMITS, execArgv: [] });
  return new Promise((resolvePromise, reject) => {
    const done = (error: Error | undefined, ms = 0) => {
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
      if (error) void worker.terminate().finally(() => reject(error));
      else resolvePromise({ worker, ms });
    };
    const onMessage = (message: FromEmbeddedThread) => {
      if (message.type === 'created' || message.type === 'ready') done(undefined, message.ms);
      else if (message.type === 'failed') done(new Error(message.message));
    };
    const onError = (error: Error) => done(error);
    const onExit = (code: number) => done(new Error(`its thread exited (code ${code})`));
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.on('exit', onExit);
  });
}

/**
 * Unpacks the install-time template into the directory, straight to disk: well under a second,
 * and no WebAssembly memory (PGlite's own `loadDataDir` unpacks through it: +110 MB RSS, measured).
 */
async function createFromTemplate(template: string, dir: string, where: string, log: (message: string) => void): Promise<void> {
  const startedAt = performance.now();
  log(`creating the embedded database in ${where} from the template made at install`);
  await extract({ file: template, cwd: dir });
  log(`embedded database created in ${Math.round(performance.now() - startedAt)} ms`);
}

/**
 * initdb, without the install-time template: seconds of WebAssembly, said with a progress line,
 * on a thread ended afterwards (initdb leaves ~500 MB of WebAssembly memory behind).
 */
async function createWithInitdb(data: EmbeddedThreadData, where: string, log: (message: string) => void): Promise<void> {
  log(`creating the embedded database in ${where} (first start, no template from npm install: a few seconds)`);
  const startedAt = performance.now();
  const progress = setInterval(() => {
    log(`still creating the embedded database (${Math.round((performance.now() - startedAt) / 1000)} s)`);
  }, PROGRESS_EVERY_MS);
  try {
    const { ms } = await startThread({ ...data, createOnly: true });
    log(`embedded database created in ${ms} ms`);
  } finally {
    clearInterval(progress);
  }
}

export class EmbeddedThread {
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly worker: Worker,
    private readonly lock: DataDirLock | undefined,
  ) {}

  /**
   * Locks the directory, creates the database there if it is new (from the template, else with
   * initdb) and opens it on the serving thread; resolves once it accepts connections.
   * @throws DataDirLockedError when another live process has the directory; Error when PGlite
   *   cannot open it (the message says why).
   */
  static async start(options: EmbeddedThreadOptions): Promise<EmbeddedThread> {
    const { dir, log } = options;
    const inMemory = dir.startsWith('memory://');
    const where = inMemory ? 'memory' : resolve(dir);
    const lock = inMemory ? undefined : await lockDataDir(dir);
    const data: EmbeddedThreadData = { dir, postgresqlConf: POSTGRESQL_CONF, createOnly: false };
    try {
      if (inMemory || !existsSync(join(dir, 'PG_VERSION'))) {
        const template = options.template ?? templatePath();
        if (template && existsSync(template)) {
          if (inMemory) data.template = template;
          else await createFromTemplate(template, dir, where, log);
        } else if (!inMemory) {
          // (In memory, the serving thread itself runs initdb: nothing to hand over.)
          await createWithInitdb(data, where, log);
        }
      }
      const { worker, ms } = await startThread(data);
      log(`embedded database open in ${ms} ms (${where})`);
      const thread = new EmbeddedThread(worker, lock);
      worker.on('message', (message: FromEmbeddedThread) => {
        if (message.type === 'log') log(message.message);
      });
      worker.on('exit', (code) => {
        if (!thread.closing) log(`embedded database thread exited (code ${code}): database calls fail until the gateway restarts`);
      });
      return thread;
    } catch (error) {
      await lock?.release();
      throw new Error(`the embedded database in ${where} could not be opened: ${(error as Error).message}`, { cause: error });
    }
  }

  /** A new wire-protocol connection to the database, as a stream for `pg`. */
  connect(): PortSocket {
    const { port1, port2 } = new MessageChannel();
    this.send({ type: 'connect', port: port2 }, [port2]);
    return new PortSocket(port1);
  }

  private send(message: ToEmbeddedThread, transfer?: readonly TransferListItem[]): void {
    this.worker.postMessage(message, transfer);
  }

  /** Closes PGlite (flushed to disk), ends the thread, releases the lock. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const exited = new Promise<void>((resolvePromise) => this.worker.once('exit', () => resolvePromise()));
      this.send({ type: 'close' });
      const timer = setTimeout(() => void this.worker.terminate(), CLOSE_TIMEOUT_MS);
      await exited;
      clearTimeout(timer);
      await this.lock?.release();
    })();
    return this.closing;
  }
}
