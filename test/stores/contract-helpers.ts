/**
 * Helpers shared by the store contract suites (presence-store, logout-outbox, node-registry,
 * locks): each suite runs against every backend (backends.ts), on a fresh, empty set of stores
 * per test. Tests get the backend's narrow stores together because one atomic step may span
 * them (an ending session queues the logout; a reap logs users out).
 */
import type { Test } from 'tap';
import type { PresenceStore } from '../../src/presence/presence-store.ts';
import type { OnlineStores } from '../../src/stores/online-stores.ts';

/** Declares one contract test that runs against fresh, empty stores. */
export type StoreTest = (title: string, body: (t: Test, stores: OnlineStores) => Promise<void>) => void;

/** Fresh stores whose offline entries expire, and what the expiry contract observes of them. */
export interface ExpiryHarness {
  stores: OnlineStores;
  /** ms left before the user's presence entry is removed: null = it does not expire, undefined = no entry. */
  ttlOf(userId: string): Promise<number | null | undefined>;
  /** Whether the node's heartbeats hold a field for the user (`server:node:<nodeId>:heartbeats`). */
  hasHeartbeat(nodeId: string, userId: string): Promise<boolean>;
  /** Lets `ms` pass on the store's clock (memory: a fake clock; Redis: real time, so TTLs are short). */
  wait(ms: number): Promise<void>;
}

/** Declares one expiry contract test; `ttlMs` is the stores' offline TTL. */
export type ExpiryTest = (title: string, body: (t: Test, h: ExpiryHarness & { ttlMs: number }) => Promise<void>) => void;

let candidates = 0;

/** One connection of `userId` on `nodeId` at `now`, with a fresh candidate session id. */
export function connect(presence: PresenceStore, userId: string, nodeId: string, now: number) {
  candidates += 1;
  return presence.login({ userId, username: `name-${userId}`, nodeId, candidateLogicalSessionId: `sid-${candidates}`, now });
}

/** Deterministic PRNG (mulberry32) so a failing churn run can be replayed. */
export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

/** Every page of `listOnline` from the start, with `between` run after each page. */
export async function allPages(presence: PresenceStore, options: { limit: number; nodeId?: string; prefix?: string }, between?: () => Promise<void>) {
  const pages: { userIds: string[]; nextCursor: string | undefined }[] = [];
  let cursor: string | undefined;
  do {
    const page = await presence.listOnline({ ...options, cursor });
    pages.push({ userIds: page.players.map((p) => p.userId), nextCursor: page.nextCursor });
    cursor = page.nextCursor;
    if (pages.length > 10_000) throw new Error('paging does not terminate');
    if (cursor && between) await between();
  } while (cursor);
  return pages;
}
