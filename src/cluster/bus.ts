/**
 * Node-to-node messages. One channel per node (`gateway:<nodeId>`), a broadcast channel
 * (`gateway:broadcast`) and one channel per room (`gateway:room:<room>`) that a node listens on
 * only while it has a local member of the room. Every envelope carries its origin node so a node
 * never handles its own broadcast or room message twice and nothing loops. `MemoryBus` serves
 * one node (and tests of several in-process nodes); `RedisBus` connects a cluster.
 */
import type { CloseCode } from '../protocol/close-codes.ts';

/** What nodes tell each other. `frame` fields are already-encoded server frames. */
export type BusMessage =
  /**
   * Deliver a frame to every live session of `userId` on the receiving node. With `ref`, the
   * sender (the envelope's origin) waits for a `receipts` entry saying how many sessions took it
   * (delivery-receipts.ts); without it (echoes), nobody waits.
   */
  | { kind: 'deliver'; userId: string; frame: string; ref?: string }
  /**
   * Answers to `deliver` messages that carried a `ref`, batched: every `deliver` a node handled
   * from one origin within one event-loop turn is answered in one message. Each entry is
   * `[ref, accepted, dropped]`: the user's sessions on the node whose send queue took the frame,
   * and those that refused it (full).
   */
  | { kind: 'receipts'; receipts: Receipt[] }
  /** Close the user's sessions on the receiving node that logged in before `beforeEpoch`. */
  | { kind: 'kick'; userId: string; beforeEpoch: number; code: CloseCode; reason: string }
  /** Close all of the user's sessions on the receiving node (their logical session already ended). */
  | { kind: 'logout'; userId: string; code: CloseCode; reason: string }
  /** Deliver a frame to every session on the receiving node. */
  | { kind: 'broadcast'; frame: string }
  /** Deliver a frame to every local member session of `room` (sent with `publishRoom`). */
  | { kind: 'room'; room: string; frame: string }
  /**
   * Messages were queued for `userId` while they were coming online: the receiving node's
   * sessions of the user replay what they have not received yet.
   */
  | { kind: 'offline'; userId: string }
  /**
   * The user was added to (`member` true) or removed from a group: the receiving node's sessions
   * of the user enter or leave the group's room.
   */
  | { kind: 'group-member'; userId: string; group: string; member: boolean }
  /** Asks every other node for its /ws/stats numbers (answered with `stats-reply` to the origin). */
  | { kind: 'stats-request'; requestId: string }
  | { kind: 'stats-reply'; requestId: string; stats: unknown };

/** `[ref, accepted, dropped]` (see the `receipts` message). */
export type Receipt = [ref: string, accepted: number, dropped: number];

export interface BusEnvelope {
  origin: string;
  message: BusMessage;
}

export type BusHandler = (envelope: BusEnvelope) => void;

export interface Bus {
  /** Starts receiving messages addressed to `nodeId` and broadcasts from other nodes. */
  subscribe(nodeId: string, handler: BusHandler): Promise<void>;
  /**
   * Sends to one node. Resolves with the number of receivers that got it: 0 when nobody listens
   * on the node's channel (the node crashed and is not reaped yet, has not subscribed yet, or its
   * subscriber is reconnecting), so a caller that needs the node (a direct message) can report
   * it instead of claiming a delivery. Rejects when the transport is down (the caller reports,
   * never drops silently).
   */
  publish(toNodeId: string, message: BusMessage): Promise<number>;
  /** Sends to every other node. */
  broadcast(message: BusMessage): Promise<void>;
  /**
   * Starts receiving the rooms' messages (`publishRoom` from other nodes), all in one transport
   * command (a node's rooms that gained their first local member during one flush). Idempotent
   * and not reference-counted: one `unsubscribeRooms` ends it. Needs `subscribe` first. Resolves
   * once the transport confirmed the subscriptions: a message published after that reaches this
   * node. Rejects as a whole (none of them is wanted then).
   */
  subscribeRooms(rooms: readonly string[]): Promise<void>;
  /** Stops receiving the rooms' messages, in one transport command (idempotent). */
  unsubscribeRooms(rooms: readonly string[]): Promise<void>;
  /**
   * Sends to every other node subscribed to `room`, once each; never back to the sender.
   * Resolves with the number of other nodes that received it (as far as the transport can tell:
   * PUBLISH counts every subscriber of the channel, this node's own subscription left out).
   */
  publishRoom(room: string, message: BusMessage): Promise<number>;
  close(): Promise<void>;
  /**
   * Adds a listener called after the transport re-subscribed following a connection loss
   * (messages sent meanwhile were missed; the store may have restarted too). Listeners run in
   * the order they were added; one that throws does not keep the others from running. Returns a
   * function that removes the listener. In-process buses never lose their subscription, so they
   * never call it.
   */
  onResubscribed(listener: () => void): () => void;
}
