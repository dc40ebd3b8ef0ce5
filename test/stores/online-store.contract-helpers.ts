/** Helpers shared by the parts of the OnlineStore contract suite. */
import type { Test } from 'tap';
import type { OnlineStore } from '../../src/presence/online-store.ts';

/** Declares one contract test that runs against a fresh, empty store. */
export type StoreTest = (title: string, body: (t: Test, store: OnlineStore) => Promise<void>) => void;

let candidates = 0;

/** One connection of `userId` on `nodeId` at `now`, with a fresh candidate session id. */
export function connect(store: OnlineStore, userId: string, nodeId: string, now: number) {
  candidates += 1;
  return store.login({ userId, username: `name-${userId}`, nodeId, candidateLogicalSessionId: `sid-${candidates}`, now });
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
export async function allPages(
  store: OnlineStore,
  options: { limit: number; nodeId?: string; prefix?: string },
  between?: () => Promise<void>,
) {
  const pages: { userIds: string[]; nextCursor: string | undefined }[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.listOnline({ ...options, cursor });
    pages.push({ userIds: page.players.map((p) => p.userId), nextCursor: page.nextCursor });
    cursor = page.nextCursor;
    if (pages.length > 10_000) throw new Error('paging does not terminate');
    if (cursor && between) await between();
  } while (cursor);
  return pages;
}
