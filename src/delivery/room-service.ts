/**
 * Rooms on one node: join / leave / publish for sessions, server pushes to a room, and the two
 * cluster concerns around the local RoomRegistry:
 * - the bus: the node subscribes to a room's channel while it has a local member, so a room
 *   message published anywhere reaches each member session of the cluster exactly once (the
 *   origin node delivers locally, every other node with members gets one bus message);
 * - the room directory (cluster-wide counts and members for the admin API): written on join and
 *   leave; a failed write marks it dirty and the node re-syncs its whole share on a later tick.
 *
 * Answers to join/leave are sent in the order the frames came, each once the state it reports is
 * true: `joined` only after the room's subscription is confirmed (a message published after the
 * client saw `joined` reaches it).
 */
import { randomUUID } from 'node:crypto';
import type { Bus } from '../cluster/bus.ts';
import type { RoomDirectory } from './room-directory.ts';
import type { CoreLogger } from '../core-logger.ts';
import { encodeError, encodeServerFrame, type ClientRoomFrame } from '../protocol/frames.ts';
import { RateLimitedWarner } from '../connection/rate-limited-warner.ts';
import { RoomRegistry, type SendFn } from './rooms.ts';
import type { Session } from '../connection/session.ts';
import { ackFrame } from './acks.ts';

export interface RoomServiceOptions {
  nodeId: string;
  bus: Bus;
  directory?: RoomDirectory | undefined;
  maxRoomsPerSession: number;
  log: CoreLogger;
  now: () => number;
  /** Queues a frame on a session, through the replay gate (deliveries and answers alike). */
  send: SendFn;
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
  /** room -> the current subscription (true once confirmed, false when it failed). */
  private readonly subscriptions = new Map<string, Promise<boolean>>();
  /** Per session: the last pending join/leave answer, so answers keep the order of the frames. */
  private readonly answers = new Map<Session, Promise<void>>();
  private dirty = true;
  private syncing = false;
  private lastSync = -Infinity;
  private lastCheck = 0;
  /** Consecutive checks that found the directory disagreeing (a write may just be in flight). */
  private mismatches = 0;
  private readonly deferred: Array<() => Promise<void>> = [];
  private readonly warner: RateLimitedWarner;

  constructor(private readonly options: RoomServiceOptions) {
    this.registry = new RoomRegistry(options.maxRoomsPerSession);
    this.warner = new RateLimitedWarner(options.log, options.now, 10_000);
  }

  join(session: Session, room: string): void {
    const outcome = this.registry.join(session, room);
    if (outcome.status === 'limit') {
      this.options.send(session, encodeError('FORBIDDEN', `a session may be in at most ${this.options.maxRoomsPerSession} rooms (MAX_ROOMS_PER_SESSION)`));
      return;
    }
    if (outcome.status === 'joined') {
      if (outcome.first) this.subscribe(room);
      this.write((d) => d.join(this.options.nodeId, room, session.userId));
    }
    const subscribed = this.subscriptions.get(room) ?? Promise.resolve(true);
    this.answer(session, async () => {
      if (await subscribed) this.options.send(session, encodeServerFrame({ type: 'joined', room }));
      else this.options.send(session, encodeError('NOT_AVAILABLE', `cannot join ${room} right now (the bus is unreachable), try again`));
    });
  }

  leave(session: Session, room: string): void {
    const { left, last } = this.registry.leave(session, room);
    if (left) this.left(session.userId, [room], last ? [room] : []);
    this.answer(session, async () => void this.options.send(session, encodeServerFrame({ type: 'left', room })));
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
    if (!this.registry.has(session, room)) {
      this.options.send(session, encodeError('NOT_IN_ROOM', `join ${room} before publishing to it`, frame.id));
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
      this.options.send(session, encodeError('NOT_AVAILABLE', 'the other nodes cannot be reached, nothing was sent; try again', frame.id));
      return;
    }
    // The other local members (the session may have left while the publish was in flight).
    const others = (this.registry.members(room)?.size ?? 0) - (this.registry.has(session, room) ? 1 : 0);
    const accepted = this.deliver(room, encoded, session);
    const status = accepted > 0 ? 'delivered' : otherNodes > 0 ? 'sent' : 'dropped';
    this.options.send(session, encodeServerFrame(ackFrame(frame.id ?? id, status, { sessions: accepted, dropped: Math.max(0, others - accepted) })));
  }

  /** Admin push to a room: every member session of the cluster once. Rejects when the bus is down (nothing sent). */
  async push(room: string, content: unknown): Promise<{ id: string; localSessions: number }> {
    const id = randomUUID();
    const encoded = encodeServerFrame({ type: 'room', room, server: true, content, id, ts: this.options.now() });
    await this.options.bus.publishRoom(room, { kind: 'room', room, frame: encoded });
    return { id, localSessions: this.deliver(room, encoded) };
  }

  /** A room message from another node. */
  deliver(room: string, frame: string, except?: Session): number {
    return this.registry.fanout(room, frame, except, this.options.send);
  }

  /** The session closed: its memberships end. */
  sessionClosed(session: Session): void {
    this.answers.delete(session);
    const { rooms, emptied } = this.registry.leaveAll(session);
    if (rooms.length > 0) this.left(session.userId, rooms, emptied);
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
    if (now - this.lastCheck < CHECK_INTERVAL_MS) return;
    this.lastCheck = now;
    const expected = this.registry.roomCount;
    directory.nodeRoomCount(nodeId).then(
      (count) => {
        if (count === expected || expected !== this.registry.roomCount) {
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
  async sync(): Promise<void> {
    const { directory, nodeId, log, now } = this.options;
    if (!directory || this.syncing) return;
    this.syncing = true;
    this.lastSync = now();
    this.dirty = false;
    try {
      await directory.syncNode(nodeId, this.registry.memberships());
    } catch (error) {
      this.dirty = true;
      this.warner.warn('sync', { err: (error as Error).message }, 'room directory re-sync failed: retrying');
    } finally {
      this.syncing = false;
      // Changes made during the sync come after its snapshot: apply them now, in order.
      for (const write of this.deferred.splice(0)) this.run(write);
    }
    if (!this.dirty) log.info({ rooms: this.registry.roomCount }, 'room directory synced');
  }

  private left(userId: string, rooms: string[], emptied: string[]): void {
    this.write((d) => d.leave(this.options.nodeId, userId, rooms));
    for (const room of emptied) this.unsubscribe(room);
  }

  private subscribe(room: string): void {
    const subscription = this.options.bus.subscribeRoom(room).then(
      () => true,
      (error: unknown) => {
        this.warner.warn('subscribe', { room, err: (error as Error).message }, 'room subscription failed');
        return false;
      },
    );
    this.subscriptions.set(room, subscription);
    void subscription.then((ok) => {
      // Every local member joined while this subscription was pending: none of them can be
      // served, so they all leave (each gets an error instead of `joined`).
      if (!ok && this.subscriptions.get(room) === subscription) this.evict(room);
    });
  }

  private unsubscribe(room: string): void {
    this.subscriptions.delete(room);
    this.options.bus.unsubscribeRoom(room).catch((error: unknown) => {
      this.warner.warn('unsubscribe', { room, err: (error as Error).message }, 'room unsubscribe failed (a harmless extra subscription at most)');
    });
  }

  private evict(room: string): void {
    for (const session of [...(this.registry.members(room) ?? [])]) {
      const { left, last } = this.registry.leave(session, room);
      if (left) this.left(session.userId, [room], last ? [room] : []);
    }
  }

  /** Chains an answer behind the session's previous join/leave answer. */
  private answer(session: Session, send: () => Promise<void>): void {
    const previous = this.answers.get(session) ?? Promise.resolve();
    const next = previous.then(() => (session.isOpen ? send() : undefined)).catch(() => {});
    this.answers.set(session, next);
    void next.then(() => {
      if (this.answers.get(session) === next) this.answers.delete(session);
    });
  }

  private write(change: (directory: RoomDirectory) => Promise<void>): void {
    const { directory } = this.options;
    if (!directory) return;
    const write = () => change(directory);
    if (this.syncing) this.deferred.push(write);
    else this.run(write);
  }

  private run(write: () => Promise<void>): void {
    write().catch((error: unknown) => {
      this.dirty = true;
      this.warner.warn('write', { err: (error as Error).message }, 'room directory write failed: will re-sync');
    });
  }
}
