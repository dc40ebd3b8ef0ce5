/**
 * An open connection does not keep its upgrade request alive. @fastify/websocket would hold the
 * Fastify request and reply (with the raw IncomingMessage, a ServerResponse and a child logger)
 * for the connection's whole life, several KB per connection; http/routes/ws.ts lets go of them.
 * Checked with a WeakRef to the raw request and a forced garbage collection while the socket is
 * open and serving.
 *
 * And the listeners on the socket are shared by every connection (http/routes/ws.ts keeps the session
 * on the socket): a closure per listener per connection would cost each a few hundred bytes.
 */
import t from 'tap';
import type { IncomingMessage } from 'node:http';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { buildTestApp, eventually } from '../helpers/build.ts';
import { TestClient } from '../helpers/ws-client.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

t.test('the upgrade request is garbage once the connection is open', async (t) => {
  const gw = await buildTestApp(t, 'embedded', { AUTH_MODE: 'none', AUTH_JWT_SECRET: '' });
  if (!gw) return;
  let request: WeakRef<IncomingMessage> | undefined;
  gw.app.websocketServer.once('connection', (_socket: unknown, raw: IncomingMessage) => {
    request = new WeakRef(raw);
  });
  const { client } = await TestClient.open(`${gw.wsUrl}/ws?userId=holder`);
  t.teardown(() => client.terminate());
  t.ok(request?.deref(), 'the upgrade request was seen');

  // Collected within a few rounds (a GC may run before the last references are dropped).
  await eventually(
    async () => {
      gc();
      await new Promise((resolve) => setImmediate(resolve));
      return request?.deref() === undefined;
    },
    5000,
    50,
  );
  t.pass('collected while the connection is open');
  t.ok(await client.ping(), 'and the connection still serves');
  t.equal(gw.app.gateway.connections.size, 1);
});

t.test('connections share their socket listeners: nothing is built per connection for them', async (t) => {
  const gw = await buildTestApp(t, 'embedded', { AUTH_MODE: 'none', AUTH_JWT_SECRET: '' });
  if (!gw) return;
  const a = (await TestClient.open(`${gw.wsUrl}/ws?userId=alice`)).client;
  const b = (await TestClient.open(`${gw.wsUrl}/ws?userId=bob`)).client;
  t.teardown(() => {
    a.terminate();
    b.terminate();
  });
  const [first, second] = [...gw.app.websocketServer.clients];
  t.ok(first && second, 'two server-side sockets');
  for (const event of ['message', 'pong', 'error', 'close']) {
    // the route's is the last one added (ws's server tracks its clients with a 'close' listener of its own)
    const ours = first!.listeners(event).at(-1);
    t.type(ours, 'function', `a '${event}' listener`);
    t.equal(ours, second!.listeners(event).at(-1), `the same '${event}' listener on both sockets`);
  }
  // and each still reaches its own session
  t.ok(await a.ping(), 'alice is answered');
  t.ok(await b.ping(), 'bob is answered');
  const users = [...gw.app.gateway.connections.sessions()].map((s) => s.userId).sort();
  t.same(users, ['alice', 'bob']);
});
