/**
 * A peer that vanished (network gone, phone in a tunnel) never answers anything: not pings, not
 * the server's close frame. The heartbeat timeout sends close 4000, and the socket must then end
 * after CLOSE_TIMEOUT_MS, so that the logout runs seconds after the silence began, instead of
 * after ws's default 30 s wait for a close handshake that will never come.
 *
 * The peer here is a raw TCP socket that completes the WebSocket upgrade and then goes silent.
 */
import t from 'tap';
import { connect, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { buildTestApp, eventually, logLines } from '../helpers/build.ts';

/** Upgrades to WebSocket on /ws and then never reads a frame or answers one. */
async function silentPeer(port: number, userId: string): Promise<{ socket: Socket; ended: Promise<number> }> {
  const socket = connect(port, '127.0.0.1');
  const openedAt = Date.now();
  const ended = new Promise<number>((resolve) => socket.once('close', () => resolve(Date.now() - openedAt)));
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.once('connect', () => {
      socket.write(
        `GET /ws?userId=${userId} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
          `Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\n\r\n`,
      );
    });
    let head = '';
    const onData = (chunk: Buffer) => {
      head += chunk.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      socket.off('data', onData);
      if (!head.startsWith('HTTP/1.1 101')) reject(new Error(`no upgrade: ${head.split('\r\n')[0]}`));
      else resolve();
    };
    socket.on('data', onData);
  });
  // From here on the bytes the server sends (connected, pings, the close frame) are read by the
  // kernel and discarded: nothing is ever written back.
  socket.on('data', () => {});
  socket.on('error', () => {});
  return { socket, ended };
}

t.test('a vanished peer is logged out within timeout + close timeout', async (t) => {
  const closeTimeoutMs = 200;
  const gw = await buildTestApp(t, 'embedded', {
    AUTH_MODE: 'none',
    AUTH_JWT_SECRET: '',
    HEARTBEAT_TIMEOUT_MS: '300',
    WATCHDOG_INTERVAL_MS: '50',
    CLOSE_TIMEOUT_MS: String(closeTimeoutMs),
  });
  if (!gw) return;
  const port = Number(new URL(gw.baseUrl).port);
  const peer = await silentPeer(port, 'ghost');
  t.teardown(() => peer.socket.destroy());
  await eventually(async () => (await gw.app.presence.getPlayer('ghost'))?.status === 'online', 5000);

  // ws's own default would hold the socket for 30 s after the 4000 close frame; 5 s is far
  // above 300 ms + 200 ms + a watchdog tick, and far below 30 s.
  const lifetimeMs = await Promise.race([peer.ended, new Promise<number>((resolve) => setTimeout(() => resolve(Infinity), 5000))]);
  t.ok(lifetimeMs < 5000, `the server ended the socket (after ${lifetimeMs} ms)`);
  const logout = await eventually(() => logLines(gw.logs, 'user logged out').find((l) => l.userId === 'ghost'), 2000);
  t.equal(logout.reason, 'timeout', 'logged out for the heartbeat timeout');
  const player = await gw.app.presence.getPlayer('ghost');
  t.equal(player?.status, 'offline');
  const user = await gw.app.players.getUser('ghost');
  t.ok(user?.lastSpiritGainTime, 'the database row is stamped');
});
