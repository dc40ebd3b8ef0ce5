// @ts-check
/**
 * The embedded PostgreSQL (PGlite, Postgres compiled to WebAssembly) on a thread of its own.
 * PGlite runs every statement synchronously inside WebAssembly: on the gateway's thread a
 * migration, a batch of logout stamps or a checkpoint would stop the event loop that answers
 * pings and handshakes. Here it only blocks this thread.
 *
 * The gateway talks to it in the PostgreSQL wire protocol, each connection over a MessagePort
 * (port-socket.ts): it drives it with `pg` and Prisma's pg adapter, the same code path as a
 * real PostgreSQL server. PGlite is one backend, so messages are served one at a time; the
 * gateway's pool keeps a single connection, so a transaction never interleaves with another.
 *
 * Plain JavaScript (type-checked through JSDoc), so that this thread loads no TypeScript
 * tooling: tsx registered here cost ~80 MB of RSS (measured, this stop).
 */
import { readFileSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
// Liftoff only for PGlite's WebAssembly: the process set it before this thread started (database.ts).
import { PGlite } from '@electric-sql/pglite';
import { ProtocolFramer } from './protocol-framer.mjs';

/** @typedef {import('./thread-messages.ts').EmbeddedThreadData} EmbeddedThreadData */
/** @typedef {import('./thread-messages.ts').FromEmbeddedThread} FromEmbeddedThread */
/** @typedef {import('./thread-messages.ts').ToEmbeddedThread} ToEmbeddedThread */

const data = /** @type {EmbeddedThreadData} */ (workerData);
const parent = /** @type {import('node:worker_threads').MessagePort} */ (parentPort);
/** @param {FromEmbeddedThread} message */
const send = (message) => parent.postMessage(message);

async function open() {
  const inMemory = data.dir.startsWith('memory://');
  // In memory, a new database is unpacked from the install-time template (template.mjs), not
  // made by initdb; a directory was unpacked before this thread started.
  const loadDataDir = inMemory && data.template ? new Blob([readFileSync(data.template)]) : undefined;
  const db = new PGlite(inMemory ? undefined : data.dir, { postgresqlconf: data.postgresqlConf, ...(loadDataDir ? { loadDataDir } : {}) });
  await db.waitReady;
  return db;
}

/**
 * @typedef {import('@electric-sql/pglite').PGlite} PGliteDb
 */

/**
 * Serves one wire-protocol connection: complete messages go to PGlite in order, its answers
 * back to the port as they are produced. A connection that goes away inside a transaction has
 * it rolled back, as a backend would when its client disconnects.
 * @param {PGliteDb} db
 * @param {import('node:worker_threads').MessagePort} port
 */
function serve(db, port) {
  const framer = new ProtocolFramer();
  /** @type {Promise<unknown>} */
  let chain = Promise.resolve();
  let open = true;
  /** @param {Uint8Array} chunk */
  const reply = (chunk) => {
    if (!open || chunk.length === 0) return;
    // A view into PGlite's own buffer: copy it, then hand the copy over without a second copy.
    const copy = chunk.slice();
    port.postMessage(copy, [copy.buffer]);
  };
  /** @param {Error} error */
  const fail = (error) => {
    // SQL errors are answered in the protocol itself; a throw means the connection is unusable.
    send({ type: 'log', level: 'error', message: `embedded database connection failed: ${error.message}` });
    port.close();
  };
  port.on('message', (/** @type {Uint8Array | null} */ chunk) => {
    if (chunk === null) {
      port.close();
      return;
    }
    let messages;
    try {
      messages = framer.push(chunk);
    } catch (error) {
      fail(/** @type {Error} */ (error));
      return;
    }
    for (const message of messages) {
      chain = chain.then(() => (open ? db.runExclusive(() => db.execProtocolRawStream(message, { onRawData: reply })) : undefined));
    }
    chain = chain.catch(fail);
  });
  port.on('close', () => {
    open = false;
    chain = chain.then(async () => {
      if (db.isInTransaction()) await db.exec('ROLLBACK');
    });
  });
}

async function main() {
  const startedAt = performance.now();
  const db = await open();
  const ms = Math.round(performance.now() - startedAt);
  if (data.createOnly) {
    // initdb leaves this thread's WebAssembly memory at ~500 MB; ending the thread gives it back.
    await db.close();
    send({ type: 'created', ms });
    return;
  }
  send({ type: 'ready', ms });
  parent.on('message', (/** @type {ToEmbeddedThread} */ message) => {
    if (message.type === 'connect') serve(db, message.port);
    else if (message.type === 'close') {
      db.close().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    }
  });
}

main().catch((/** @type {Error} */ error) => {
  send({ type: 'failed', message: error.message });
  process.exit(1);
});
