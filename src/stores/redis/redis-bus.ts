/**
 * The node-to-node bus over Redis pub/sub. Each node listens on `<prefix>gateway:<nodeId>` and
 * `<prefix>gateway:broadcast`, plus `<prefix>gateway:room:<room>` for every room it has a local
 * member of; every message travels as one compact JSON envelope `{"o": originNodeId, "m":
 * message}` in one PUBLISH (a delivery to a node or a room is one command, never one per
 * recipient session).
 *
 * Connections: the publisher is borrowed (the caller's command connection; `close()` leaves it
 * open). The subscriber is owned: created with `publisher.duplicate()` (same URL and options,
 * so the same `redisOptions()` and, in tests, the same proxy) because a connection in
 * subscriber mode can run nothing but (un)subscribe commands; `close()` quits it.
 *
 * Reconnects: ioredis' own `autoResubscribe` works with `redisOptions()`, but it re-subscribes
 * with a promise nobody handles (a timeout or a second drop during re-subscription becomes an
 * unhandled rejection) and it does not say when the subscription is back. So the owned
 * subscriber runs with `autoResubscribe: false` and this class re-subscribes on every `ready`,
 * then calls `onResubscribed` once Redis has confirmed the SUBSCRIBE: from that moment messages
 * addressed to this node arrive again, and the gateway can re-assert its presence. Messages
 * published while the subscriber was disconnected are lost (pub/sub keeps nothing); `publish`
 * tells their sender so, with PUBLISH's receiver count of 0. The room channels the node wants
 * are remembered and subscribed again on the new connection too.
 *
 * On a Redis Cluster every channel is sharded (SSUBSCRIBE / SPUBLISH): a message to a node or a
 * room costs the one shard that owns its channel, instead of a PUBLISH every shard forwards to
 * every other; the broadcast channel too lives on one shard (a classic PUBLISH enters the cluster
 * at whichever node the client picks, so two broadcasts could overtake each other). One sender's
 * messages stay in order per channel; channels on different shards are not ordered among each
 * other. The subscriber is a Cluster with `shardedSubscribers` (one subscriber connection per
 * primary, kept by ioredis across failovers and resharding, which re-subscribes the sharded
 * channels itself); `onResubscribed` is reported on its `subscribersReady`, after ioredis has
 * re-established them on a changed topology.
 */
import calculateSlot from 'cluster-key-slot';
import { Cluster } from 'ioredis';
import type { Redis } from 'ioredis';
import { RedisKeys } from './keys.ts';
import type { RedisClient } from './scripts.ts';
import { groupBy } from '../../util/group-by.ts';
import type { Bus, BusEnvelope, BusHandler, BusMessage } from '../../cluster/bus.ts';

export interface RedisBusLog {
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
}

export interface RedisBusOptions {
  /** The command connection, borrowed: used for PUBLISH only and never closed here. A Cluster shards the channels. */
  publisher: RedisClient;
  /** Prepended to channel names (the deployment's REDIS_KEY_PREFIX); default none. */
  channelPrefix?: string;
  log?: RedisBusLog;
  /** A first `onResubscribed` listener (more can be added with the method). */
  onResubscribed?: () => void;
}

const ERROR_LOG_INTERVAL_MS = 10_000;
/** Room channels per SUBSCRIBE when re-subscribing many rooms after a reconnect. */
const ROOM_SUBSCRIBE_CHUNK = 1000;

export class RedisBus implements Bus {
  /** The owned subscriber connection (exposed for tests and health checks). */
  readonly subscriber: RedisClient;
  /** On a Redis Cluster: node and room channels are sharded channels. */
  readonly sharded: boolean;
  /** Envelopes PUBLISHed successfully (publish and broadcast, and those RedisOwnerPublisher sends). */
  published = 0;
  /** Envelopes handed to the handler (own broadcasts excluded). */
  received = 0;
  /** Envelopes that could not be decoded; ignored. */
  malformed = 0;
  /** Handler calls that threw; the bus carries on. */
  handlerErrors = 0;
  /** Subscriptions re-established after a lost connection. */
  resubscribes = 0;

  private readonly publisher: RedisClient;
  private readonly prefix: string;
  private readonly log: RedisBusLog | undefined;
  private readonly broadcastChannel: string;
  private readonly roomChannelPrefix: string;
  /** `<prefix>gateway:`: a node's channel is this plus its id. */
  readonly nodeChannelPrefix: string;
  /**
   * Room channels this node wants (kept across reconnects), each with a token of the
   * `subscribeRooms` call that last asked for it: a failing SUBSCRIBE only withdraws the channel
   * when no newer call wants it (after an unsubscribe and a new join, the old failure must not
   * drop the room out of re-subscription).
   */
  private readonly roomChannels = new Map<string, object>();
  private nodeId: string | undefined;
  private nodeChannel: string | undefined;
  private handler: BusHandler | undefined;
  private closed = false;
  /** True while subscribe() establishes the first subscription itself. */
  private starting = false;
  /** Bumped per `ready`: a confirmation from an older connection is not reported. */
  private generation = 0;
  private lastErrorLog = 0;
  private lastMalformedLog = 0;
  /** `onResubscribed` listeners (wrapped, so the same function may be added twice). */
  private readonly resubscribedListeners = new Set<() => void>();

  constructor(options: RedisBusOptions) {
    this.publisher = options.publisher;
    this.prefix = options.channelPrefix ?? '';
    this.log = options.log;
    if (options.onResubscribed) this.onResubscribed(options.onResubscribed);
    const keys = new RedisKeys(this.prefix);
    this.nodeChannelPrefix = keys.nodeChannelPrefix;
    this.broadcastChannel = keys.broadcastChannel;
    this.roomChannelPrefix = keys.roomChannelPrefix;
    this.sharded = options.publisher instanceof Cluster;
    if (options.publisher instanceof Cluster) {
      this.subscriber = options.publisher.duplicate([], { lazyConnect: true, shardedSubscribers: true });
      this.subscriber.on('smessage', (channel: string, raw: string) => this.onMessage(channel, raw));
      this.subscriber.on('subscribersReady', () => this.onShardsResubscribed());
    } else {
      this.subscriber = options.publisher.duplicate({ lazyConnect: true, autoResubscribe: false });
      this.subscriber.on('message', (channel: string, raw: string) => this.onMessage(channel, raw));
      this.subscriber.on('ready', () => this.onReady());
    }
    this.subscriber.on('error', (err: Error) => {
      // ioredis emits one error per failed reconnect; one line every 10 s is enough.
      if (Date.now() - this.lastErrorLog < ERROR_LOG_INTERVAL_MS) return;
      this.lastErrorLog = Date.now();
      this.log?.warn({ err: err.message }, 'bus subscriber connection error');
    });
  }

  onResubscribed(listener: () => void): () => void {
    const entry = () => listener();
    this.resubscribedListeners.add(entry);
    return () => void this.resubscribedListeners.delete(entry);
  }

  /** The channel a node listens on. */
  channelOf(nodeId: string): string {
    return this.nodeChannelPrefix + nodeId;
  }

  /** The channel of a room. */
  roomChannelOf(room: string): string {
    return this.roomChannelPrefix + room;
  }

  /** Room channels currently wanted (for tests and metrics). */
  get roomCount(): number {
    return this.roomChannels.size;
  }

  /**
   * Connects the subscriber and subscribes to this node's channel and the broadcast channel.
   * Rejects (leaving the bus unsubscribed, ready for another attempt) when Redis is unreachable.
   */
  async subscribe(nodeId: string, handler: BusHandler): Promise<void> {
    if (this.closed) throw new Error('RedisBus is closed');
    if (this.nodeId !== undefined) throw new Error(`RedisBus already subscribed as ${this.nodeId}`);
    if (nodeId === 'broadcast') throw new Error('RedisBus: "broadcast" is reserved and cannot be a node id');
    if (nodeId.startsWith('room:')) throw new Error('RedisBus: node ids starting with "room:" are reserved for room channels');
    this.nodeId = nodeId;
    this.nodeChannel = this.channelOf(nodeId);
    this.handler = handler;
    this.starting = true;
    try {
      // Connect unless already on the way (a failed attempt below leaves it stopped, not 'end').
      if (!['connecting', 'connect', 'ready'].includes(this.subscriber.status)) await this.subscriber.connect();
      if (this.sharded) {
        await Promise.all([this.subscriber.ssubscribe(this.nodeChannel), this.subscriber.ssubscribe(this.broadcastChannel)]);
      } else {
        await this.subscriber.subscribe(this.nodeChannel, this.broadcastChannel);
      }
    } catch (error) {
      this.nodeId = this.nodeChannel = this.handler = undefined;
      this.subscriber.disconnect(); // stop the reconnect loop; a later subscribe() connects again
      throw error;
    } finally {
      this.starting = false;
    }
  }

  /**
   * One PUBLISH to the node's channel; resolves with PUBLISH's receiver count (0: the node is not
   * subscribed right now, the message is gone). Rejects when Redis is unreachable (never drops
   * silently). The count includes any other client subscribed to the channel, pattern
   * subscriptions matching it included (a `PSUBSCRIBE gateway:*` debugging session makes a dead
   * node look reachable).
   */
  async publish(toNodeId: string, message: BusMessage): Promise<number> {
    if (toNodeId === 'broadcast') throw new Error('RedisBus: "broadcast" is not a node id (use broadcast())');
    if (toNodeId.startsWith('room:')) throw new Error('RedisBus: "room:..." is not a node id (use publishRoom())');
    return this.send(this.channelOf(toNodeId), message);
  }

  /** One PUBLISH to the broadcast channel; every other node receives it, this one does not. */
  async broadcast(message: BusMessage): Promise<void> {
    await this.send(this.broadcastChannel, message);
  }

  /**
   * One SUBSCRIBE for the rooms' channels; resolves when Redis confirmed them all. Rejects while
   * Redis is unreachable (the rooms are then not wanted: the caller decides whether to try again).
   */
  async subscribeRooms(rooms: readonly string[]): Promise<void> {
    this.checkSubscribed();
    if (rooms.length === 0) return;
    const channels = rooms.map((room) => this.roomChannelOf(room));
    const token = {};
    for (const channel of channels) this.roomChannels.set(channel, token);
    try {
      await this.subscribeChannels(channels);
    } catch (error) {
      for (const channel of channels) if (this.roomChannels.get(channel) === token) this.roomChannels.delete(channel);
      throw error;
    }
  }

  /** One UNSUBSCRIBE for the rooms' channels. A failure leaves harmless extra subscriptions at most. */
  async unsubscribeRooms(rooms: readonly string[]): Promise<void> {
    if (this.closed) throw new Error('RedisBus is closed');
    const channels = rooms.map((room) => this.roomChannelOf(room)).filter((channel) => this.roomChannels.delete(channel));
    // Disconnected: the next connection does not subscribe them again, nothing to undo.
    if (channels.length === 0 || this.subscriber.status !== 'ready') return;
    if (this.sharded) {
      await Promise.all([...bySlot(channels).values()].map((group) => this.subscriber.sunsubscribe(...group)));
    } else {
      await this.subscriber.unsubscribe(...channels);
    }
  }

  /**
   * One PUBLISH to the room's channel; every other node with a member receives it. Resolves with
   * PUBLISH's receiver count less this node's own subscription when it has one (it ignores its
   * own room messages).
   */
  async publishRoom(room: string, message: BusMessage): Promise<number> {
    const channel = this.roomChannelOf(room);
    const receivers = await this.send(channel, message);
    return Math.max(0, receivers - (this.roomChannels.has(channel) ? 1 : 0));
  }

  /** Stops delivery at once (nothing reaches the handler after this call) and quits the subscriber. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.generation++;
    const { subscriber } = this;
    if (subscriber.status === 'wait' || subscriber.status === 'end') {
      subscriber.disconnect();
      return;
    }
    const ended = new Promise<void>((resolve) => subscriber.once('end', () => resolve()));
    try {
      await subscriber.quit();
    } catch {
      // Not connected (reconnecting): stop the reconnect loop; there is no socket to wait for.
      subscriber.disconnect();
      return;
    }
    await ended; // QUIT answered: Redis closes the socket, which ends the connection
  }

  /**
   * The wire form of `message` from this node, for a script that PUBLISHes it on the bus's
   * behalf (RedisOwnerPublisher: lookup and publish in one round trip).
   */
  envelopeOf(message: BusMessage): string {
    this.checkSubscribed();
    return JSON.stringify({ o: this.nodeId, m: message });
  }

  /** One PUBLISH (SPUBLISH on a cluster); resolves with the number of subscribers that received it. */
  private async send(channel: string, message: BusMessage): Promise<number> {
    const envelope = this.envelopeOf(message);
    const receivers = this.sharded ? await this.publisher.spublish(channel, envelope) : await this.publisher.publish(channel, envelope);
    this.published++;
    return Number(receivers);
  }

  /** SUBSCRIBE, or on a cluster one SSUBSCRIBE per slot (ioredis sends each to its shard). */
  private subscribeChannels(channels: readonly string[]): Promise<unknown> {
    if (!this.sharded) return this.subscriber.subscribe(...channels);
    return Promise.all([...bySlot(channels).values()].map((group) => this.subscriber.ssubscribe(...group)));
  }

  private checkSubscribed(): void {
    if (this.closed) throw new Error('RedisBus is closed');
    if (this.nodeId === undefined) throw new Error('RedisBus: subscribe(nodeId) before sending (the origin is unknown)');
  }

  /** SUBSCRIBE commands for the node's channels and every wanted room, in chunks. */
  private subscribeAll(): Promise<unknown> {
    const rooms = [...this.roomChannels.keys()];
    const commands: Promise<unknown>[] = [this.subscriber.subscribe(this.nodeChannel!, this.broadcastChannel)];
    for (let i = 0; i < rooms.length; i += ROOM_SUBSCRIBE_CHUNK) commands.push(this.subscriber.subscribe(...rooms.slice(i, i + ROOM_SUBSCRIBE_CHUNK)));
    return Promise.all(commands);
  }

  /**
   * A cluster's sharded subscribers were re-established on a changed topology (a failover, a
   * lost shard connection): ioredis subscribed the sharded channels again; messages sent
   * meanwhile are lost, so the gateway re-asserts (as after `onReady` on a single Redis).
   */
  private onShardsResubscribed(): void {
    if (this.starting || this.closed || !this.nodeChannel) return;
    this.resubscribes++;
    this.log?.info({ nodeId: this.nodeId }, 'bus shard subscribers re-established');
    this.notifyResubscribed();
  }

  private notifyResubscribed(): void {
    for (const listener of [...this.resubscribedListeners]) {
      try {
        listener();
      } catch (error) {
        this.log?.warn({ err: (error as Error).message }, 'onResubscribed threw');
      }
    }
  }

  /** A (re)connection is ready: subscribe again and report when Redis confirms. */
  private onReady(): void {
    if (this.starting || this.closed || !this.nodeChannel) return;
    const generation = ++this.generation;
    const started = Date.now();
    this.subscribeAll().then(
      () => {
        if (generation !== this.generation || this.closed) return;
        this.resubscribes++;
        this.log?.info({ nodeId: this.nodeId, ms: Date.now() - started }, 'bus resubscribed after reconnect');
        this.notifyResubscribed();
      },
      (error: Error) => {
        if (generation !== this.generation || this.closed) return;
        this.log?.warn({ err: error.message }, 'bus resubscribe failed: reconnecting');
        // Still connected but unsubscribed (e.g. a timeout): a fresh connection retries.
        if (this.subscriber.status === 'ready') (this.subscriber as Redis).disconnect(true);
      },
    );
  }

  private onMessage(channel: string, raw: string): void {
    if (this.closed || !this.handler) return;
    const envelope = decodeEnvelope(raw);
    if (!envelope) {
      this.malformed++;
      if (Date.now() - this.lastMalformedLog >= ERROR_LOG_INTERVAL_MS) {
        this.lastMalformedLog = Date.now();
        this.log?.warn({ channel, bytes: raw.length, malformed: this.malformed }, 'malformed bus envelope ignored');
      }
      return;
    }
    // This node delivered its own broadcast or room message locally already.
    if (envelope.origin === this.nodeId && (channel === this.broadcastChannel || channel.startsWith(this.roomChannelPrefix))) return;
    this.received++;
    try {
      this.handler(envelope);
    } catch (error) {
      // Thrown inside ioredis' reply parser it would break the connection: contain it here.
      this.handlerErrors++;
      this.log?.warn({ origin: envelope.origin, kind: envelope.message.kind, err: (error as Error).message }, 'bus handler threw');
    }
  }
}

/** Channels grouped by cluster slot: one SSUBSCRIBE may only name channels of one slot. */
const bySlot = (channels: readonly string[]) => groupBy(channels, (channel) => calculateSlot(channel));

const isString = (value: unknown): value is string => typeof value === 'string';
const isNumber = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value);

const isReceipt = (value: unknown): boolean => Array.isArray(value) && value.length === 3 && isString(value[0]) && isNumber(value[1]) && isNumber(value[2]);

/** Parses and checks an envelope; null when it is not one this version understands. */
export function decodeEnvelope(raw: string): BusEnvelope | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return null;
  }
  if (typeof parsed !== 'object' || parsed === null) return null;
  const { o, m } = parsed as { o?: unknown; m?: unknown };
  if (!isString(o) || o === '' || typeof m !== 'object' || m === null) return null;
  const message = m as Record<string, unknown>;
  switch (message.kind) {
    case 'deliver':
      if (!isString(message.userId) || !isString(message.frame) || (message.ref !== undefined && !isString(message.ref))) return null;
      break;
    case 'receipts':
      if (!Array.isArray(message.receipts) || !message.receipts.every(isReceipt)) return null;
      break;
    case 'kick':
      if (!isString(message.userId) || !isNumber(message.beforeEpoch) || !isNumber(message.code) || !isString(message.reason)) return null;
      break;
    case 'logout':
      if (!isString(message.userId) || !isNumber(message.code) || !isString(message.reason)) return null;
      break;
    case 'broadcast':
      if (!isString(message.frame)) return null;
      break;
    case 'room':
      if (!isString(message.room) || !isString(message.frame)) return null;
      break;
    case 'offline':
      if (!isString(message.userId)) return null;
      break;
    case 'group-member':
      if (!isString(message.userId) || !isString(message.group) || typeof message.member !== 'boolean') return null;
      break;
    case 'stats-request':
      if (!isString(message.requestId)) return null;
      break;
    case 'stats-reply':
      if (!isString(message.requestId) || typeof message.stats !== 'object' || message.stats === null) return null;
      break;
    default:
      return null;
  }
  return { origin: o, message: message as BusMessage };
}
