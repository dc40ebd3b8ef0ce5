/**
 * Delivers an encoded frame to every live session of a user: local sessions straight into their
 * send queues (never awaiting a socket), sessions on other nodes through the bus, addressed to
 * the owning node(s) only. Used by direct messages and by incoming bus deliveries.
 */
import type { OwnerDelivery, OwnerPublisher } from '../cluster/owner-publisher.ts';
import type { ConnectionManager } from '../connection/connection-manager.ts';
import type { Session } from '../connection/session.ts';

export type DeliveryResult =
  /** Handed to at least one live session (local queue, or an owning node that received it). */
  | 'delivered'
  /** The user has no live session anywhere. */
  | 'offline'
  /**
   * The user is only on other nodes and none of them received it: the bus or store is
   * unreachable, or no owning node is subscribed (crashed and not reaped yet, or re-subscribing).
   */
  | 'unavailable';

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
   * the frame behind their `connected` frame and offline replay); returns how many accepted it.
   */
  deliverLocal(userId: string, frame: string, exceptSessionId?: string): number {
    const sessions = this.options.connections.sessionsOf(userId);
    if (!sessions) return 0;
    let accepted = 0;
    for (const session of sessions) {
      if ((session.state !== 'open' && session.state !== 'opening') || session.id === exceptSessionId) continue;
      if (this.send(session, frame)) accepted++;
    }
    return accepted;
  }

  /**
   * Delivers to every live session of the user in the cluster (except the local session
   * `exceptSessionId`: the sender's own, for echoes).
   */
  async deliver(userId: string, frame: string, exceptSessionId?: string): Promise<DeliveryResult> {
    const { connections, owners, nodeId, multiSession } = this.options;
    const hasLocal = connections.countOf(userId) > 0;
    if (hasLocal) this.deliverLocal(userId, frame, exceptSessionId);
    if (hasLocal && !multiSession) return 'delivered';

    // A publish nobody received (unheard) is a lost message, not a delivery: pub/sub keeps
    // nothing for a node that is not listening.
    let delivery: OwnerDelivery;
    try {
      delivery = await owners.publishToOwners(userId, nodeId, { kind: 'deliver', userId, frame });
    } catch {
      return hasLocal ? 'delivered' : 'unavailable';
    }
    this.unheard += delivery.unheard;
    this.deliveredRemote += delivery.reached;
    if (hasLocal || delivery.reached > 0) return 'delivered';
    if (!delivery.online || delivery.owners === 0) return 'offline';
    return 'unavailable';
  }
}
