/**
 * Delivery receipts between nodes: how a sender learns whether the sessions of a recipient on
 * another node took a direct message, so that its ack tells the truth.
 *
 * Redis pub/sub only says that a node's subscriber got the `deliver` message (PUBLISH's count),
 * not that a session's send queue took it: the recipient's queue may be full (a slow or stuck
 * client), the node may be frozen while its Redis connection stays up, or the user may have just
 * left. So a `deliver` that wants an answer carries a `ref`; the owning node queues the frame on
 * its sessions and answers `[ref, accepted, dropped]`.
 *
 * - `PendingReceipts` (sender side) hands out refs and collects the answers. It is bounded: at
 *   most `maxPending` in flight on the node and `maxPerOwner` per sending session (a flood does
 *   not grow it); over a cap the message is still sent, without a ref, and its ack says
 *   `unconfirmed` at once. Every entry ends after `timeoutMs`: one timer for the whole map
 *   (entries expire in insertion order, all have the same timeout), no timer per message. Time
 *   this node itself did not run does not count (as for heartbeats, docs/protocol.md
 *   "Liveness"): a timer that fires late means the node was stalled and has not read its bus
 *   connection yet, so the lateness is credited to the waiting entries and the receipts that
 *   came meanwhile are read before anything is declared unconfirmed.
 * - `ReceiptBatcher` (receiver side) answers in batches: every receipt for the same origin node
 *   produced within one event-loop turn goes out in one `receipts` bus message (one PUBLISH), so
 *   a burst of N cross-node messages costs a few receipts, never N Redis commands.
 *
 * A node running an older version ignores the `ref` and never answers: its deliveries end as
 * `unconfirmed` after the timeout, never as `delivered` without proof.
 */
import { randomBytes } from 'node:crypto';
import type { Bus, Receipt } from '../cluster/bus.ts';

/** What the owning nodes said about one delivery. */
export interface ReceiptTally {
  /** Sessions whose send queue took the frame. */
  accepted: number;
  /** Sessions that refused it (send queue full). */
  dropped: number;
  /** Owning nodes that received the message but did not answer within the timeout. */
  unanswered: number;
}

/** One delivery waiting for receipts. */
export interface PendingReceipt {
  readonly ref: string;
  /**
   * Resolves once `nodes` receipts came (the publishes that reached a node), or at the timeout
   * with what came by then. Call it once, after the publish answered.
   */
  wait(nodes: number): Promise<ReceiptTally>;
  /** The publish failed: nothing will answer, forget it. */
  cancel(): void;
}

export interface PendingReceiptsOptions {
  /** How long to wait for the receipts (DELIVERY_RECEIPT_TIMEOUT_MS). */
  timeoutMs: number;
  /** Entries in flight on the node. */
  maxPending?: number;
  /** Entries in flight per owner (the sending session). */
  maxPerOwner?: number;
  now?: () => number;
}

/** A sender's session at MAX_MESSAGES_PER_SEC for the whole timeout stays well under this. */
const DEFAULT_MAX_PER_OWNER = 1000;
const DEFAULT_MAX_PENDING = 100_000;
/** A timer later than this fired after a stall of the node, not after ordinary jitter. */
const STALL_MIN_MS = 50;

class Entry implements PendingReceipt {
  accepted = 0;
  dropped = 0;
  answers = 0;
  /** Receipts to wait for; unknown (Infinity) until the publish answered. */
  expected = Number.POSITIVE_INFINITY;
  expired = false;
  resolve: ((tally: ReceiptTally) => void) | undefined;

  constructor(
    readonly ref: string,
    readonly owner: string | undefined,
    readonly deadline: number,
    private readonly pending: PendingReceipts,
  ) {}

  wait(nodes: number): Promise<ReceiptTally> {
    this.expected = nodes;
    if (this.answers >= nodes || this.expired) {
      this.pending.finish(this);
      return Promise.resolve(this.tally());
    }
    return new Promise((resolve) => {
      this.resolve = resolve;
    });
  }

  cancel(): void {
    this.pending.finish(this);
  }

  tally(): ReceiptTally {
    return { accepted: this.accepted, dropped: this.dropped, unanswered: Math.max(0, this.expected - this.answers) };
  }
}

export class PendingReceipts {
  /** Receipts that matched a waiting delivery. */
  received = 0;
  /** Deliveries that ended with at least one owning node silent (their ack said `unconfirmed` unless a session took it). */
  timedOut = 0;
  /** Deliveries sent without a ref because a cap was reached. */
  overCap = 0;

  private readonly entries = new Map<string, Entry>();
  private readonly perOwner = new Map<string, number>();
  /** Distinguishes this process's refs from a previous one's with the same node id. */
  private readonly prefix = randomBytes(3).toString('base64url');
  private sequence = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** When the timer is due (on `now`), to measure how late it fires. */
  private timerDue = 0;
  /**
   * Stall time credited so far. Deadlines are on the credited clock (`now() - credit`), so a
   * credit extends every entry waiting at the time of the stall and none opened after it.
   */
  private credit = 0;
  private credited = false;
  private readonly maxPending: number;
  private readonly maxPerOwner: number;
  private readonly now: () => number;

  constructor(private readonly options: PendingReceiptsOptions) {
    this.maxPending = options.maxPending ?? DEFAULT_MAX_PENDING;
    this.maxPerOwner = options.maxPerOwner ?? DEFAULT_MAX_PER_OWNER;
    this.now = options.now ?? Date.now;
  }

  get size(): number {
    return this.entries.size;
  }

  /** A ref for one delivery, or undefined over a cap (send without one: the ack cannot be confirmed). */
  open(owner?: string): PendingReceipt | undefined {
    if (this.entries.size >= this.maxPending) return this.refuse();
    if (owner !== undefined) {
      const count = this.perOwner.get(owner) ?? 0;
      if (count >= this.maxPerOwner) return this.refuse();
      this.perOwner.set(owner, count + 1);
    }
    const entry = new Entry(`${this.prefix}.${(++this.sequence).toString(36)}`, owner, this.now() - this.credit + this.options.timeoutMs, this);
    this.entries.set(entry.ref, entry);
    this.timer ??= this.schedule(this.options.timeoutMs);
    return entry;
  }

  /** Receipts from an owning node. Unknown refs (expired, another process's) are ignored. */
  settle(receipts: readonly Receipt[]): void {
    for (const [ref, accepted, dropped] of receipts) {
      const entry = this.entries.get(ref);
      if (!entry) continue;
      this.received++;
      // Another node's numbers: never let a bad one make a count negative.
      entry.accepted += Math.max(0, accepted);
      entry.dropped += Math.max(0, dropped);
      entry.answers++;
      if (entry.answers >= entry.expected) this.complete(entry);
    }
  }

  /** @internal Removes an entry (answered, expired, cancelled). */
  finish(entry: Entry): void {
    if (this.entries.get(entry.ref) !== entry) return;
    this.entries.delete(entry.ref);
    if (entry.owner === undefined) return;
    const count = (this.perOwner.get(entry.owner) ?? 1) - 1;
    if (count <= 0) this.perOwner.delete(entry.owner);
    else this.perOwner.set(entry.owner, count);
  }

  private refuse(): undefined {
    this.overCap++;
    return undefined;
  }

  private complete(entry: Entry): void {
    this.finish(entry);
    const resolve = entry.resolve;
    entry.resolve = undefined;
    resolve?.(entry.tally());
  }

  private schedule(ms: number): ReturnType<typeof setTimeout> {
    const delay = Math.max(1, ms);
    this.timerDue = this.now() + delay;
    // Not unref'd: a sender awaiting its ack is work in progress (it ends within the timeout).
    return setTimeout(() => this.expire(), delay);
  }

  /** Ends the entries past their deadline (the oldest first: the map is in deadline order). */
  private expire(): void {
    this.timer = undefined;
    // Late by more than timer jitter: the node was stalled. Credit it and look again after the
    // I/O phase, where the receipts that arrived meanwhile are read.
    // The run right after a credit credits nothing: the node has read its sockets since (a node
    // lagging all the time must not postpone its timeouts forever).
    const late = this.now() - this.timerDue;
    if (late > STALL_MIN_MS && !this.credited) {
      this.credit += late;
      this.credited = true;
      this.timer = this.schedule(0);
      return;
    }
    this.credited = false;
    const now = this.now() - this.credit;
    for (const entry of this.entries.values()) {
      if (entry.deadline > now) {
        this.timer = this.schedule(entry.deadline - now);
        return;
      }
      entry.expired = true;
      if (entry.answers < entry.expected) this.timedOut++;
      // Still publishing (no `wait` yet): it resolves at once when `wait` comes.
      if (entry.resolve) this.complete(entry);
      else this.finish(entry);
    }
  }
}

/** Receipts a node owes other nodes, sent once per origin node per event-loop turn. */
export class ReceiptBatcher {
  /** `receipts` messages published. */
  sent = 0;
  /** `receipts` messages the bus refused (the senders' acks end `unconfirmed`). */
  failed = 0;

  private readonly batches = new Map<string, Receipt[]>();
  private scheduled = false;

  constructor(private readonly bus: Pick<Bus, 'publish'>) {}

  /** Owes `origin` a receipt for `ref`. */
  add(origin: string, ref: string, accepted: number, dropped: number): void {
    let batch = this.batches.get(origin);
    if (!batch) this.batches.set(origin, (batch = []));
    batch.push([ref, accepted, dropped]);
    if (this.scheduled) return;
    this.scheduled = true;
    // After the I/O phase: every `deliver` read from the bus in this turn is in the batch.
    setImmediate(() => this.flush());
  }

  /** Sends what is owed now (one publish per origin node). */
  flush(): void {
    this.scheduled = false;
    for (const [origin, receipts] of this.batches) {
      this.sent++;
      this.bus.publish(origin, { kind: 'receipts', receipts }).catch(() => {
        this.failed++;
      });
    }
    this.batches.clear();
  }
}
