/** The paging half of the OnlineStore contract (run from online-store.contract.ts). */
import type { Test } from 'tap';
import type { OnlineStore } from '../../src/online/online-store.ts';
import { allPages, connect, random, type StoreTest } from './online-store.contract-helpers.ts';

/** Redis orders index members by their UTF-8 bytes; every store must page in that order. */
const byteOrder = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

function checkAscending(t: Test, userIds: readonly string[]): void {
  const bad = userIds.findIndex((id, i) => i > 0 && byteOrder(userIds[i - 1]!, id) >= 0);
  t.equal(bad, -1, 'strictly ascending in byte order across all pages (so no duplicates)');
}

async function connectAll(store: OnlineStore, userIds: readonly string[], nodeId: string, now = 1000) {
  const sids = new Map<string, string>();
  for (let i = 0; i < userIds.length; i += 250) {
    const batch = userIds.slice(i, i + 250);
    const logins = await Promise.all(batch.map((id) => connect(store, id, nodeId, now)));
    batch.forEach((id, j) => sids.set(id, logins[j]!.logicalSessionId));
  }
  return sids;
}

const pad = (n: number) => n.toString().padStart(5, '0');

export function runOnlinePagingContract(test: StoreTest): void {
  test('paging 2,500 players by 100 returns each exactly once, in byte order', async (t, store) => {
    // A few ids outside ASCII check that the order is UTF-8 byte order, as in Redis.
    const exotic = ['\u00fc-umlaut', '\ue000-private', '\u{1f600}-emoji', 'Zebra', 'a b', '~tilde'];
    const userIds = [...Array.from({ length: 2500 - exotic.length }, (_, i) => `u${pad((i * 7919) % 10007)}`), ...exotic];
    await connectAll(store, userIds, 'A');
    t.equal(await store.countOnline(), 2500);
    const pages = await allPages(store, { limit: 100 });
    t.equal(pages.length, 25, 'a full last page still knows it is the last');
    t.ok(pages.every((p) => p.userIds.length === 100), 'every page is full');
    t.equal(pages.at(-1)?.nextCursor, undefined);
    const seen = pages.flatMap((p) => p.userIds);
    checkAscending(t, seen);
    t.same([...seen].sort(byteOrder), [...userIds].sort(byteOrder), 'every player exactly once');
  });

  test('paging under churn returns every always-online player exactly once', async (t, store) => {
    const stable = Array.from({ length: 500 }, (_, i) => `p${pad(2 * i)}`);
    const churners = Array.from({ length: 500 }, (_, i) => `p${pad(2 * i + 1)}`);
    await connectAll(store, stable, 'A');
    const sids = await connectAll(store, churners.slice(0, 250), 'B');
    const rand = random(42);
    const pick = <T>(items: readonly T[]) => items[Math.floor(rand() * items.length)]!;
    let now = 2000;
    let fresh = 0;
    const churn = async () => {
      now += 10;
      for (let i = 0; i < 15; i++) {
        const online = [...sids.keys()];
        const leaving = pick(online);
        await store.endSession({ userId: leaving, nodeId: 'B', logicalSessionId: sids.get(leaving)!, reason: 'close', now });
        sids.delete(leaving);
        // Rejoin an old churner or a brand-new id (anywhere in the order, before or after the cursor).
        const joining = rand() < 0.5 ? pick(churners.filter((id) => !sids.has(id))) : `p${pad(Math.floor(rand() * 1000))}n${fresh++}`;
        sids.set(joining, (await connect(store, joining, 'B', now)).logicalSessionId);
      }
    };
    const pages = await allPages(store, { limit: 40 }, churn);
    t.ok(pages.length > 10, 'paged through many churn rounds');
    const seen = pages.flatMap((p) => p.userIds);
    checkAscending(t, seen);
    const seenSet = new Set(seen);
    t.equal(stable.filter((id) => !seenSet.has(id)).length, 0, 'no always-online player missed');
    t.equal(await store.countOnline(), 500 + 250);
  });

  test('the node filter returns exactly the players live on that node', async (t, store) => {
    const userIds = Array.from({ length: 300 }, (_, i) => `n${pad(i)}`);
    const onA = new Set(userIds.filter((_, i) => i % 3 === 0 || i % 5 === 0));
    await connectAll(store, userIds.filter((_, i) => i % 3 !== 0), 'B');
    await connectAll(store, [...onA], 'A');
    for (const [nodeId, expected] of [['A', [...onA]], ['B', userIds.filter((_, i) => i % 3 !== 0)]] as const) {
      const pages = await allPages(store, { limit: 10, nodeId });
      t.ok(pages.every((p) => p.userIds.length <= 10), `${nodeId}: pages hold at most limit players`);
      const seen = pages.flatMap((p) => p.userIds);
      checkAscending(t, seen);
      t.same(seen, [...expected].sort(byteOrder), `${nodeId}: each matching player exactly once`);
    }
    const page = await store.listOnline({ limit: 5, nodeId: 'A' });
    t.ok(page.players.every((p) => (p.nodes.A ?? 0) > 0), 'presence shows the node');
  });

  test('a sparse node filter scans a bounded slice per page', async (t, store) => {
    await connectAll(store, Array.from({ length: 500 }, (_, i) => `b${pad(i)}`), 'B');
    await connect(store, 'zz', 'A', 1000);
    // limit 5 scans at most 50 entries per page: 10 empty pages that still carry a cursor.
    const pages = await allPages(store, { limit: 5, nodeId: 'A' });
    t.equal(pages.length, 11);
    t.ok(pages.slice(0, 10).every((p) => p.userIds.length === 0 && p.nextCursor), 'empty pages with a cursor');
    t.same(pages[10], { userIds: ['zz'], nextCursor: undefined });
    t.same(await allPages(store, { limit: 5, nodeId: 'nowhere' }).then((p) => p.flatMap((x) => x.userIds)), []);
  });
}
