/**
 * In-process bus: nodes created with the same `MemoryBusHub` see each other. A single node
 * uses its own hub and simply never receives anything. Delivery is asynchronous (queued as a
 * microtask) like a real transport, so callers cannot depend on re-entrancy. It follows the
 * same contract as `RedisBus` (test/stores/bus/bus.contract.ts), including its failure modes: publishing
 * before `subscribe` or after `close` rejects, nothing is delivered once `close()` is called, and
 * `publish` reports 0 receivers for a node that is not attached (as PUBLISH does for a channel
 * nobody subscribes to).
 */
import type { Bus, BusHandler, BusMessage } from '../../cluster/bus.ts';

/** A node attached to a hub. */
interface MemoryNode {
  deliver(origin: string, message: BusMessage): void;
}

export class MemoryBusHub {
  readonly nodes = new Map<string, MemoryNode>();
  /** Room -> nodes subscribed to it (like Redis channels `gateway:room:<room>`). */
  readonly rooms = new Map<string, Set<MemoryNode>>();
}

export interface MemoryBusOptions {
  /** Told when a handler throws (the bus swallows it, like RedisBus does). */
  log?: { warn(obj: object, msg: string): void };
}

export class MemoryBus implements Bus {
  private nodeId: string | undefined;
  private handler: BusHandler | undefined;
  private closed = false;
  private readonly node: MemoryNode;
  /** Rooms this bus is subscribed to. */
  private readonly rooms = new Set<string>();
  /** Envelopes sent (one per publish, one per broadcast). */
  published = 0;
  /** Envelopes handed to the handler. */
  received = 0;
  /** Always 0: nothing is encoded in process. Present for parity with RedisBus metrics. */
  readonly malformed = 0;
  /** Handler calls that threw. */
  handlerErrors = 0;

  constructor(
    private readonly hub: MemoryBusHub = new MemoryBusHub(),
    private readonly options: MemoryBusOptions = {},
  ) {
    this.node = { deliver: (origin, message) => queueMicrotask(() => this.dispatch(origin, message)) };
  }

  /** Never called: an in-process subscription cannot be lost. */
  onResubscribed(_listener: () => void): () => void {
    return () => {};
  }

  async subscribe(nodeId: string, handler: BusHandler): Promise<void> {
    if (this.closed) throw new Error('MemoryBus is closed');
    if (this.nodeId !== undefined) throw new Error(`MemoryBus already subscribed as ${this.nodeId}`);
    if (this.hub.nodes.has(nodeId)) throw new Error(`MemoryBus: node ${nodeId} is already attached to this hub`);
    this.nodeId = nodeId;
    this.handler = handler;
    this.hub.nodes.set(nodeId, this.node);
  }

  async publish(toNodeId: string, message: BusMessage): Promise<number> {
    const origin = this.origin();
    this.published++;
    // Nobody attached (never subscribed, or closed): like a pub/sub channel nobody listens on.
    const node = this.hub.nodes.get(toNodeId);
    if (!node) return 0;
    node.deliver(origin, message);
    return 1;
  }

  async broadcast(message: BusMessage): Promise<void> {
    const origin = this.origin();
    this.published++;
    for (const node of this.hub.nodes.values()) {
      if (node !== this.node) node.deliver(origin, message);
    }
  }

  async subscribeRooms(rooms: readonly string[]): Promise<void> {
    this.origin();
    for (const room of rooms) {
      let nodes = this.hub.rooms.get(room);
      if (!nodes) this.hub.rooms.set(room, (nodes = new Set()));
      nodes.add(this.node);
      this.rooms.add(room);
    }
  }

  async unsubscribeRooms(rooms: readonly string[]): Promise<void> {
    if (this.closed) throw new Error('MemoryBus is closed');
    for (const room of rooms) this.leaveRoom(room);
  }

  async publishRoom(room: string, message: BusMessage): Promise<number> {
    const origin = this.origin();
    this.published++;
    let receivers = 0;
    for (const node of this.hub.rooms.get(room) ?? []) {
      if (node === this.node) continue;
      node.deliver(origin, message);
      receivers++;
    }
    return receivers;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.nodeId !== undefined && this.hub.nodes.get(this.nodeId) === this.node) this.hub.nodes.delete(this.nodeId);
    for (const room of [...this.rooms]) this.leaveRoom(room);
  }

  private leaveRoom(room: string): void {
    this.rooms.delete(room);
    const nodes = this.hub.rooms.get(room);
    if (!nodes) return;
    nodes.delete(this.node);
    if (nodes.size === 0) this.hub.rooms.delete(room);
  }

  /** The origin stamped on outgoing envelopes; throws when it is unknown or the bus is closed. */
  private origin(): string {
    if (this.closed) throw new Error('MemoryBus is closed');
    if (this.nodeId === undefined) throw new Error('MemoryBus: subscribe(nodeId) before sending (the origin is unknown)');
    return this.nodeId;
  }

  private dispatch(origin: string, message: BusMessage): void {
    // Checked at delivery, not at publish: close() also stops messages already queued.
    if (this.closed || !this.handler) return;
    this.received++;
    try {
      // A copy, as a real transport gives: the receiver cannot mutate the sender's object.
      this.handler({ origin, message: { ...message } });
    } catch (error) {
      this.handlerErrors++;
      this.options.log?.warn({ origin, kind: message.kind, err: (error as Error).message }, 'bus handler threw');
    }
  }
}
