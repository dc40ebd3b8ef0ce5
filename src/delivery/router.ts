/**
 * Delivers an encoded frame to every live session of a user: local sessions straight into their
 * send queues (never awaiting a socket), sessions on other nodes through the bus, addressed to
 * the owning node(s) only. Used by direct messages and by incoming bus deliveries.
 *
 * The result says what happened to the frame, so that acks tell the truth: `delivered` only when
 * a live session's send queue took it. Local sessions answer at once (`send` returns false on a
 * full queue); other nodes answer with a receipt (delivery-receipts.ts) within the receipt
 * timeout, or the delivery is `unconfirmed`.
 */
import type { OwnerDelivery, OwnerPublisher } from '../cluster/owner-publisher.ts';
import type { BusMessage } from '../cluster/bus.ts';
import type { ConnectionManager } from '../connection/connection-manager.ts';
import type { Session } from '../connection/session.ts';
import type { PendingReceipt, PendingReceipts } from './delivery-receipts.ts';

export type DeliveryStatus =
  /** At least one live session of the user (here or on a node that answered) took it into its send queue. */
  | 'delivered'
  /**
   * The user has live sessions but none took it: their send queues were full, or the only
   * session was the excluded one (a message to oneself with no other session). Nothing was
   * stored.
   */
  | 'dropped'
  /**
   * Handed to the user's owning node(s), which received it but did not say within the receipt
   * timeout whether a session took it (frozen, overloaded, an older version), and no session
   * here took it. It may or may not have arrived.
   */
  | 'unconfirmed'
  /**
   * The user has no live session anywhere (the store says so, or every owning node answered
   * that the user's sessions there were gone when it arrived): the caller may queue it.
   */
  | 'offline'
  /**
   * The user is only on other nodes and none of them received it: the bus or store is
   * unreachable, or no owning node is subscribed (crashed and not reaped yet, or re-subscribing).
   */
  | 'unavailable';

/** The outcome of a delivery, with the sessions counted. */
export interface Delivery {
  status: DeliveryStatus;
  /** Live sessions whose send queue took it (local + those the owning nodes reported). */
  sessions: number;
  /** Live sessions whose send queue refused it (full). */
  dropped: number;
}

/** What this node's sessions of a user did with a frame. */
export interface LocalDelivery {
  accepted: number;
  dropped: number;
}

export interface DeliverOptions {
  /** A local session to skip: the sender's own (a message to oneself, an echo). */
  exceptSessionId?: string | undefined;
  /**
   * Ask the owning nodes for receipts (default true). Without them (echoes: nobody waits for
   * them), a delivery that reached only other nodes is `unconfirmed`.
   */
  receipts?: boolean;
  /** Who waits for the receipts (the sending session's id): bounds what one session keeps pending. */
  owner?: string | undefined;
}

export interface RouterOptions {
  nodeId: string;
  connections: ConnectionManager;
  /** Finds the user's other nodes and publishes to them (one Redis round trip on Redis). */
  owners: OwnerPublisher;
  /** With `multi`, a user may have sessions here and elsewhere: always ask the store. */
  multiSession: boolean;
  /**
   * Queues a frame on a session (default `session.send`). The gateway passes its replay gate,
   * which holds live frames of a session still logging in until its offline replay is queued.
   */
  send?: (session: Session, frame: string) => boolean;
  /** Collects the owning nodes' receipts; absent: remote deliveries are `unconfirmed`. */
  receipts?: PendingReceipts | undefined;
}

export class Router {
  deliveredRemote = 0;
  /** Publishes to an owning node that nobody received (the node was not listening). */
  unheard = 0;

  private readonly send: (session: Session, frame: string) => boolean;

  constructor(private readonly options: RouterOptions) {
    this.send = options.send ?? ((session, frame) => session.send(frame));
  }

  /**
   * Pushes to this node's sessions of `userId` (those still logging in included: the gate holds
   * the frame behind their `connected` frame and offline replay); counts those that took it and
   * those whose queue refused it.
   */
  deliverLocal(userId: string, frame: string, exceptSessionId?: string): LocalDelivery {
    const outcome: LocalDelivery = { accepted: 0, dropped: 0 };
    const sessions = this.options.connections.sessionsOf(userId);
    if (!sessions) return outcome;
    for (const session of sessions) {
      if ((session.state !== 'open' && session.state !== 'opening') || session.id === exceptSessionId) continue;
      if (this.send(session, frame)) outcome.accepted++;
      else outcome.dropped++;
    }
    return outcome;
  }

  /**
   * Delivers to every live session of the user in the cluster (except the local session
   * `exceptSessionId`) and says what became of it.
   */
  async deliver(userId: string, frame: string, options: DeliverOptions = {}): Promise<Delivery> {
    const { connections, owners, nodeId, multiSession } = this.options;
    const hasLocal = connections.countOf(userId) > 0;
    const local = hasLocal ? this.deliverLocal(userId, frame, options.exceptSessionId) : { accepted: 0, dropped: 0 };
    if (hasLocal && !multiSession) return outcome(local.accepted > 0 ? 'delivered' : 'dropped', local.accepted, local.dropped);

    const pending = options.receipts === false ? undefined : this.options.receipts?.open(options.owner);
    // A publish nobody received (unheard) is a lost message, not a delivery: pub/sub keeps
    // nothing for a node that is not listening.
    let delivery: OwnerDelivery;
    try {
      delivery = await owners.publishToOwners(
        userId,
        nodeId,
        pending ? { kind: 'deliver', userId, frame, ref: pending.ref } : { kind: 'deliver', userId, frame },
      );
    } catch {
      pending?.cancel();
      if (!hasLocal) return outcome('unavailable', 0, 0);
      return outcome(local.accepted > 0 ? 'delivered' : 'dropped', local.accepted, local.dropped);
    }
    this.unheard += delivery.unheard;
    this.deliveredRemote += delivery.reached;
    return this.combine(hasLocal, local, delivery, pending);
  }

  /** Sends a bus message (no frame, no receipt) to the user's other owning nodes. */
  notifyOwners(userId: string, message: BusMessage): Promise<OwnerDelivery> {
    return this.options.owners.publishToOwners(userId, this.options.nodeId, message);
  }

  /** Local outcome + the owning nodes' receipts: `delivered` if any session anywhere took it. */
  private async combine(hasLocal: boolean, local: LocalDelivery, delivery: OwnerDelivery, pending: PendingReceipt | undefined): Promise<Delivery> {
    let { accepted, dropped } = local;
    let unanswered = 0;
    if (delivery.reached > 0) {
      if (pending) {
        const tally = await pending.wait(delivery.reached);
        accepted += tally.accepted;
        dropped += tally.dropped;
        unanswered = tally.unanswered;
      } else {
        unanswered = delivery.reached;
      }
    } else {
      pending?.cancel();
    }
    if (accepted > 0) return outcome('delivered', accepted, dropped);
    if (unanswered > 0) return outcome('unconfirmed', accepted, dropped);
    // Every owning node answered that it had no session of the user left (they logged out as
    // it arrived): offline, so the caller queues it rather than losing it.
    if (!hasLocal && pending && delivery.reached > 0 && dropped === 0) return outcome('offline', 0, 0);
    if (hasLocal || delivery.reached > 0) return outcome('dropped', accepted, dropped);
    if (!delivery.online || delivery.owners === 0) return outcome('offline', 0, 0);
    return outcome('unavailable', 0, 0);
  }
}

function outcome(status: DeliveryStatus, sessions: number, dropped: number): Delivery {
  return { status, sessions, dropped };
}
