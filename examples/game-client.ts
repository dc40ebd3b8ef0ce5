/**
 * A bot on the Gatehouse client SDK: connects, pings (logs the RTT), joins the `lobby` room,
 * publishes a chat line every few seconds, logs what it receives, and reconnects on its own when
 * the server restarts.
 *
 *   npm start                 # the gateway on localhost:3000, development auth (?userId=)
 *   npm run example           # this bot, as bot-<random>
 *
 * Node 22+ has a global WebSocket (browsers too); on older Node pass the `ws` package's class
 * as the `WebSocket` option.
 *
 * Environment: GATEHOUSE_URL (default ws://localhost:3000/ws), GATEHOUSE_TOKEN (a player JWT,
 * for a gateway with AUTH_JWT_SECRET; otherwise the bot uses ?userId=), BOT_ID (default random),
 * CHAT_EVERY_MS (default 3000). Ctrl-C closes the connection and exits.
 */
import { GatehouseClient, GatehouseError } from '@gatehouse/client'; // packages/client, built by npm install

const url = process.env.GATEHOUSE_URL ?? 'ws://localhost:3000/ws';
const token = process.env.GATEHOUSE_TOKEN || undefined;
const name = `bot-${process.env.BOT_ID ?? Math.floor(Math.random() * 1000)}`;
const chatEveryMs = Number(process.env.CHAT_EVERY_MS ?? 3000);
const ROOM = 'lobby';

const log = (...parts: unknown[]) => console.log(`[${name} ${new Date().toISOString().slice(11, 23)}]`, ...parts);
const why = (error: unknown) => (error instanceof GatehouseError ? `${error.code}: ${error.message}` : String(error));

const client = new GatehouseClient({ url, ...(token ? { token } : { userId: name }) });

let pongs = 0;
client.on('connected', (c) => {
  log(`connected as ${c.userId} to node ${c.nodeId} (session ${c.sessionId}, ping every ${c.heartbeat.intervalMs} ms)`);
});
client.on('rejoined', ({ room }) => log(`back in ${room} after the reconnect`));
client.on('rejoinFailed', ({ room, error }) => log(`could not rejoin ${room} (${why(error)})`));
client.on('rtt', (ms) => {
  if (pongs++ % 5 === 0) log(`rtt ${ms.toFixed(1)} ms`);
});
client.on('message', (m) => log(`message from ${m.from ?? 'server'}${m.offline ? ' (sent while offline)' : ''}:`, m.content));
client.on('room', (m) => log(`[${m.room}] ${m.from ?? 'server'}:`, m.content));
client.on('broadcast', (b) => log('broadcast:', b.content));
client.on('error', (e) => log(`server error ${e.code}: ${e.error}`));
client.on('kicked', (k) => log(`kicked: ${k.reason}`));
client.on('reconnect', (r) => log(`server asks to reconnect (${r.reason})`));
client.on('close', (c) =>
  log(`closed ${c.code}${c.reason ? ` (${c.reason})` : ''}: ${c.willReconnect ? `reconnecting in ${c.delayMs} ms` : 'not reconnecting'}`),
);

let line = 0;
const chat = setInterval(() => {
  if (client.state !== 'connected') return;
  const text = `hello #${++line} from ${name}`;
  client.publish(ROOM, { text }).then(
    (ack) => log(`said "${text}" (${ack.status})`),
    (error: unknown) => log(`could not say "${text}" (${why(error)})`),
  );
}, chatEveryMs);

const stop = () => {
  clearInterval(chat);
  log('closing');
  void client.close().then(() => process.exit(0));
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);

log(`connecting to ${url}`);
client.connect().then(
  // Joined once: after a reconnect the SDK joins the room again by itself (`rejoined`).
  () =>
    client.join(ROOM).then(
      () => log(`joined ${ROOM}`),
      (error: unknown) => log(`could not join ${ROOM} (${why(error)}), carrying on`),
    ),
  (error: unknown) => {
    log(`gave up: ${why(error)}`);
    clearInterval(chat);
    process.exitCode = 1;
  },
);
