/**
 * Cluster-wide stats on request: the asking node broadcasts a `stats-request`, every live node
 * answers its own numbers to the asker's channel, and the asker waits at most `timeoutMs`. A
 * node that does not answer in time is listed as missing, never waited for.
 */
import { randomUUID } from 'node:crypto';
import type { Bus, BusEnvelope } from './bus.ts';

export interface GatherResult<T> {
  /** Answers by node id (this node's own included). */
  nodes: Map<string, T>;
  /** Live nodes (by lease) that did not answer in time. */
  missing: string[];
}

interface Waiting {
  answers: Map<string, unknown>;
  expected: Set<string>;
  done: () => void;
}

export class StatsExchange<T> {
  private readonly waiting = new Map<string, Waiting>();

  constructor(
    private readonly options: {
      bus: Bus;
      nodeId: string;
      /** This node's numbers. */
      collect: () => Promise<T>;
    },
  ) {}

  /** Handles the exchange's bus messages; false for any other message. */
  onMessage({ origin, message }: BusEnvelope): boolean {
    if (message.kind === 'stats-request') {
      void this.options
        .collect()
        .then((stats) => this.options.bus.publish(origin, { kind: 'stats-reply', requestId: message.requestId, stats }))
        .catch(() => {
          // The asker lists us as missing: that is the documented outcome of a failure here.
        });
      return true;
    }
    if (message.kind === 'stats-reply') {
      const waiting = this.waiting.get(message.requestId);
      if (waiting) {
        waiting.answers.set(origin, message.stats);
        if (waiting.expected.size > 0 && [...waiting.expected].every((n) => waiting.answers.has(n))) waiting.done();
      }
      return true;
    }
    return false;
  }

  /**
   * Asks every other node and returns what arrived within `timeoutMs`: early once every node in
   * `expected` answered; with `expected` unknown (null: the store could not list the nodes), after
   * the whole timeout, with `missing` empty because nobody can tell who should have answered.
   */
  async gather(expected: readonly string[] | null, timeoutMs: number): Promise<GatherResult<T>> {
    const own = await this.options.collect();
    const others = new Set((expected ?? []).filter((n) => n !== this.options.nodeId));
    const answers = new Map<string, unknown>();
    if (others.size > 0 || expected === null) {
      const requestId = randomUUID();
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, timeoutMs);
        this.waiting.set(requestId, {
          answers,
          expected: others,
          done: () => {
            clearTimeout(timer);
            resolve();
          },
        });
        this.options.bus.broadcast({ kind: 'stats-request', requestId }).catch(() => {
          clearTimeout(timer);
          resolve(); // bus down: every other node is missing
        });
      }).finally(() => this.waiting.delete(requestId));
    }
    const nodes = new Map<string, T>([[this.options.nodeId, own]]);
    for (const [nodeId, stats] of answers) nodes.set(nodeId, stats as T);
    return { nodes, missing: [...others].filter((n) => !answers.has(n)).sort() };
  }
}
