/**
 * Crash safety of a node without Redis.
 *
 * Such a node keeps presence and its pending-logout queue in process memory. If it crashes, or
 * restarts while the database is down, the logouts of its players would be lost: their session
 * rows stay open and `last_logout_at` is never stamped. So the node keeps a small state: its id,
 * its last-alive time (refreshed every lease interval) and the logouts it produced that the
 * database does not have yet. The next start reads that state and writes
 *  1. those logouts, with their original timestamps, then
 *  2. a `node_lost` logout, stamped with the last-alive time, for every session the previous run
 *     left open in the database: they ended when it died, at most one interval after that time.
 * Every write is idempotent, so a crash in the middle of a recovery is recovered again.
 *
 * With Redis this is not needed: the store and its queue survive the node, and the reaper of
 * the other nodes logs the players of a dead node out.
 */
import type { OpenSessionRow, PlayerRepository } from './player-repository.ts';
import type { LogoutRecord } from './logout-outbox.ts';
import type { CoreLogger } from '../core-logger.ts';

/** Where the state lives (a file next to the embedded database, in production). */
export interface NodeStateStorage {
  /** The stored text, or undefined when there is none. */
  read(): Promise<string | undefined>;
  /** Replaces the stored text atomically (a crash leaves the old or the new text, never half). */
  write(text: string): Promise<void>;
  remove(): Promise<void>;
}

/** What the recovery needs of the logout pipeline. */
export interface UnconfirmedLogouts {
  /** Logouts produced by this node that the database does not have yet. */
  unconfirmedRecords(): LogoutRecord[];
  /** Logouts recovered from a previous run, already written: log and count them like any other. */
  reportWritten(records: readonly LogoutRecord[]): void;
}

interface NodeState {
  version: 1;
  nodeId: string;
  lastAliveAt: number;
  unwritten: LogoutRecord[];
}

export interface StandaloneRecoveryOptions {
  storage: NodeStateStorage;
  nodeId: string;
  repository: PlayerRepository;
  logouts: UnconfirmedLogouts;
  log: CoreLogger;
  now: () => number;
  /** How often the last-alive time is refreshed (NODE_LEASE_INTERVAL_MS). */
  intervalMs: number;
  /** Logouts per database round trip. */
  batchMax: number;
  /** Default setTimeout; a test passes its own. */
  sleep?: (ms: number) => Promise<void>;
}

/** Another running process refreshes the same state: recovering it would log out its players. */
export class NodeStateInUseError extends Error {
  override name = 'NodeStateInUseError';
}

export interface RecoveryResult {
  /** The previous run's id, when it left a state. */
  previousNodeId?: string;
  /** Logouts the previous run had not written yet. */
  unwritten: number;
  /** Sessions the previous run left open (it crashed): logged out as node_lost. */
  orphaned: number;
}

export class StandaloneRecovery {
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> | undefined;

  constructor(private readonly options: StandaloneRecoveryOptions) {}

  /**
   * Writes what the previous run left behind. Throws when the database refuses: starting
   * without recovering would leave those logouts unwritten, and the state is kept for the next try.
   */
  async recover(): Promise<RecoveryResult> {
    const { storage, repository, logouts, log, batchMax } = this.options;
    const text = await storage.read();
    if (text === undefined) return { unwritten: 0, orphaned: 0 };
    const state = parseState(text);
    if (!state) {
      // Not ours or damaged: nothing in it can be trusted, and keeping it would fail every start.
      log.error({}, 'node state file unreadable: ignored (no recovery of the previous run)');
      return { unwritten: 0, orphaned: 0 };
    }
    await this.ensureAbandoned(state);
    for (let i = 0; i < state.unwritten.length; i += batchMax) {
      await repository.recordLogouts(state.unwritten.slice(i, i + batchMax));
    }
    // Closed rows drop out of the listing, so each round trip brings the next batch.
    let orphaned = 0;
    const seen = new Set<string>();
    for (;;) {
      const open = (await repository.listOpenSessions(state.nodeId, batchMax)).filter((row) => !seen.has(row.logicalSessionId));
      if (open.length === 0) break;
      const records = open.map((row) => lostRecord(row, state.lastAliveAt));
      await repository.recordLogouts(records);
      for (const row of open) seen.add(row.logicalSessionId);
      logouts.reportWritten(records);
      orphaned += records.length;
    }
    if (state.unwritten.length > 0 || orphaned > 0) {
      log.warn(
        { previousNodeId: state.nodeId, lastAliveAt: state.lastAliveAt, unwritten: state.unwritten.length, orphaned },
        'recovered the logouts of the previous run',
      );
    }
    // Ours from now on: a crash before the first refresh must not recover the same run twice
    // (harmless, the writes are idempotent, but noisy).
    await this.save();
    return { previousNodeId: state.nodeId, unwritten: state.unwritten.length, orphaned };
  }

  /**
   * A state refreshed moments ago is a crash followed by a quick restart, or another process
   * using the same file. Two intervals later the difference shows: only a live owner refreshes.
   */
  private async ensureAbandoned(state: NodeState): Promise<void> {
    const { storage, now, intervalMs } = this.options;
    const wait = 2 * intervalMs;
    if (now() - state.lastAliveAt >= wait) return;
    await (this.options.sleep ?? defaultSleep)(wait);
    const again = parseState((await storage.read()) ?? '');
    if (again && again.lastAliveAt !== state.lastAliveAt) {
      throw new NodeStateInUseError(`the node state file is refreshed by a running node (${again.nodeId}): give each process its own NODE_STATE_FILE`);
    }
  }

  /** Refreshes the state every interval. */
  start(): void {
    this.timer = setInterval(() => void this.save(), this.options.intervalMs);
    this.timer.unref();
  }

  /**
   * Clean shutdown, after the logout pipeline's last flush: with every logout in the database
   * the state is removed; otherwise it is kept for the next start.
   */
  async stop(): Promise<number> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.writing;
    const unwritten = this.options.logouts.unconfirmedRecords();
    if (unwritten.length === 0) await this.options.storage.remove();
    else await this.save();
    return unwritten.length;
  }

  /** Writes the current state; a refresh still in flight makes this one a no-op. */
  save(): Promise<void> {
    if (this.writing) return this.writing;
    const { storage, nodeId, now, logouts, log } = this.options;
    const state: NodeState = { version: 1, nodeId, lastAliveAt: now(), unwritten: logouts.unconfirmedRecords() };
    this.writing = storage
      .write(JSON.stringify(state))
      .catch((error: unknown) => log.error({ err: (error as Error).message }, 'node state not saved'))
      .finally(() => {
        this.writing = undefined;
      });
    return this.writing;
  }
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function lostRecord(row: OpenSessionRow, at: number): LogoutRecord {
  return {
    userId: row.userId,
    username: row.username,
    logicalSessionId: row.logicalSessionId,
    nodeId: row.nodeId,
    epoch: row.epoch,
    connectedAt: row.connectedAt,
    // A session that began after the last refresh still ended after it began.
    logoutAt: Math.max(at, row.connectedAt),
    reason: 'node_lost',
  };
}

function parseState(text: string): NodeState | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  const state = value as Partial<NodeState> | null;
  if (state?.version !== 1 || typeof state.nodeId !== 'string' || typeof state.lastAliveAt !== 'number' || !Array.isArray(state.unwritten)) {
    return undefined;
  }
  return state as NodeState;
}
