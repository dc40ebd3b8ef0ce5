/**
 * Reaching into a server process without changing its code, through the V8 inspector: every
 * server is started with `--inspect-port=127.0.0.1:<port>` (which does not open it); SIGUSR1
 * opens it when needed. Used for
 * - a full GC of the main isolate and of every worker isolate (e.g. the ESM loader thread of
 *   `--import tsx`, whose heap otherwise shrinks at a random later moment and skews the RSS
 *   baseline) before reading RSS, identically for every server;
 * - CPU profiles of exactly the measuring window (`--profile`), the same V8 sampling profiler as
 *   `node --cpu-prof`, without the start-up and the connect ramp.
 */
import WebSocket from 'ws';
import { sleep } from './proc.ts';

interface Target {
  webSocketDebuggerUrl?: string;
  type?: string;
}

interface CdpMessage {
  id?: number;
  method?: string;
  result?: unknown;
  error?: { message: string };
  params?: { sessionId?: string; message?: string };
}

async function debuggerUrl(inspectPort: number, deadlineMs: number): Promise<string | undefined> {
  const until = Date.now() + deadlineMs;
  while (Date.now() < until) {
    try {
      const res = await fetch(`http://127.0.0.1:${inspectPort}/json/list`, { signal: AbortSignal.timeout(500) });
      const list = (await res.json()) as Target[];
      const target = list.find((t) => t.type === 'node' && t.webSocketDebuggerUrl) ?? list[0];
      if (target?.webSocketDebuggerUrl) return target.webSocketDebuggerUrl;
    } catch {
      /* not open yet */
    }
    await sleep(50);
  }
  return undefined;
}

export class InspectorSession {
  private nextId = 1;
  readonly workers: string[] = [];
  private readonly waiting = new Map<string, (m: CdpMessage) => void>();
  private readonly listeners = new Map<string, (params: Record<string, unknown>) => void>();

  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const msg = JSON.parse(data.toString()) as CdpMessage;
      if (msg.method && this.listeners.has(msg.method)) {
        this.listeners.get(msg.method)!((msg.params ?? {}) as Record<string, unknown>);
        return;
      }
      if (msg.method === 'NodeWorker.attachedToWorker' && msg.params?.sessionId) {
        this.workers.push(msg.params.sessionId);
        return;
      }
      if (msg.method === 'NodeWorker.receivedMessageFromWorker' && msg.params?.message) {
        const inner = JSON.parse(msg.params.message) as CdpMessage;
        if (inner.id !== undefined) this.waiting.get(`${msg.params.sessionId}:${inner.id}`)?.(inner);
        return;
      }
      if (msg.id !== undefined) this.waiting.get(`main:${msg.id}`)?.(msg);
    });
  }

  /** Opens the inspector of `pid` (SIGUSR1) and attaches to its main thread. */
  static async open(pid: number, inspectPort: number): Promise<InspectorSession> {
    process.kill(pid, 'SIGUSR1'); // idempotent once open
    const url = await debuggerUrl(inspectPort, 5000);
    if (!url) throw new Error(`inspector of ${pid} did not open on ${inspectPort}`);
    const ws = new WebSocket(url, { perMessageDeflate: false });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return new InspectorSession(ws);
  }

  private wait(key: string, timeoutMs: number): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(key);
        reject(new Error(`${key} timed out`));
      }, timeoutMs);
      this.waiting.set(key, (m) => {
        clearTimeout(timer);
        this.waiting.delete(key);
        if (m.error) reject(new Error(m.error.message));
        else resolve(m.result);
      });
    });
  }

  call<T = unknown>(method: string, params: object = {}, timeoutMs = 30_000): Promise<T> {
    const id = this.nextId++;
    const done = this.wait(`main:${id}`, timeoutMs);
    this.ws.send(JSON.stringify({ id, method, params }));
    return done as Promise<T>;
  }

  callWorker(sessionId: string, method: string, timeoutMs = 30_000): Promise<unknown> {
    const id = this.nextId++;
    const done = this.wait(`${sessionId}:${id}`, timeoutMs);
    void this.call('NodeWorker.sendMessageToWorker', { sessionId, message: JSON.stringify({ id, method }) }).catch(() => {});
    return done;
  }

  /** One listener per event method (e.g. HeapProfiler.addHeapSnapshotChunk). */
  on(method: string, listener: (params: Record<string, unknown>) => void): void {
    this.listeners.set(method, listener);
  }

  close(): void {
    this.ws.close();
  }
}

/** V8 heap usage of the main isolate (after a GC it is the live heap), in bytes. */
export async function heapUsage(pid: number, inspectPort: number): Promise<{ usedSize: number; totalSize: number } | null> {
  let session: InspectorSession | undefined;
  try {
    session = await InspectorSession.open(pid, inspectPort);
    return await session.call<{ usedSize: number; totalSize: number }>('Runtime.getHeapUsage');
  } catch {
    return null;
  } finally {
    session?.close();
  }
}

/** A heap snapshot of the main isolate (the DevTools .heapsnapshot JSON text). */
export async function heapSnapshot(pid: number, inspectPort: number): Promise<string> {
  const session = await InspectorSession.open(pid, inspectPort);
  try {
    const chunks: string[] = [];
    session.on('HeapProfiler.addHeapSnapshotChunk', (p) => chunks.push(String(p.chunk ?? '')));
    await session.call('HeapProfiler.enable');
    await session.call('HeapProfiler.takeHeapSnapshot', { reportProgress: false, captureNumericValue: false }, 300_000);
    await session.call('HeapProfiler.disable').catch(() => {});
    return chunks.join('');
  } finally {
    session.close();
  }
}

/** Full GCs of every isolate of process `pid`. Returns false (never throws) when it could not. */
export async function forceGc(pid: number, inspectPort: number): Promise<boolean> {
  let session: InspectorSession | undefined;
  try {
    session = await InspectorSession.open(pid, inspectPort);
    try {
      await session.call('NodeWorker.enable', { waitForDebuggerOnStart: false });
      await sleep(200); // attachedToWorker events arrive right after enable
      for (const id of session.workers) await session.callWorker(id, 'HeapProfiler.collectGarbage');
      await session.call('NodeWorker.disable');
    } catch {
      /* workers are a bonus; the main isolate is what matters */
    }
    await session.call('HeapProfiler.collectGarbage');
    await session.call('HeapProfiler.collectGarbage');
    return true;
  } catch {
    return false;
  } finally {
    session?.close();
  }
}

/** A running CPU profile of one process; `stop()` returns the .cpuprofile JSON text. */
export class CpuProfile {
  private constructor(private readonly session: InspectorSession) {}

  static async start(pid: number, inspectPort: number, samplingIntervalUs = 500): Promise<CpuProfile> {
    const session = await InspectorSession.open(pid, inspectPort);
    await session.call('Profiler.enable');
    await session.call('Profiler.setSamplingInterval', { interval: samplingIntervalUs });
    await session.call('Profiler.start');
    return new CpuProfile(session);
  }

  async stop(): Promise<string> {
    try {
      const { profile } = await this.session.call<{ profile: unknown }>('Profiler.stop', {}, 60_000);
      await this.session.call('Profiler.disable').catch(() => {});
      return JSON.stringify(profile);
    } finally {
      this.session.close();
    }
  }
}
