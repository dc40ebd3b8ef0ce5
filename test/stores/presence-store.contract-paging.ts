/** The paging half of the PresenceStore contract (run from presence-store.contract.ts). */
import type { Test } from 'tap';
import type { PresenceStore } from '../../src/presence/presence-store.ts';
import { encodeCursor } from '../../src/presence/online-paging.ts';
import { allPages, connect, random, type StoreTest } from './contract-helpers.ts';

/** Redis orders index members by their UTF-8 bytes; every store must page in that order. */
const byteOrder = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

function checkAscending(t: Test, userIds: readonly string[]): void {
  const bad = userIds.findIndex((id, i) => i > 0 && byteOrder(userIds[i - 1]!, id) >= 0);
  t.equal(bad, -1, 'strictly ascending in byte order across all pages (so no duplicates)');
}

async function connectAll(presence: PresenceStore, userIds: readonly string[], nodeId: string, now = 1000) {
  const sids = new Map<string, string>();
  for (let i = 0; i < userIds.length; i += 250) {
    const batch = userIds.slice(i, i + 250);
    const logins = await Promise.all(batch.map((id) => connect(presence, id, nodeId, now)));
    batch.forEach((id, j) => sids.set(id, logins[j]!.logicalSessionId));
  }
  return sids;
}

const pad = (n: number) => n.toString().padStart(5, '0');

export function runPresencePagingContract(test: StoreTest): void {
  test('paging 2,500 players by 100 returns each exactly once, in byte order', async (t, { presence }) => {
    // A few ids outside ASCII check that the order is UTF-8 byte order, as in Redis.
    const exotic = ['\u00fc-umlaut', '\ue000-private', '\u{1f600}-emoji', 'Zebra', 'a b', '~tilde'];
    const userIds = [...Array.from({ length: 2500 - exotic.length }, (_, i) => `u${pad((i * 7919) % 10007)}`), ...exotic];
    await connectAll(presence, userIds, 'A');
    t.equal(await presence.countOnline(), 2500);
    const pages = await allPages(presence, { limit: 100 });
    t.equal(pages.length, 25, 'a full last page still knows it is the last');
    t.ok(
      pages.every((p) => p.userIds.length === 100),
      'every page is full',
    );
    t.equal(pages.at(-1)?.nextCursor, undefined);
    const seen = pages.flatMap((p) => p.userIds);
    checkAscending(t, seen);
    t.same([...seen].sort(byteOrder), [...userIds].sort(byteOrder), 'every player exactly once');
  });

  test('paging under churn returns every always-online player exactly once', async (t, { presence }) => {
    const stable = Array.from({ length: 500 }, (_, i) => `p${pad(2 * i)}`);
    const churners = Array.from({ length: 500 }, (_, i) => `p${pad(2 * i + 1)}`);
    await connectAll(presence, stable, 'A');
    const sids = await connectAll(presence, churners.slice(0, 250), 'B');
    const rand = random(42);
    const pick = <T>(items: readonly T[]) => items[Math.floor(rand() * items.length)]!;
    let now = 2000;
    let fresh = 0;
    const churn = async () => {
      now += 10;
      for (let i = 0; i < 15; i++) {
        const online = [...sids.keys()];
        const leaving = pick(online);
        await presence.endSession({ userId: leaving, nodeId: 'B', logicalSessionId: sids.get(leaving)!, reason: 'close', now });
        sids.delete(leaving);
        // Rejoin an old churner or a brand-new id (anywhere in the order, before or after the cursor).
        const joining = rand() < 0.5 ? pick(churners.filter((id) => !sids.has(id))) : `p${pad(Math.floor(rand() * 1000))}n${fresh++}`;
        sids.set(joining, (await connect(presence, joining, 'B', now)).logicalSessionId);
      }
    };
    const pages = await allPages(presence, { limit: 40 }, churn);
    t.ok(pages.length > 10, 'paged through many churn rounds');
    const seen = pages.flatMap((p) => p.userIds);
    checkAscending(t, seen);
    const seenSet = new Set(seen);
    t.equal(stable.filter((id) => !seenSet.has(id)).length, 0, 'no always-online player missed');
    t.equal(await presence.countOnline(), 500 + 250);
  });

  test('the node filter returns exactly the players live on that node', async (t, { presence }) => {
    const userIds = Array.from({ length: 300 }, (_, i) => `n${pad(i)}`);
    const onA = new Set(userIds.filter((_, i) => i % 3 === 0 || i % 5 === 0));
    await connectAll(
      presence,
      userIds.filter((_, i) => i % 3 !== 0),
      'B',
    );
    await connectAll(presence, [...onA], 'A');
    for (const [nodeId, expected] of [
      ['A', [...onA]],
      ['B', userIds.filter((_, i) => i % 3 !== 0)],
    ] as const) {
      const pages = await allPages(presence, { limit: 10, nodeId });
      t.ok(
        pages.every((p) => p.userIds.length <= 10),
        `${nodeId}: pages hold at most limit players`,
      );
      const seen = pages.flatMap((p) => p.userIds);
      checkAscending(t, seen);
      t.same(seen, [...expected].sort(byteOrder), `${nodeId}: each matching player exactly once`);
    }
    const page = await presence.listOnline({ limit: 5, nodeId: 'A' });
    t.ok(
      page.players.every((p) => (p.nodes.A ?? 0) > 0),
      'presence shows the node',
    );
  });

  test('a sparse node filter scans a bounded slice per page', async (t, { presence }) => {
    await connectAll(
      presence,
      Array.from({ length: 500 }, (_, i) => `b${pad(i)}`),
      'B',
    );
    await connect(presence, 'zz', 'A', 1000);
    // limit 5 scans at most 50 entries per page: 10 empty pages that still carry a cursor.
    const pages = await allPages(presence, { limit: 5, nodeId: 'A' });
    t.equal(pages.length, 11);
    t.ok(
      pages.slice(0, 10).every((p) => p.userIds.length === 0 && p.nextCursor),
      'empty pages with a cursor',
    );
    t.same(pages[10], { userIds: ['zz'], nextCursor: undefined });
    t.same(await allPages(presence, { limit: 5, nodeId: 'nowhere' }).then((p) => p.flatMap((x) => x.userIds)), []);
  });
}

/** The userId prefix search of the PresenceStore contract (run from presence-store.contract.ts). */
export function runPresencePrefixContract(test: StoreTest): void {
  test('a prefix pages exactly the players whose userId starts with it, and countOnline counts them', async (t, { presence }) => {
    // Neighbours on both sides of the range, ids equal to the prefix, longer ids, non-ASCII
    // continuations (byte order: they sort after every ASCII continuation) and case.
    const inside = [
      'ab',
      'ab-1',
      'ab.x',
      'ab:9',
      'abZ',
      'ab_',
      'abz',
      'abzzz',
      'ab\u00fc',
      'ab\u{1f600}',
      ...Array.from({ length: 25 }, (_, i) => `ab-p${pad(i)}`),
    ];
    const outside = ['a', 'aa', 'aa~', 'a\u00fc', 'ac', 'aB', 'Ab', 'b', 'a-b', '\u00fcab', 'zz'];
    await connectAll(presence, [...outside, ...inside], 'A');
    const expected = [...inside].sort(byteOrder);
    for (const limit of [1, 7, 35, 1000]) {
      const pages = await allPages(presence, { limit, prefix: 'ab' });
      const seen = pages.flatMap((p) => p.userIds);
      checkAscending(t, seen);
      t.same(seen, expected, `limit ${limit}: each matching player exactly once`);
      t.ok(
        pages.slice(0, -1).every((p) => p.userIds.length === limit),
        `limit ${limit}: every page but the last is full`,
      );
    }
    // 35 matches by 35: the peek stops at the end of the range although players sort after it.
    const full = await presence.listOnline({ limit: inside.length, prefix: 'ab' });
    t.equal(full.players.length, inside.length);
    t.equal(full.nextCursor, undefined, 'a full page that ends the range is the last one');
    t.match(full.players[0], { userId: 'ab', status: 'online', nodes: { A: 1 } }, 'presences as without a prefix');

    t.equal(await presence.countOnline('ab'), inside.length, 'countOnline(prefix) counts the matches');
    t.equal(await presence.countOnline('ab-p'), 25);
    t.equal(await presence.countOnline(''), inside.length + outside.length, 'the empty prefix counts everyone');
    t.equal(await presence.countOnline(), inside.length + outside.length);
    t.equal(await presence.countOnline('abzzz'), 1, 'a prefix equal to a whole userId');
    t.equal(await presence.countOnline('abzzzz'), 0);
    t.equal(await presence.countOnline('AB'), 0, 'case-sensitive');
    t.same((await presence.listOnline({ limit: 10, prefix: 'AB' })).players, []);
    t.same(await allPages(presence, { limit: 3, prefix: 'zz' }), [{ userIds: ['zz'], nextCursor: undefined }], 'one match, ids after it');
    t.same(await allPages(presence, { limit: 3, prefix: 'zzz' }), [{ userIds: [], nextCursor: undefined }], 'no match');
    t.same(await allPages(presence, { limit: 3, prefix: '0' }), [{ userIds: [], nextCursor: undefined }], 'before the start');
    const everyone = await allPages(presence, { limit: 1000, prefix: '' });
    t.equal(everyone.flatMap((p) => p.userIds).length, inside.length + outside.length, 'the empty prefix lists everyone');
  });

  test('a prefix with the node filter, and cursors from outside the range', async (t, { presence }) => {
    await connectAll(
      presence,
      Array.from({ length: 60 }, (_, i) => `k${pad(i)}`),
      'B',
    );
    await connectAll(presence, ['k00007', 'k00042', 'm1'], 'A');
    t.same(
      (await allPages(presence, { limit: 2, prefix: 'k', nodeId: 'A' })).flatMap((p) => p.userIds),
      ['k00007', 'k00042'],
    );
    t.same(
      (await allPages(presence, { limit: 2, prefix: 'm', nodeId: 'B' })).flatMap((p) => p.userIds),
      [],
    );
    t.equal(await presence.countOnline('k'), 60, 'countOnline is not narrowed by a node');

    // A cursor of a run without a prefix, positioned before the range: the walk starts at the range.
    const first = await presence.listOnline({ limit: 1 });
    t.equal(first.players[0]?.userId, 'k00000');
    const resumed = await presence.listOnline({ limit: 3, prefix: 'k0005', cursor: first.nextCursor });
    t.same(
      resumed.players.map((p) => p.userId),
      ['k00050', 'k00051', 'k00052'],
    );
    // A cursor inside the range resumes after it; one past the range ends the iteration.
    const next = await presence.listOnline({ limit: 3, prefix: 'k0005', cursor: resumed.nextCursor });
    t.same(
      next.players.map((p) => p.userId),
      ['k00053', 'k00054', 'k00055'],
    );
    const all = await presence.listOnline({ limit: 60 });
    t.equal(all.players.at(-1)?.userId, 'k00059');
    t.same(await presence.listOnline({ limit: 5, prefix: 'k', cursor: all.nextCursor! }), { players: [] }, 'cursor at the end of the range: done');
    t.same(await presence.listOnline({ limit: 5, prefix: 'k', cursor: encodeCursor('m1') }), { players: [] }, 'cursor past the range: done');
  });

  test('prefix paging under churn returns every always-online matching player exactly once', async (t, { presence }) => {
    const stable = Array.from({ length: 200 }, (_, i) => `q${pad(2 * i)}`);
    const churners = Array.from({ length: 200 }, (_, i) => `q${pad(2 * i + 1)}`);
    // Players outside the range churn too, on both sides of it.
    const others = Array.from({ length: 100 }, (_, i) => `${i % 2 ? 'p' : 'r'}${pad(i)}`);
    await connectAll(presence, stable, 'A');
    const sids = await connectAll(presence, [...churners.slice(0, 100), ...others], 'B');
    const rand = random(7);
    const pick = <T>(items: readonly T[]) => items[Math.floor(rand() * items.length)]!;
    let now = 2000;
    let fresh = 0;
    const churn = async () => {
      now += 10;
      for (let i = 0; i < 10; i++) {
        const leaving = pick([...sids.keys()]);
        await presence.endSession({ userId: leaving, nodeId: 'B', logicalSessionId: sids.get(leaving)!, reason: 'close', now });
        sids.delete(leaving);
        const joining = rand() < 0.5 ? pick(churners.filter((id) => !sids.has(id))) : `${pick(['p', 'q', 'r'])}${pad(Math.floor(rand() * 400))}n${fresh++}`;
        sids.set(joining, (await connect(presence, joining, 'B', now)).logicalSessionId);
      }
    };
    const pages = await allPages(presence, { limit: 15, prefix: 'q' }, churn);
    t.ok(pages.length > 10, `paged through many churn rounds (${pages.length} pages)`);
    const seen = pages.flatMap((p) => p.userIds);
    checkAscending(t, seen);
    t.same(
      seen.filter((id) => !id.startsWith('q')),
      [],
      'nobody outside the prefix',
    );
    const seenSet = new Set(seen);
    t.same(
      stable.filter((id) => !seenSet.has(id)),
      [],
      'no always-online player missed',
    );
    const matching = stable.length + [...sids.keys()].filter((id) => id.startsWith('q')).length;
    t.equal(await presence.countOnline('q'), matching, 'countOnline(prefix) follows the churn');
  });

  test('a prefix outside the userId characters is refused', async (t, { presence }) => {
    await connect(presence, 'a b', 'A', 1000);
    for (const prefix of ['a b', '%', 'a[', '(a', '\u00fc', 'x'.repeat(65)]) {
      await t.rejects(presence.listOnline({ limit: 10, prefix }), RangeError, `listOnline ${JSON.stringify(prefix)}`);
      await t.rejects(presence.countOnline(prefix), RangeError, `countOnline ${JSON.stringify(prefix)}`);
    }
    t.equal(await presence.countOnline('x'.repeat(64)), 0, '64 characters are fine');
  });
}
