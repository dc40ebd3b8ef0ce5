/** POST /api/broadcast on one node: admin only, delivered to every session once, bounded size. */
import t from 'tap';
import { buildTestApp, TEST_ADMIN_TOKEN } from '../helpers/build.ts';
import { TestClient } from '../helpers/ws-client.ts';

t.test('broadcast', async (t) => {
  const h = (await buildTestApp(t, 'embedded', { MAX_CONTENT_BYTES: '256' }))!;
  const post = (body: unknown, token = TEST_ADMIN_TOKEN) =>
    fetch(`${h.baseUrl}/api/broadcast`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  const clients = await Promise.all(['x1', 'x2', 'x3'].map(async (u) => (await TestClient.open(`${h.wsUrl}/ws?token=${h.token(u)}`)).client));

  const ok = await post({ content: 'hello all' });
  t.equal(ok.status, 200);
  t.same(await ok.json(), { localSessions: 3 });
  for (const c of clients) t.match(await c.next('broadcast'), { content: 'hello all' });

  const player = await post({ content: 'x' }, h.token('x1'));
  t.equal(player.status, 403, 'a player token is refused');
  t.equal((await post({ content: 'x' }, 'wrong-token')).status, 401);
  const missing = await post({});
  t.equal(missing.status, 400);
  t.equal(((await missing.json()) as { code: string }).code, 'GW_VALIDATION');
  const big = await post({ content: 'z'.repeat(300) });
  t.equal(big.status, 400);
  t.equal(((await big.json()) as { code: string }).code, 'GW_TOO_LARGE');
  await Promise.all(clients.map((c) => c.ping()));
  t.ok(
    clients.every((c) => c.frames.every((f) => f.type !== 'broadcast')),
    'refused broadcasts delivered nothing',
  );
  await Promise.all(clients.map((c) => c.close()));
});
