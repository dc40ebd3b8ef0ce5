/** Client message ids: what names a frame in its ack and in the `ref` of an error. */

let idCounter = 0;

/** A unique client message id: crypto.randomUUID where available, else time + counter + random. */
export function newMessageId(): string {
  const c = (globalThis as { crypto?: { randomUUID?: () => string } }).crypto;
  if (typeof c?.randomUUID === 'function') return c.randomUUID();
  idCounter = (idCounter + 1) % Number.MAX_SAFE_INTEGER;
  return `${Date.now().toString(36)}-${idCounter.toString(36)}-${Math.random().toString(36).slice(2, 12)}`;
}
