/**
 * examples/game-client.ts for real: the bot connects to a gateway process in development auth
 * mode, pings, joins the lobby and chats in it (acked), and reconnects on its own when the
 * process is restarted on the same port, where the SDK joins the lobby again by itself; Ctrl-C (SIGINT) closes it
 * cleanly.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { startServer } from '../helpers/server-process.ts';
import { freePort } from './helpers.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));

t.test('the example bot survives a server restart', async (t) => {
  const port = await freePort();
  const env = { PORT: String(port), PGLITE_DIR: 'memory://', AUTH_MODE: 'none', SHUTDOWN_TIMEOUT_MS: '5000' };
  const first = await startServer(env);
  t.teardown(() => first.stop('SIGKILL'));

  const bot = spawn(process.execPath, ['--import', 'tsx', 'examples/game-client.ts'], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', GATEHOUSE_URL: `ws://127.0.0.1:${port}/ws`, BOT_ID: '7', CHAT_EVERY_MS: '300' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((resolve) => bot.once('exit', (code) => resolve(code)));
  t.teardown(() => {
    if (bot.exitCode === null) bot.kill('SIGKILL');
  });
  let stderr = '';
  bot.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const lines: string[] = [];
  const waiters: Array<{ re: RegExp; from: number; resolve: (line: string) => void }> = [];
  createInterface({ input: bot.stdout! }).on('line', (line) => {
    lines.push(line);
    for (const w of [...waiters]) {
      if (w.re.test(line)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  });
  /** The first line matching `re` printed after line index `from`. */
  const line = (re: RegExp, from = 0, timeoutMs = 30_000) =>
    new Promise<string>((resolve, reject) => {
      const seen = lines.slice(from).find((l) => re.test(l));
      if (seen) return resolve(seen);
      const timer = setTimeout(() => reject(new Error(`no line ${re} within ${timeoutMs} ms:\n${lines.join('\n')}\n${stderr}`)), timeoutMs);
      waiters.push({
        re,
        from,
        resolve: (l) => {
          clearTimeout(timer);
          resolve(l);
        },
      });
    });

  t.match(await line(/connected as bot-7/), /to node .* ping every 1000 ms/);
  t.ok(await line(/rtt \d+(\.\d+)? ms/), 'logs the RTT');
  // Wait for the outcome, whichever it is, then require the success: a failure is reported with
  // the bot's own explanation instead of a timeout.
  t.match(await line(/joined lobby|could not join lobby|server error/), /\] joined lobby$/, 'joins the lobby');
  // Alone in the lobby: nobody else got it, and the ack says so.
  t.match(await line(/said "hello #\d+|could not say "hello #\d+/), /\] said "hello #\d+ from bot-7" \(dropped\)$/, 'chats in the lobby, acked');

  const mark = lines.length;
  await first.stop('SIGTERM');
  t.match(await line(/closed (1001|1012).*reconnecting in \d+ ms/, mark), /reconnecting/, 'sees the restart');
  const second = await startServer(env);
  t.teardown(() => second.stop('SIGKILL'));
  t.ok(await line(/connected as bot-7/, mark), 'reconnected to the new process');
  // Rooms belong to a connection: the bot joins again on the new one.
  t.match(
    await line(/back in lobby|joined lobby|could not join lobby|rejoin|server error/, mark),
    /\] back in lobby after the reconnect$/,
    'the SDK joins the lobby again by itself',
  );

  bot.kill('SIGINT');
  t.equal(await exited, 0, 'Ctrl-C: clean exit');
  t.ok(lines.some((l) => /closed 1000 \(client closed\): not reconnecting/.test(l)));
  t.equal(stderr, '', 'nothing on stderr');
});
