/**
 * The online stores of one backend, built together by its factory (`createMemoryStores`,
 * `createRedisStores`): the narrow interfaces share one state (memory) or one connection and
 * key schema (Redis), because one atomic step may span them.
 */
import type { Locks } from '../cluster/locks.ts';
import type { NodeRegistry } from '../cluster/node-registry.ts';
import type { LogoutOutbox } from '../presence/logout-outbox.ts';
import type { PresenceStore } from '../presence/presence-store.ts';

export interface OnlineStores {
  presence: PresenceStore;
  outbox: LogoutOutbox;
  nodes: NodeRegistry;
  locks: Locks;
}

/**
 * How long an offline user's presence entry is kept once their logout is in the database, for
 * stores built without the config (tests, tools); the gateway passes PRESENCE_OFFLINE_TTL_S.
 */
export const DEFAULT_OFFLINE_TTL_MS = 86_400_000;
