/**
 * Pieces for unit tests of the pure core: a manual clock, a log collector, and a socket that
 * records what the core did to it (the WebSocket tests use real sockets).
 */
import type { CoreLogger } from '../../src/core-logger.ts';
import { Session, sessionConfig, type SessionSocket } from '../../src/connection/session.ts';
import type { GatewaySettings } from '../../src/gateway/gateway-deps.ts';

export class ManualClock {
  constructor(public value = 1_700_000_000_000) {}
  now = (): number => this.value;
  advance(ms: number): number {
    this.value += ms;
    return this.value;
  }
}

export interface LogEntry {
  level: 'info' | 'warn' | 'error';
  msg: string;
  fields: Record<string, unknown>;
}

export function collectingLogger(): CoreLogger & { entries: LogEntry[]; messages(msg: string): LogEntry[] } {
  const entries: LogEntry[] = [];
  const at = (level: LogEntry['level']) => (fields: object, msg: string) => void entries.push({ level, msg, fields: fields as Record<string, unknown> });
  return {
    entries,
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    messages: (msg: string) => entries.filter((e) => e.msg === msg),
  };
}

export class RecordingSocket implements SessionSocket {
  bufferedAmount = 0;
  sent: string[] = [];
  closedWith: { code: number; reason: string } | undefined;
  terminated = false;
  pings = 0;
  /** Whether the core paused reading (inbound budget), and how many times. */
  paused = false;
  pauses = 0;
  /** Written out at once (bufferedAmount stays 0); a callback, when given, comes a microtask later. */
  send(data: string, cb?: (err?: Error | null) => void): void {
    this.sent.push(data);
    if (cb) queueMicrotask(() => cb(null));
  }
  close(code: number, reason: string): void {
    this.closedWith ??= { code, reason };
  }
  terminate(): void {
    this.terminated = true;
  }
  ping(): void {
    this.pings++;
  }
  pause(): void {
    this.paused = true;
    this.pauses++;
  }
  resume(): void {
    this.paused = false;
  }
}

export const LIMITS = {
  sendQueueMax: 64,
  sendQueueMaxBytes: 1 << 20,
  slowConsumerDrops: 0,
  maxMessagesPerSec: 1000,
  rateLimitStrikes: 5,
};

/** A gateway's settings with the product's defaults (policy `replace`), `overrides` on top. */
export function gatewaySettings(overrides: Partial<GatewaySettings> = {}): GatewaySettings {
  return {
    ...LIMITS,
    nodeId: 'n1',
    sessionPolicy: 'replace',
    maxConnections: 100,
    maxSessionsPerUser: 5,
    maxContentBytes: 65_536,
    heartbeatIntervalMs: 1000,
    heartbeatTimeoutMs: 10_000,
    writeTimeoutMs: 10_000,
    wsPingIntervalMs: 25_000,
    heartbeatFlushIntervalMs: 1000,
    ...overrides,
  };
}

export function makeSession(userId: string, clock: ManualClock, id = `s-${userId}-${Math.random().toString(36).slice(2, 8)}`) {
  const socket = new RecordingSocket();
  const session = new Session({ id, userId, username: userId, socket, config: sessionConfig({ limits: LIMITS, now: clock.now }) });
  session.state = 'open';
  return { session, socket };
}
