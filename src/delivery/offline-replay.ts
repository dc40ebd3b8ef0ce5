/**
 * Offline replay and the live-frame gate of new sessions.
 *
 * From the moment a session is registered until its offline replay is queued, every frame for it
 * but `connected` (direct messages, room messages, broadcasts, and the answers to its own frames)
 * is held here instead of its send queue. Once the login is confirmed and the `connected` frame
 * sent, the user's offline queue is fetched; its entries (`"offline":true` frames) go to the send
 * queue first, then the held frames (control frames, then bulk, each in arrival order). So a
 * session sees `connected`, then the replay, then everything else (a ping after `connected` is a
 * barrier behind the replay).
 *
 * Control frames (pongs, acks, errors, joined/left) overtake queued bulk in the send queue
 * (connection/send-queue.ts), which would break both orders, so two things stay ordered here:
 * - `connected` first: every control frame for the session is held with the rest until the
 *   login is confirmed (`connected` itself is sent straight to the session before `start`).
 * - The replay before any answer: the replay frames are fenced in the send queue once all of
 *   them are in it, so neither the held control frames (released right after) nor later ones
 *   overtake them. Clients rely on it: a pong proves the replay before it complete
 *   (docs/protocol-notes.md). The live bulk frames held with them come after them, paced.
 * Control frames do overtake held live bulk, as they would have in the send queue.
 *
 * Replay frames are never dropped by a full send queue (a gap would let a cumulative ack remove
 * a message the client never saw): they are paced, pushed only while the send queue has room,
 * and the rest follows as the socket drains (one process-wide timer while any replay is paced,
 * never a timer per socket). Live frames held meanwhile are bounded like a send queue.
 *
 * Acks: the stored copy leaves the queue only when the client acknowledges it (cumulatively);
 * only ids this session was sent are forwarded to the store, so acks of live messages cost
 * nothing.
 *
 * Lanes: a read returns the player and server lanes merged in arrival order (offline-queue.ts),
 * and new entries only ever land at the tail, so a cumulative ack still removes only what came
 * before a frame the client processed. A resumed fetch skips by id (`seen`), not by position: an
 * entry evicted in the middle (an old server push) just never comes.
 */
import type { OfflineEntry, OfflineQueue } from './offline-queue.ts';
import type { CoreLogger } from '../core-logger.ts';
import type { Session } from '../connection/session.ts';

export interface OfflineReplayOptions {
  /** Absent or `limits.max` = 0: no replay, sessions are only gated until their login. */
  queue?: OfflineQueue | undefined;
  log: CoreLogger;
  now: () => number;
  /** SEND_QUEUE_MAX / SEND_QUEUE_MAX_BYTES: the pacing bounds (and the bound of held frames). */
  sendQueueMax: number;
  sendQueueMaxBytes: number;
  /** A held live frame was dropped (too many held). */
  onDrop?: (session: Session) => void;
  /** Interval of the pacing timer. */
  paceMs?: number;
  /**
   * The stored messages a user missed (stored-recovery.ts): read at login with the offline queue
   * and queued right after its entries, ahead of every live frame. Absent: no recovery.
   */
  recovery?: { read(session: Session): Promise<string[]> } | undefined;
}

interface Gate {
  /** Replay frames (and their ids) fetched but not yet in the send queue. */
  pending: OfflineEntry[];
  /** Live bulk frames that arrived before the replay was queued. */
  held: string[];
  /** Live control frames that arrived before the replay was queued (released first, behind the replay). */
  heldControl: string[];
  /** True until the login is confirmed and the first fetch answered. */
  closed: boolean;
  /** A fetch is in flight. */
  fetching: boolean;
  /** Another fetch was asked for while one was in flight. */
  again: boolean;
  /**
   * Control frames pass: only the stored-message recovery is being read (no offline replay), and
   * answers need not wait behind it (a client's burst of frames right after `connected` would
   * otherwise overflow the held frames' bound).
   */
  controlOpen?: boolean;
}

interface Replayed {
  /** Ids of offline entries this session was sent or will be sent (acks are checked against it). */
  seen: Set<string>;
}

const DEFAULT_PACE_MS = 20;

export class OfflineReplay {
  /** Sessions whose live frames are gated, or whose replay is still being paced. */
  private readonly gates = new Map<Session, Gate>();
  private readonly replayed = new Map<Session, Replayed>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly options: OfflineReplayOptions) {}

  private get queue(): OfflineQueue | undefined {
    const queue = this.options.queue;
    return queue && queue.limits.max > 0 ? queue : undefined;
  }

  /** A session was registered: gate its live frames until `start`. */
  hold(session: Session): void {
    this.gates.set(session, { pending: [], held: [], heldControl: [], closed: true, fetching: false, again: false });
  }

  /**
   * The login is confirmed and `connected` sent: fetch and queue the replay, then open the gate.
   * `queueEmpty`: the login saw no offline queue for the user (LoginResult.offlineQueueEmpty),
   * so there is nothing to fetch, unless a push nudged the session while it was opening.
   */
  start(session: Session, queueEmpty = false): void {
    const gate = this.gates.get(session);
    if (!gate) return;
    const recovery = this.options.recovery;
    if (!recovery && (!this.queue || (queueEmpty && !gate.again))) {
      gate.closed = false;
      this.pump(session, gate);
      return;
    }
    if (recovery) this.recover(session, gate, recovery, !this.queue || (queueEmpty && !gate.again));
    else this.fetch(session, gate);
  }

  /**
   * The login's read of the offline queue (unless `skipQueue`) and of the stored messages the
   * user missed, together: the queue's entries first, then the recovered messages. A failed
   * recovery is logged; the session starts without it (its next login recovers the same).
   */
  private recover(session: Session, gate: Gate, recovery: NonNullable<OfflineReplayOptions['recovery']>, skipQueue: boolean): void {
    const recovered = recovery.read(session).catch((error: unknown) => {
      this.options.log.warn({ userId: session.userId, err: (error as Error).message }, 'stored messages not recovered at login (the next login tries again)');
      return [] as string[];
    });
    // Without an offline replay to fence, answers need not wait for the recovery.
    if (skipQueue) gate.controlOpen = true;
    this.fetch(session, gate, recovered, !skipQueue);
  }

  /**
   * Messages were queued for the user while a session of theirs was starting (the sender saw
   * them offline): send what this node's sessions of the user have not seen yet.
   */
  resume(sessions: Iterable<Session>): void {
    if (!this.queue) return;
    for (const session of sessions) {
      if (session.state !== 'open' && session.state !== 'opening') continue;
      let gate = this.gates.get(session);
      if (gate?.fetching) {
        gate.again = true;
        continue;
      }
      if (session.state === 'opening') {
        // Its own start() fetches; the mark makes it do so even when its login saw no queue.
        if (gate) gate.again = true;
        continue;
      }
      if (!gate) this.gates.set(session, (gate = { pending: [], held: [], heldControl: [], closed: false, fetching: false, again: false }));
      this.fetch(session, gate);
    }
  }

  /** Queues a live bulk frame, behind the replay when the session's gate is not open yet. */
  send(session: Session, frame: string): boolean {
    if (this.gates.size !== 0) {
      // A gate exists until the replay and everything held behind it reached the send queue.
      const gate = this.gates.get(session);
      if (gate) return this.holdIn(session, gate.held, frame);
    }
    return session.send(frame);
  }

  /**
   * Queues a control frame (pong, ack, error, joined/left): ahead of queued bulk, but behind
   * `connected` and the replay while the session's gate is not open yet.
   */
  sendControl(session: Session, frame: string): boolean {
    if (this.gates.size !== 0) {
      const gate = this.gates.get(session);
      if (gate && !gate.controlOpen) return this.holdIn(session, gate.heldControl, frame);
    }
    return session.sendControl(frame);
  }

  /** Holds a frame at the gate, bounded like a send queue lane (SEND_QUEUE_MAX). */
  private holdIn(session: Session, held: string[], frame: string): boolean {
    if (held.length >= this.options.sendQueueMax) {
      this.options.onDrop?.(session);
      return false;
    }
    held.push(frame);
    return true;
  }

  /** A client `ack`: forwarded (cumulative) when it names an offline frame this session got. */
  ack(session: Session, id: string): void {
    const queue = this.queue;
    if (!queue || !this.replayed.get(session)?.seen.has(id)) return;
    queue.ack(session.userId, id).catch((error: unknown) => {
      this.options.log.warn({ userId: session.userId, err: (error as Error).message }, 'offline ack not stored (the message may be replayed again)');
    });
  }

  /** The session closed: forget it (what it did not ack stays queued for the next session). */
  forget(session: Session): void {
    this.gates.delete(session);
    this.replayed.delete(session);
  }

  /** Sessions whose gate is still closed or whose replay is being paced. */
  get gated(): number {
    return this.gates.size;
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /**
   * Reads the offline queue (unless `readQueue` is false: the login saw none); `recovered` (the
   * login's recovery, in flight) is queued after its entries.
   */
  private fetch(session: Session, gate: Gate, recovered?: Promise<string[]>, readQueue = true): void {
    gate.fetching = true;
    gate.again = false;
    Promise.all([readQueue ? this.queue!.read(session.userId, this.options.now()) : [], recovered]).then(
      ([entries, frames]) => {
        gate.fetching = false;
        if (this.gates.get(session) !== gate) return; // closed meanwhile
        let replayed = this.replayed.get(session);
        for (const entry of entries) {
          if (!replayed) this.replayed.set(session, (replayed = { seen: new Set() }));
          if (replayed.seen.has(entry.id)) continue;
          replayed.seen.add(entry.id);
          gate.pending.push(entry);
        }
        // Recovered messages are not offline entries: their acks are `received` frames.
        if (frames) for (const frame of frames) gate.pending.push({ id: '', frame, queuedAt: 0 });
        if (gate.again) return this.fetch(session, gate);
        gate.closed = false;
        this.pump(session, gate);
      },
      (error: unknown) => {
        gate.fetching = false;
        this.options.log.warn({ userId: session.userId, err: (error as Error).message }, 'offline queue unavailable: no replay for this session');
        if (this.gates.get(session) !== gate) return;
        gate.closed = false;
        this.pump(session, gate);
      },
    );
  }

  /** Moves what fits from the gate to the send queue; opens the gate once everything moved. */
  private pump(session: Session, gate: Gate): void {
    if (gate.closed) return;
    if (session.state === 'closing' || session.state === 'closed') {
      this.gates.delete(session);
      return;
    }
    let replayed = false;
    while (gate.pending.length > 0) {
      const entry = gate.pending[0]!;
      if (!this.fits(session, entry.frame) || !session.send(entry.frame)) return this.schedule();
      gate.pending.shift();
      replayed = true;
    }
    // The whole replay is in the send queue (no live bulk yet): no control frame overtakes it.
    if (replayed) session.fenceControl();
    if (gate.heldControl.length > 0) {
      for (const frame of gate.heldControl) session.sendControl(frame); // dropped like any other if its lane is full
      gate.heldControl.length = 0;
    }
    while (gate.held.length > 0) {
      if (!this.fits(session, gate.held[0]!)) return this.schedule();
      session.send(gate.held.shift()!); // a live frame: dropped like any other if it does not fit
    }
    if (!gate.fetching) this.gates.delete(session);
  }

  /** Whether the send queue takes `frame` now without dropping it. */
  private fits(session: Session, frame: string): boolean {
    const { queue, socket } = session;
    if (queue.depth >= this.options.sendQueueMax) return false;
    return queue.bytes + socket.bufferedAmount + Buffer.byteLength(frame, 'utf8') <= this.options.sendQueueMaxBytes;
  }

  private schedule(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      for (const [session, gate] of [...this.gates]) this.pump(session, gate);
    }, this.options.paceMs ?? DEFAULT_PACE_MS);
    this.timer.unref();
  }
}
