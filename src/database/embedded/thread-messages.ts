/** What the gateway and its embedded-database thread (pglite-thread.ts) say to each other. */
import type { MessagePort } from 'node:worker_threads';

export interface EmbeddedThreadData {
  /** PGlite data directory, or `memory://`. */
  dir: string;
  /** postgresql.conf lines for PGlite. */
  postgresqlConf: string[];
  /** Create the database (initdb), close it and end, without serving. */
  createOnly: boolean;
  /** `memory://`: start from this template (template.mjs) rather than initdb. */
  template?: string;
}

export type ToEmbeddedThread =
  /** A new wire-protocol connection: the port carries its bytes both ways (null = client ends). */
  | { type: 'connect'; port: MessagePort }
  /** Close PGlite (it flushes to disk) and end the thread. */
  | { type: 'close' };

export type FromEmbeddedThread =
  /** `createOnly`: the database exists now. */
  | { type: 'created'; ms: number }
  /** Open, accepting connections. */
  | { type: 'ready'; ms: number }
  | { type: 'failed'; message: string }
  | { type: 'log'; level: 'info' | 'error'; message: string };
