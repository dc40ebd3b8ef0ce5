/**
 * Rooms on one node: join / leave / publish for sessions, server pushes to a room, and the two
 * cluster concerns around the local RoomRegistry:
 * - the bus: the node subscribes to a room's channel while it has a local member, so a room
 *   message published anywhere reaches each member session of the cluster exactly once (the
 *   origin node delivers locally, every other node with members gets one bus message);
 * - the room directory (cluster-wide counts and members for the admin API); a failed write marks
 *   it dirty and the node re-syncs its whole share on a later tick.
 *
 * Both are written in batches, never per frame: the local registry changes at once, and the
 * joins and leaves of all sessions within ROOM_FLUSH_MS (one flush in flight at a time; changes
 * made meanwhile wait for the next one) become one directory script call (`apply`), one SUBSCRIBE
 * for the rooms that gained their first local member and one UNSUBSCRIBE for those that lost
 * their last. A join and a leave that cancel out inside a batch are not written at all. So a
 * flush costs at most 3 Redis commands (plus the script's own) whatever the number of frames.
 * Every join/leave frame also takes one token of the session's MAX_ROOM_CHANGES_PER_SEC budget
 * (room-change-limit.ts): over it, ROOM_RATE_LIMITED and nothing changes.
 *
 * Answers to join/leave are sent in the order the frames came, each once the state it reports is
 * true: `joined` / `left` only after the flush holding the change is done, so the room's
 * subscription is confirmed (a message published anywhere after the client saw `joined` reaches
 * it) and the directory written (or marked for a re-sync).
 */
import { randomUUID } from 'node:crypto';
import type { Bus } from '../cluster/bus.ts';
import type { RoomDirectory } from './room-directory.ts';
import { RoomBatch } from './room-batch.ts';
import { RoomChangeLimit } from './room-change-limit.ts';
import type { CoreLogger } from '../core-logger.ts';
import { encodeError, encodeServerFrame, type ClientRoomFrame } from '../protocol/frames.ts';
import { RateLimitedWarner } from '../connection/rate-limited-warner.ts';
import { RoomRegistry, type SendFn } from './rooms.ts';
import type { Session } from '../connection/session.ts';
import { ackFrame } from './acks.ts';
import { isGroupRoom } from '../protocol/conversation-ids.ts';

export interface RoomServiceOptions {
  nodeId: string;
  bus: Bus;
  directory?: RoomDirectory | undefined;
  maxRoomsPerSession: number;
  /** MAX_ROOM_CHANGES_PER_SEC: join/leave frames per second per session. */
  maxRoomChangesPerSec: number;
  /** ROOM_FLUSH_MS: how long changes are collected before a flush (0: the same event-loop turn). */
  flushMs: number;
  log: CoreLogger;
  now: () => number;
  /** Queues a bulk frame (room deliveries) on a session, through the replay gate. */
  send: SendFn;
  /**
   * Queues a control frame (joined, left, ack, error) on a session, through the replay gate: it
   * overtakes queued bulk. So a `room` frame queued before a leave may reach a client that is
   * behind after its `left` (docs/protocol-notes.md "Rooms").
   */
  sendControl: SendFn;
}

/** Shortest pause between two re-syncs of the directory. */
const RESYNC_INTERVAL_MS = 1000;
/**
 * How often the node compares its room count with the directory's. Two mismatches in a row (a
 * write lost without an error, Redis restarted empty, or a reader purged this node's share while
 * its lease looked dead) trigger a re-sync, so the directory heals by itself.
 */
const CHECK_INTERVAL_MS = 10_000;

export class RoomService {
  readonly registry: RoomRegistry;
  private readonly limit: RoomChangeLimit;
  /** Rooms whose channel this node subscribed (or is subscribing) at its last flush. */
  private readonly subscribed = new Set<string>();
  /** The changes collected for the next flush. */
  private collecting: RoomBatch | undefined;
  /** The flush in flight (one at a time: its changes reach Redis in order). */
  private flushing: RoomBatch | undefined;
  private flushScheduled = false;
  /** Rooms this node has in the directory once the writes sent so far are applied. */
  private directoryRooms = 0;
  /** Bumped per flush and re-sync sent: a directory check that spans one proves nothing. */
  private directoryWrites = 0;
  /**
   * Per session: rooms it was evicted from because their subscription failed; its pending answer
   * to the join is an error. Cleared by a new join of the room or the session's end.
   */
  private readonly evicted = new Map<Session, Set<string>>();
  /** Per session: the last pending join/leave answer, so answers keep the order of the frames. */
  private readonly answers = new Map<Session, Promise<void>>();
  private dirty = true;
  private syncing: Promise<void> | undefined;
  private lastSync = -Infinity;
  private lastCheck = 0;
  /** Consecutive checks that found the directory disagreeing (a write may just be in flight). */
  private mismatches = 0;
  private readonly warner: RateLimitedWarner;

  constructor(private readonly options: RoomServiceOptions) {
    this.registry = new RoomRegistry(options.maxRoomsPerSession);
    this.limit = new RoomChangeLimit(options.maxRoomChangesPerSec, options.now);
    this.warner = new RateLimitedWarner(options.log, options.now, 10_000);
  }

  join(session: Session, room: string): void {
    if (isGroupRoom(room)) return this.forbidGroupRoom(session, room, 'joined');
    if (!this.limit.take(session)) return this.refuse(session, `join ${room}`);
    const outcome = this.registry.join(session, room);
    if (outcome.status === 'limit') {
      const text = `a session may be in at most ${this.options.maxRoomsPerSession} rooms (MAX_ROOMS_PER_SESSION)`;
      this.answer(session, undefined, () => this.options.sendControl(session, encodeError('FORBIDDEN', text)));
      return;
    }
    if (outcome.status === 'joined') {
      const evicted = this.evicted.get(session);
      if (evicted?.delete(room) && evicted.size === 0) this.evicted.delete(session);
      this.record(room, session.userId, 1);
    }
    this.answer(session, this.pendingFlush(), () => {
      if (this.evicted.get(session)?.has(room)) {
        this.options.sendControl(session, encodeError('NOT_AVAILABLE', `cannot join ${room} right now (the bus is unreachable), try again`));
      } else this.options.sendControl(session, encodeServerFrame({ type: 'joined', room }));
    });
  }

  leave(session: Session, room: string): void {
    if (isGroupRoom(room)) return this.forbidGroupRoom(session, room, 'left');
    if (!this.limit.take(session)) return this.refuse(session, `leave ${room}`);
    if (this.registry.leave(session, room).left) this.record(room, session.userId, -1);
    this.answer(session, this.pendingFlush(), () => this.options.sendControl(session, encodeServerFrame({ type: 'left', room })));
  }

  /**
   * A `room` frame: members only; delivered to every other member session of the cluster. The
   * ack says `delivered` when a member session on this node took it, `sent` when none here did
   * but the room's other nodes received it, and `dropped` when nobody got it (no other member
   * anywhere, or their send queues were full). Rooms have no receipts: a room message is one
   * PUBLISH whatever its members, and a receipt from every member node for every message would
   * multiply that by the number of nodes (docs/protocol-notes.md, "Rooms").
   */
  async publish(session: Session, frame: ClientRoomFrame): Promise<void> {
    const { room } = frame;
    if (isGroupRoom(room)) {
      this.options.sendControl(session, encodeError('FORBIDDEN', `${room} is a group's room: send {"type":"group"} frames to it`, frame.id));
      return;
    }
    if (!this.registry.has(session, room)) {
      this.options.sendControl(session, encodeError('NOT_IN_ROOM', `join ${room} before publishing to it`, frame.id));
      return;
    }
    const id = randomUUID();
    const encoded = encodeServerFrame({ type: 'room', room, from: session.userId, content: frame.content, id, ts: this.options.now() });
    let otherNodes: number;
    try {
      // Other nodes first: if the bus is down nobody got it, and the client may simply retry.
      otherNodes = await this.options.bus.publishRoom(room, { kind: 'room', room, frame: encoded });
    } catch (error) {
      this.warner.warn('publish', { room, err: (error as Error).message }, 'room message not published: bus unreachable');
      this.options.sendControl(session, encodeError('NOT_AVAILABLE', 'the other nodes cannot be reached, nothing was sent; try again', frame.id));
      return;
    }
    // The other local members (the session may have left while the publish was in flight).
    const others = (this.registry.members(room)?.size ?? 0) - (this.registry.has(session, room) ? 1 : 0);
    const accepted = this.deliver(room, encoded, session);
    const status = accepted > 0 ? 'delivered' : otherNodes > 0 ? 'sent' : 'dropped';
    this.options.sendControl(session, encodeServerFrame(ackFrame(frame.id ?? id, status, { sessions: accepted, dropped: Math.max(0, others - accepted) })));
  }

  /** Admin push to a room: every member session of the cluster once. Rejects when the bus is down (nothing sent). */
  async push(room: string, content: unknown): Promise<{ id: string; localSessions: number }> {
    const id = randomUUID();
    const encoded = encodeServerFrame({ type: 'room', room, server: true, content, id, ts: this.options.now() });
    await this.options.bus.publishRoom(room, { kind: 'room', room, frame: encoded });
    return { id, localSessions: this.deliver(room, encoded) };
  }

  /**
   * Puts a session in a group's room (its groups when it logs in, a membership added while it is
   * online): no rate limit, no answer frame, not counted against MAX_ROOMS_PER_SESSION. Resolves
   * once the node is subscribed to the room.
   */
  async enter(session: Session, room: string): Promise<void> {
    if (this.registry.join(session, room, false).status === 'joined') this.record(room, session.userId, 1);
    await this.pendingFlush();
  }

  /** Takes a session out of a group's room (membership removed). */
  exit(session: Session, room: string): void {
    if (this.registry.leave(session, room).left) this.record(room, session.userId, -1);
  }

  /**
   * A stored group message to the group's room: other nodes first (one publish), then this
   * node's member sessions except the sender's. Resolves with the sessions here that took it;
   * rejects when the bus cannot be reached (this node's members got it anyway).
   */
  async fanOut(room: string, frame: string, except: Session | undefined): Promise<number> {
    const accepted = this.deliver(room, frame, except);
    await this.options.bus.publishRoom(room, { kind: 'room', room, frame });
    return accepted;
  }

  /** A room message from another node. */
  deliver(room: string, frame: string, except?: Session): number {
    return this.registry.fanout(room, frame, except, this.options.send);
  }

  /** The session closed: its memberships end (never rate-limited). */
  sessionClosed(session: Session): void {
    this.answers.delete(session);
    this.evicted.delete(session);
    for (const room of this.registry.leaveAll(session).rooms) this.record(room, session.userId, -1);
  }

  /** Resolves once every change made so far reached the directory and the bus (shutdown). */
  async settled(): Promise<void> {
    for (let batch = this.collecting ?? this.flushing; batch; batch = this.collecting ?? this.flushing) await batch.done;
  }

  /** The bus re-subscribed after an outage: the store may have lost the directory too. */
  markDirty(): void {
    this.dirty = true;
  }

  /** Watchdog tick: re-sync the directory when a write failed (at most once a second), check it now and then. */
  tick(now: number): void {
    const { directory, nodeId } = this.options;
    if (!directory || this.syncing) return;
    if (this.dirty) {
      if (now - this.lastSync >= RESYNC_INTERVAL_MS) void this.sync();
      return;
    }
    // A flush on its way: the counts cannot agree yet; check on a later tick. Changes still being
    // collected do not matter: the directory is compared with what was sent.
    if (now - this.lastCheck < CHECK_INTERVAL_MS || this.flushing) return;
    this.lastCheck = now;
    const expected = this.directoryRooms;
    const writes = this.directoryWrites;
    directory.nodeRoomCount(nodeId).then(
      (count) => {
        if (count === expected || writes !== this.directoryWrites) {
          this.mismatches = 0;
          return;
        }
        // Twice in a row: not a write in flight.
        if (++this.mismatches >= 2 && !this.syncing) {
          this.mismatches = 0;
          this.dirty = true;
        }
      },
      () => {
        this.dirty = true;
      },
    );
  }

  /** Replaces this node's share of the directory with the local truth. */
  sync(): Promise<void> {
    if (!this.options.directory || this.syncing) return this.syncing ?? Promise.resolve();
    this.syncing = this.resync(this.options.directory).finally(() => {
      this.syncing = undefined;
    });
    return this.syncing;
  }

  private async resync(directory: RoomDirectory): Promise<void> {
    const { nodeId, log, now } = this.options;
    this.lastSync = now();
    this.dirty = false;
    // The snapshot below holds every change made so far: the collected ones must not be applied
    // on top of it (a flush in flight was sent before the sync's commands, which come after it on
    // the same connection). Changes made from now on are flushed once the sync is done.
    this.collecting?.forgetChanges();
    this.directoryRooms = this.registry.roomCount;
    this.directoryWrites++;
    try {
      await directory.syncNode(nodeId, this.registry.memberships());
    } catch (error) {
      this.dirty = true;
      this.warner.warn('sync', { err: (error as Error).message }, 'room directory re-sync failed: retrying');
    }
    if (!this.dirty) log.info({ rooms: this.registry.roomCount }, 'room directory synced');
  }

  /** Refuses a join/leave over the session's budget, in frame order. */
  /** A client's join/leave of a group's room: memberships of groups are the admin's (REST). */
  private forbidGroupRoom(session: Session, room: string, answer: 'joined' | 'left'): void {
    const text = `${room} is a group's room: its members are in it from their login, ${answer === 'joined' ? 'join' : 'leave'} the group through the API`;
    this.answer(session, undefined, () => this.options.sendControl(session, encodeError('FORBIDDEN', text)));
  }

  private refuse(session: Session, what: string): void {
    const text = `${what} refused: at most ${this.limit.perSecond} joins and leaves per second (MAX_ROOM_CHANGES_PER_SEC), nothing changed`;
    this.answer(session, undefined, () => this.options.sendControl(session, encodeError('ROOM_RATE_LIMITED', text)));
  }

  /** A change of the local registry, to reach the directory and the bus with the next flush. */
  private record(room: string, userId: string, sessions: number): void {
    (this.collecting ??= new RoomBatch()).record(room, userId, sessions);
    this.scheduleFlush();
  }

  /** The flush an answer given now must wait for: the one collecting, else the one in flight. */
  private pendingFlush(): Promise<void> | undefined {
    return (this.collecting ?? this.flushing)?.done;
  }

  private scheduleFlush(): void {
    if (this.flushScheduled || this.flushing || !this.collecting) return;
    this.flushScheduled = true;
    if (this.options.flushMs > 0) setTimeout(() => this.flush(), this.options.flushMs);
    else setImmediate(() => this.flush());
  }

  /**
   * Sends the collected changes: one directory call, one SUBSCRIBE for the rooms that have local
   * members now and no subscription, one UNSUBSCRIBE for the subscribed ones that have none.
   * Comparing states (not counting first/last events) is what makes a room that went 0 -> 1 -> 0
   * local members inside the batch free.
   */
  private flush(): void {
    this.flushScheduled = false;
    const batch = this.collecting;
    if (!batch || this.flushing) return;
    this.collecting = undefined;
    this.flushing = batch;
    // Every change so far is in this batch or an earlier one: once written, the directory holds
    // exactly the rooms that have local members now.
    this.directoryRooms = this.registry.roomCount;
    this.directoryWrites++;
    const subscribe: string[] = [];
    const unsubscribe: string[] = [];
    for (const room of batch.rooms) {
      const wanted = this.registry.localCount(room) > 0;
      if (wanted && !this.subscribed.has(room)) {
        this.subscribed.add(room);
        subscribe.push(room);
      } else if (!wanted && this.subscribed.delete(room)) unsubscribe.push(room);
    }
    void Promise.all([this.write(batch), this.subscribe(subscribe), this.unsubscribe(unsubscribe)]).then(() => {
      this.flushing = undefined;
      batch.settle();
      this.scheduleFlush();
    });
  }

  /** The batch's directory changes (after a re-sync in progress); a failure marks the directory dirty. */
  private async write(batch: RoomBatch): Promise<void> {
    const { directory, nodeId } = this.options;
    if (!directory) return;
    if (this.syncing) await this.syncing;
    const changes = batch.list();
    if (changes.length === 0) return;
    try {
      await directory.apply(nodeId, changes);
    } catch (error) {
      this.dirty = true;
      this.warner.warn('write', { err: (error as Error).message }, 'room directory write failed: will re-sync');
    }
  }

  private async subscribe(rooms: string[]): Promise<void> {
    if (rooms.length === 0) return;
    try {
      await this.options.bus.subscribeRooms(rooms);
    } catch (error) {
      this.warner.warn('subscribe', { rooms: rooms.length, room: rooms[0], err: (error as Error).message }, 'room subscription failed');
      // Every local member of these rooms joined while they were unsubscribed: none of them can
      // be served, so they all leave (each gets an error instead of `joined`).
      for (const room of rooms) {
        this.subscribed.delete(room);
        this.evict(room);
      }
    }
  }

  private async unsubscribe(rooms: string[]): Promise<void> {
    if (rooms.length === 0) return;
    try {
      await this.options.bus.unsubscribeRooms(rooms);
    } catch (error) {
      this.warner.warn(
        'unsubscribe',
        { rooms: rooms.length, err: (error as Error).message },
        'room unsubscribe failed (a harmless extra subscription at most)',
      );
    }
  }

  private evict(room: string): void {
    for (const session of [...(this.registry.members(room) ?? [])]) {
      if (!this.registry.leave(session, room).left) continue;
      this.record(room, session.userId, -1);
      let rooms = this.evicted.get(session);
      if (!rooms) this.evicted.set(session, (rooms = new Set()));
      rooms.add(room);
    }
  }

  /** Chains an answer behind the session's previous join/leave answer (and `wait`, if any). */
  private answer(session: Session, wait: Promise<void> | undefined, send: () => void): void {
    const previous = this.answers.get(session) ?? Promise.resolve();
    const next = previous
      .then(() => wait)
      .then(() => {
        if (session.isOpen) send();
      })
      .catch(() => {});
    this.answers.set(session, next);
    void next.then(() => {
      if (this.answers.get(session) === next) this.answers.delete(session);
    });
  }
}
