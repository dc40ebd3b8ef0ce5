/** Free ports on 127.0.0.1, HTTP helpers, and readiness polling. */
import { createServer } from 'node:net';
import { sleep } from './proc.ts';

const handedOut = new Set<number>();

/** A port that was free a moment ago (never the same one twice in a run). */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await new Promise<number>((resolve, reject) => {
      const srv = createServer();
      srv.once('error', reject);
      srv.listen(0, '127.0.0.1', () => {
        const address = srv.address();
        const p = typeof address === 'object' && address ? address.port : 0;
        srv.close(() => resolve(p));
      });
    });
    if (port > 0 && !handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error('no free port found');
}

/** GET with a deadline; resolves to the status code, or 0 when nothing answered. */
export async function httpStatus(url: string, timeoutMs = 1000): Promise<number> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return 0;
  }
}

/** Polls `url` until it answers 200, `isDead()` says the process died, or the deadline passes. */
export async function waitHttpOk(url: string, deadlineMs: number, isDead: () => boolean): Promise<boolean> {
  const until = Date.now() + deadlineMs;
  while (Date.now() < until) {
    if (isDead()) return false;
    if ((await httpStatus(url, 1000)) === 200) return true;
    await sleep(100);
  }
  return false;
}
