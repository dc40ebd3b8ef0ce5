/**
 * The owning-node lookup and the PUBLISHes to those nodes in one Lua script (lua/
 * routing/publish-to-owners.lua): one round trip to Redis per cross-node delivery instead of two in a
 * row, with the same envelope and channels as `RedisBus.publish` (the receiving node cannot tell
 * the difference). Needs the store's key prefix and the bus's channel prefix to agree with the
 * store and bus in use (the online-store plugin builds all three from REDIS_KEY_PREFIX).
 */
import type { Redis } from 'ioredis';
import { RedisKeys } from './keys.ts';
import { defineScripts, type RunScript } from './scripts.ts';
import { asFields, asNumber } from './redis-online-codec.ts';
import type { BusMessage } from '../../cluster/bus.ts';
import type { OwnerDelivery, OwnerPublisher } from '../../cluster/owner-publisher.ts';
import type { RedisBus } from './redis-bus.ts';

export interface RedisOwnerPublisherOptions {
  /** The command connection (shared with the store and the bus's publisher): a single Redis (one script PUBLISHes to every owner). */
  redis: Redis;
  /** The online store's key prefix (REDIS_KEY_PREFIX). */
  keyPrefix: string;
  /** Supplies the envelope and channel names, and counts the publishes. */
  bus: RedisBus;
}

export class RedisOwnerPublisher implements OwnerPublisher {
  private readonly keys: RedisKeys;
  private readonly bus: RedisBus;
  private readonly run: RunScript;

  constructor(options: RedisOwnerPublisherOptions) {
    this.keys = new RedisKeys(options.keyPrefix);
    this.bus = options.bus;
    this.run = defineScripts(options.redis);
  }

  async publishToOwners(userId: string, exceptNodeId: string, message: BusMessage): Promise<OwnerDelivery> {
    const envelope = this.bus.envelopeOf(message);
    const reply = asFields(
      await this.run('publishToOwners', [this.keys.player(userId)], [this.bus.nodeChannelPrefix, exceptNodeId, envelope]),
      'publishToOwners',
      ['online', 'owners', 'reached'],
    );
    const owners = asNumber(reply.owners, 'publishToOwners owners');
    const reached = asNumber(reply.reached, 'publishToOwners reached');
    this.bus.published += owners;
    return { online: asNumber(reply.online, 'publishToOwners online') === 1, owners, reached, unheard: owners - reached };
  }
}
