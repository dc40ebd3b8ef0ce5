/** Helpers of the SDK suites against a real gateway. */
import WebSocket from 'ws';
import type { Socket } from 'node:net';
import { GatehouseClient, type GatehouseClientOptions, type GatehouseEvents } from '../../src/client/index.ts';

/** An SDK client on Node's `ws`. */
export function sdkClient(options: Omit<GatehouseClientOptions, 'WebSocket'>): GatehouseClient {
  return new GatehouseClient({ WebSocket, ...options });
}

/** The next `event` of a client (matching `where`), or a rejection after `timeoutMs`. */
export function nextEvent<K extends keyof GatehouseEvents>(
  client: GatehouseClient,
  event: K,
  timeoutMs = 5000,
  where: (payload: GatehouseEvents[K]) => boolean = () => true,
): Promise<GatehouseEvents[K]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`no ${String(event)} event within ${timeoutMs} ms`));
    }, timeoutMs);
    const off = client.on(event, (payload) => {
      if (!where(payload)) return;
      clearTimeout(timer);
      off();
      resolve(payload);
    });
  });
}

/** The TCP socket under an SDK client's `ws` WebSocket (to stop reading, like a frozen client). */
export function tcpOf(client: GatehouseClient): Socket {
  const raw = client.rawSocket as unknown as { _socket?: Socket } | undefined;
  if (!raw?._socket) throw new Error('no open socket');
  return raw._socket;
}

export { freePort } from '../helpers/ports.ts';

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
