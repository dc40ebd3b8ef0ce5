/**
 * The owning-node lookup and the PUBLISHes to those nodes in one Lua script (lua/
 * publish-to-owners.lua): one round trip to Redis per cross-node delivery instead of two in a
 * row, with the same envelope and channels as `RedisBus.publish` (the receiving node cannot tell
 * the difference). Needs the store's key prefix and the bus's channel prefix to agree with the
 * store and bus in use (the online-store plugin builds all three from REDIS_KEY_PREFIX).
 */
import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';
import { OnlineKeys } from './redis-online-keys.ts';
import { asArray, asNumber } from './redis-online-codec.ts';
import type { BusMessage } from '../../cluster/bus.ts';
import type { OwnerDelivery, OwnerPublisher } from '../../cluster/owner-publisher.ts';
import type { RedisBus } from './redis-bus.ts';

export interface RedisOwnerPublisherOptions {
  /** The command connection (shared with the store and the bus's publisher). */
  redis: Redis;
  /** The online store's key prefix (REDIS_KEY_PREFIX). */
  keyPrefix: string;
  /** Supplies the envelope and channel names, and counts the publishes. */
  bus: RedisBus;
}

type Command = (numberOfKeys: number, ...keysAndArgs: string[]) => Promise<unknown>;

const COMMAND = 'gatehouseBus_publishToOwners';
const LUA = readFileSync(new URL('./lua/publish-to-owners.lua', import.meta.url), 'utf8');

export class RedisOwnerPublisher implements OwnerPublisher {
  private readonly keys: OnlineKeys;
  private readonly bus: RedisBus;
  private readonly command: Command;

  constructor(options: RedisOwnerPublisherOptions) {
    this.keys = new OnlineKeys(options.keyPrefix);
    this.bus = options.bus;
    options.redis.defineCommand(COMMAND, { lua: LUA });
    const command = (options.redis as unknown as Record<string, Command | undefined>)[COMMAND];
    if (!command) throw new Error(`ioredis did not define ${COMMAND}`);
    this.command = command.bind(options.redis);
  }

  async publishToOwners(userId: string, exceptNodeId: string, message: BusMessage): Promise<OwnerDelivery> {
    const envelope = this.bus.envelopeOf(message);
    const reply = asArray(await this.command(1, this.keys.player(userId), this.bus.nodeChannelPrefix, exceptNodeId, envelope), 'publishToOwners');
    const owners = asNumber(reply[1], 'publishToOwners owners');
    const reached = asNumber(reply[2], 'publishToOwners reached');
    this.bus.published += owners;
    return { online: asNumber(reply[0], 'publishToOwners online') === 1, owners, reached, unheard: owners - reached };
  }
}
