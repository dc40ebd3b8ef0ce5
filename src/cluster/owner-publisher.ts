/**
 * Sends a bus message to the nodes holding a user's live sessions (the user's owning nodes, as
 * the online store records them). A cross-node direct message is exactly this plus the hop to
 * the recipient, so the number of round trips here is most of its latency.
 *
 * `LookupOwnerPublisher` works with any store and bus: it reads the presence, then publishes to
 * each owning node (two round trips). `RedisOwnerPublisher` does both in one Lua script (one
 * round trip). Both pass test/stores/bus/owner-publisher.contract.ts.
 */
import type { PresenceStore } from '../presence/presence-store.ts';
import type { Bus, BusMessage } from './bus.ts';

export interface OwnerDelivery {
  /** The user's presence says online (a user in their logout grace or offline is not). */
  online: boolean;
  /** Owning nodes other than the excluded one: one publish each. */
  owners: number;
  /** Publishes some subscriber received (PUBLISH count > 0). */
  reached: number;
  /** Publishes nobody received: the owning node is not listening (crashed, re-subscribing). */
  unheard: number;
}

export interface OwnerPublisher {
  /**
   * Publishes `message` to every node the user is online on, except `exceptNodeId` (the
   * caller's own node, which delivers locally). Rejects when the store is unreachable; a publish
   * that fails on its own counts as neither reached nor unheard.
   */
  publishToOwners(userId: string, exceptNodeId: string, message: BusMessage): Promise<OwnerDelivery>;
}

/** Any store and bus: presence lookup, then one publish per owning node (all at once). */
export class LookupOwnerPublisher implements OwnerPublisher {
  constructor(
    private readonly store: Pick<PresenceStore, 'getPlayer'>,
    private readonly bus: Bus,
  ) {}

  async publishToOwners(userId: string, exceptNodeId: string, message: BusMessage): Promise<OwnerDelivery> {
    const presence = await this.store.getPlayer(userId);
    if (presence?.status !== 'online') return { online: false, owners: 0, reached: 0, unheard: 0 };
    const nodes = Object.keys(presence.nodes).filter((n) => n !== exceptNodeId && (presence.nodes[n] ?? 0) > 0);
    const sent = await Promise.allSettled(nodes.map((n) => this.bus.publish(n, message)));
    let reached = 0;
    let unheard = 0;
    for (const result of sent) {
      if (result.status !== 'fulfilled') continue;
      if (result.value > 0) reached++;
      else unheard++;
    }
    return { online: true, owners: nodes.length, reached, unheard };
  }
}
