/**
 * The throttling proxy of the hostile benchmark (attack 4's slow player): what passes through
 * arrives intact, in order, and no faster than the configured rate.
 */
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import t from 'tap';
import { ThrottledProxy } from '../../bench/lib/throttled-proxy.ts';

t.test('256 KB/s: 128 KB take at least ~0.4 s and arrive byte for byte', async (t) => {
  const payload = randomBytes(128 * 1024);
  const server = net.createServer((socket) => socket.end(payload));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const proxy = await ThrottledProxy.start((server.address() as net.AddressInfo).port, 256 * 1024);
  t.teardown(async () => {
    await proxy.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const started = performance.now();
  const received = await new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    const client = net.connect(proxy.port, '127.0.0.1');
    client.on('data', (c: Buffer) => {
      chunks.push(c);
      if (chunks.reduce((n, b) => n + b.length, 0) >= payload.length) {
        client.destroy();
        resolve(Buffer.concat(chunks));
      }
    });
    client.on('error', reject);
    // Closed early (bytes lost in the proxy): resolve with what came, the check below fails.
    client.on('close', () => resolve(Buffer.concat(chunks)));
  });
  const elapsed = performance.now() - started;
  t.ok(received.equals(payload), 'every byte, in order');
  // 128 KB at 256 KB/s is 500 ms; the two-tick burst allowance and timer slack stay well under 100 ms.
  t.ok(elapsed >= 400, `not faster than the link (${Math.round(elapsed)} ms)`);
});
