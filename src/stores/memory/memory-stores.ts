/**
 * The in-process online stores (single node, no setup): presence, logout outbox, node registry
 * and locks over one shared `MemoryOnlineState`.
 */
import type { OnlineStores } from '../online-stores.ts';
import { MemoryLocks } from './memory-locks.ts';
import { MemoryLogoutOutbox } from './memory-logout-outbox.ts';
import { MemoryNodeRegistry } from './memory-node-registry.ts';
import { MemoryOnlineState } from './memory-online-state.ts';
import { MemoryPresenceStore } from './memory-presence-store.ts';

export function createMemoryStores(state = new MemoryOnlineState()): OnlineStores {
  return {
    presence: new MemoryPresenceStore(state),
    outbox: new MemoryLogoutOutbox(state),
    nodes: new MemoryNodeRegistry(state),
    locks: new MemoryLocks(),
  };
}
