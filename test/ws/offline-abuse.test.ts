/**
 * The offline queue against hostile clients (issue 16), on real Redis and PostgreSQL, measured
 * where it hurts: the memory Redis uses under the test's key prefix (MEMORY USAGE of every key).
 * - a flood of 60 KB messages to never-seen ids stores nothing (UNKNOWN_USER, then the sender's
 *   lookup budget: QUOTA_EXCEEDED lookups), whatever the rate;
 * - a flood of 60 KB messages to real users stays within the sender quota (≤ 1 MB of Redis);
 * - junk messages never evict an admin push (the server lane);
 * - per-recipient byte cap, per-sender count quota, cluster cap, each a coded refusal and a metric;
 * - the admin push to an unknown user answers 404 GW_UNKNOWN_USER.
 */
import t from 'tap';
import type { Redis } from 'ioredis';
import { buildTestApp, TEST_ADMIN_TOKEN, type TestApp } from '../helpers/build.ts';
import { TestClient, type Frame } from '../helpers/ws-client.ts';
import { call } from '../api/http.ts';

const url = (h: TestApp, userId: string) => `${h.wsUrl}/ws?token=${h.token(userId)}`;
/** Users who logged in once (a user row): only they get an offline queue. */
const known = (h: TestApp, ...userIds: string[]) => h.app.players.recordLogins(userIds.map((userId) => ({ userId, username: userId, loginAt: Date.now() })));
/** The answer to client frame `id`: its ack or its error. */
const answer = (client: TestClient, id: string): Promise<Frame | undefined> =>
  Promise.race([
    client.next('ack', 10_000, (f) => f.id === id).catch(() => undefined),
    client.next('error', 10_000, (f) => f.ref === id).catch(() => undefined),
  ]);
/** What each of `n` messages to `to(i)` got back: `queued`, `delivered`, or the error code (+ quota). */
async function sendAll(client: TestClient, n: number, to: (i: number) => string, content: (i: number) => unknown, tag: string): Promise<string[]> {
  for (let i = 0; i < n; i++) client.send({ type: 'message', to: to(i), content: content(i), id: `${tag}${i}` });
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const a = await answer(client, `${tag}${i}`);
    out.push(
      a?.type === 'ack'
        ? String(a.status)
        : a?.type === 'error'
          ? `${a.code}${a.code === 'QUOTA_EXCEEDED' ? `:${String(a.error).split(':')[0]}` : ''}`
          : 'none',
    );
  }
  return out;
}
const tally = (results: string[]) => {
  const counts: Record<string, number> = {};
  for (const r of results) counts[r] = (counts[r] ?? 0) + 1;
  return counts;
};

/** Bytes Redis uses for every key under the prefix. */
async function redisBytes(redis: Redis, prefix: string): Promise<number> {
  let cursor = '0';
  let total = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    for (const key of keys) total += Number((await redis.call('MEMORY', 'USAGE', key, 'SAMPLES', '0')) ?? 0);
  } while (cursor !== '0');
  return total;
}

async function metric(h: TestApp, line: RegExp): Promise<number | undefined> {
  const res = await fetch(`${h.baseUrl}/metrics`, { headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` } });
  const match = line.exec(await res.text());
  return match ? Number(match[1]) : undefined;
}

const KB60 = 'x'.repeat(60_000);

t.test('default quotas (real services)', async (t) => {
  // The inbound budgets (frames and bytes per second) would refuse most of the flood unread: lifted,
  // so that every message reaches the offline queue's own checks, which are under test here.
  const h = await buildTestApp(t, 'real', { MAX_MESSAGES_PER_SEC: '1000', MAX_INBOUND_BYTES_PER_SEC: '67108864', HEARTBEAT_TIMEOUT_MS: '60000' });
  if (!h) return;
  const redis = h.app.redis as Redis;
  const prefix = h.config.REDIS_KEY_PREFIX;

  await t.test('a session flooding never-seen ids with 60 KB messages stores nothing', async (t) => {
    const { client: attacker } = await TestClient.open(url(h, 'attacker'));
    await attacker.ping();
    const before = await redisBytes(redis, prefix);
    const results = await sendAll(
      attacker,
      150,
      (i) => `ghost-${i}`,
      () => KB60,
      'g',
    );
    const counts = tally(results);
    t.equal(counts.queued, undefined, `nothing queued (${JSON.stringify(counts)})`);
    t.equal(counts.UNKNOWN_USER, 30, 'the lookup budget (30 a minute) answered UNKNOWN_USER');
    t.equal(counts['QUOTA_EXCEEDED:lookups'], 120, 'the rest refused without a lookup');
    const dbCalls = await metric(h, /^gatehouse_db_command_duration_seconds_count\{method="existingUsers"\} (\d+)/m);
    t.ok(dbCalls !== undefined && dbCalls >= 1 && dbCalls <= 30, `30 ids looked up in ${dbCalls} database queries (batched per tick)`);
    const after = await redisBytes(redis, prefix);
    t.ok(after - before < 4096, `Redis under the prefix grew by ${after - before} bytes (9 MB sent)`);
    t.equal(await redis.exists(`${prefix}websocket:queue:ghost-1`), 0, 'no queue for a ghost');
    t.equal(await metric(h, /^gatehouse_offline_queue_refused_total\{reason="unknown_user"\} (\d+)/m), 30);
    t.equal(await metric(h, /^gatehouse_offline_queue_refused_total\{reason="lookups"\} (\d+)/m), 120);
    // Again: the unknown ids are cached, no lookup budget is needed for them.
    const again = tally(
      await sendAll(
        attacker,
        30,
        (i) => `ghost-${i}`,
        () => 'x',
        'h',
      ),
    );
    t.same(again, { UNKNOWN_USER: 30 }, 'cached answers: UNKNOWN_USER without a lookup');
    await attacker.close();
  });

  await t.test('a session flooding real users with 60 KB messages costs at most its sender quota', async (t) => {
    // 20 ids: within the sender's lookup budget, so only the sender quota is at play.
    const victims = Array.from({ length: 20 }, (_, i) => `victim-${i}`);
    await known(h, ...victims);
    const { client: attacker } = await TestClient.open(url(h, 'attacker2'));
    await attacker.ping();
    const before = await redisBytes(redis, prefix);
    const results = await sendAll(
      attacker,
      120,
      (i) => victims[i % victims.length]!,
      () => KB60,
      'v',
    );
    const counts = tally(results);
    t.equal(counts.queued, 4, `4 x 60 KB fit the 256 KiB sender quota (${JSON.stringify(counts)})`);
    // Which refusal a message gets depends on the order the lookups answered in: a victim's lane
    // (256 KiB) may fill first when the first four all went to the same victim.
    t.equal((counts['QUOTA_EXCEEDED:sender'] ?? 0) + (counts['QUOTA_EXCEEDED:recipient'] ?? 0), 116, 'the rest: QUOTA_EXCEEDED');
    t.ok((counts['QUOTA_EXCEEDED:sender'] ?? 0) >= 100, 'mostly the sender quota');
    const grew = (await redisBytes(redis, prefix)) - before;
    t.ok(grew < 1_000_000, `Redis under the prefix grew by ${grew} bytes (7 MB sent): under 1 MB`);
    t.equal(await metric(h, /^gatehouse_offline_queue_refused_total\{reason="sender"\} (\d+)/m), counts['QUOTA_EXCEEDED:sender']);
    const total = await metric(h, /^gatehouse_offline_queue_bytes (\d+)/m);
    t.ok(total !== undefined && total > 240_000 && total < 262_144, `the total gauge (${total}) holds the 4 messages`);
    await attacker.close();
  });

  await t.test('135 junk messages never evict an admin push', async (t) => {
    await known(h, 'admin-target');
    const first = await call<{ id: string; status: string }>(h, 'POST', '/api/users/admin-target/messages', {
      token: TEST_ADMIN_TOKEN,
      body: { content: { reward: 1 } },
    });
    t.match(first, { status: 200, body: { status: 'queued' } });
    const [m1, m2] = [(await TestClient.open(url(h, 'junk-1'))).client, (await TestClient.open(url(h, 'junk-2'))).client];
    const junk = [
      ...(await sendAll(
        m1,
        68,
        () => 'admin-target',
        (i) => `junk ${i}`,
        'j',
      )),
      ...(await sendAll(
        m2,
        67,
        () => 'admin-target',
        (i) => `junk ${i}`,
        'k',
      )),
    ];
    t.same(tally(junk), { queued: 100, 'QUOTA_EXCEEDED:recipient': 35 }, 'the player lane took 100, then refused');
    const second = await call<{ id: string; status: string }>(h, 'POST', '/api/users/admin-target/messages', {
      token: TEST_ADMIN_TOKEN,
      body: { content: { reward: 2 } },
    });
    t.match(second, { status: 200, body: { status: 'queued' } }, 'a push still gets in after the junk');
    const { client } = await TestClient.open(url(h, 'admin-target'));
    const replay: Frame[] = [];
    for (let i = 0; i < 102; i++) replay.push(await client.next('message', 10_000, (f) => f.offline === true));
    t.same(
      replay.filter((f) => f.server).map((f) => f.id),
      [first.body.id, second.body.id],
      'both pushes replayed',
    );
    t.equal(replay[0]!.id, first.body.id, 'in arrival order: the first push first');
    t.equal(replay[101]!.id, second.body.id, 'the second push last');
    await Promise.all([client.close(), m1.close(), m2.close()]);
  });

  await t.test('the admin push to an unknown user: 404 GW_UNKNOWN_USER, nothing stored', async (t) => {
    const res = await call(h, 'POST', '/api/users/never-seen/messages', { token: TEST_ADMIN_TOKEN, body: { content: 1 } });
    t.equal(res.status, 404);
    t.match(res.body, { code: 'GW_UNKNOWN_USER' });
    t.equal(await redis.exists(`${prefix}websocket:queue:never-seen`), 0);
  });
});

t.test('small quotas (real services): recipient bytes, sender count, coded refusals', async (t) => {
  const h = await buildTestApp(t, 'real', {
    MAX_MESSAGES_PER_SEC: '1000',
    MAX_INBOUND_BYTES_PER_SEC: '67108864',
    OFFLINE_QUEUE_MAX_BYTES: '4096',
    OFFLINE_QUEUE_SENDER_MAX: '5',
  });
  if (!h) return;
  await known(h, 'r1', 'r2', 'r3', 'r4', 'r5', 'r6', 'r7');
  const { client: s1 } = await TestClient.open(url(h, 's1'));
  const kb15 = 'y'.repeat(1500);
  t.same(
    tally(
      await sendAll(
        s1,
        3,
        () => 'r1',
        () => kb15,
        'a',
      ),
    ),
    { queued: 2, 'QUOTA_EXCEEDED:recipient': 1 },
    'two 1.5 KB messages fill 4 KiB',
  );
  const { client: s2 } = await TestClient.open(url(h, 's2'));
  t.same(
    tally(
      await sendAll(
        s2,
        6,
        (i) => `r${i + 2}`,
        () => 'hi',
        'b',
      ),
    ),
    { queued: 5, 'QUOTA_EXCEEDED:sender': 1 },
    'five messages per sender and window',
  );
  s2.send({ type: 'message', to: 'r7', content: 'hi', id: 'text' });
  t.match(await s2.next('error', 5000, (f) => f.ref === 'text'), { code: 'QUOTA_EXCEEDED', error: /^sender: / }, 'the text names the quota');
  const push = await call<{ status: string }>(h, 'POST', '/api/users/r1/messages', { token: TEST_ADMIN_TOKEN, body: { content: kb15 } });
  t.match(push, { status: 200, body: { status: 'queued' } }, "a push has its own lane: the players' full lane does not refuse it");
  const tooBig = await call(h, 'POST', '/api/users/r1/messages', { token: TEST_ADMIN_TOKEN, body: { content: 'y'.repeat(5000) } });
  t.equal(tooBig.status, 429, 'a push that alone is over OFFLINE_QUEUE_MAX_BYTES');
  t.match(tooBig.body, { code: 'GW_QUOTA_EXCEEDED', message: /OFFLINE_QUEUE_MAX_BYTES/ });
  t.equal(await metric(h, /^gatehouse_offline_queue_refused_total\{reason="recipient"\} (\d+)/m), 2, 'the full lane and the oversized push');
  t.equal(await metric(h, /^gatehouse_offline_queue_refused_total\{reason="sender"\} (\d+)/m), 2);
  await Promise.all([s1.close(), s2.close()]);
});

t.test('cluster cap (real services): players refused, server pushes still queued', async (t) => {
  const h = await buildTestApp(t, 'real', { OFFLINE_QUEUE_TOTAL_MAX_BYTES: '2048' });
  if (!h) return;
  await known(h, 'c1', 'c2');
  const { client } = await TestClient.open(url(h, 'cs'));
  t.same(
    tally(
      await sendAll(
        client,
        2,
        (i) => `c${i + 1}`,
        () => 'z'.repeat(1000),
        'c',
      ),
    ),
    { queued: 1, 'QUOTA_EXCEEDED:cluster': 1 },
  );
  const push = await call<{ status: string }>(h, 'POST', '/api/users/c2/messages', { token: TEST_ADMIN_TOKEN, body: { content: 'z'.repeat(1000) } });
  t.match(push, { status: 200, body: { status: 'queued' } });
  const total = await metric(h, /^gatehouse_offline_queue_bytes (\d+)/m);
  t.ok(total !== undefined && total > 2048, `the gauge (${total}) shows the total past the cap (the push)`);
  t.equal(await metric(h, /^gatehouse_offline_queue_refused_total\{reason="cluster"\} (\d+)/m), 1);
  await client.close();
});
