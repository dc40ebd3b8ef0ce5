/**
 * The ghost observer: for every bot that went silent (vanished or froze) it polls
 * `GET /api/online/players/:userId` with the admin token, on any usable node, every 250 ms, until
 * the store says `offline` (or the bot came back, or the run ended: then the ghost time is only
 * known to be at least that long, "censored"). Only those bots are polled.
 */
import type { GatewayNode } from './nodes.ts';

export interface GhostObservation {
  userId: string;
  kind: 'vanish' | 'freeze';
  nodeId: string | null;
  lastFrame: number;
  silentAt: number;
  /** Arrival of the last response still saying online (a lower bound of the offline moment). */
  lastOnlineAt: number | null;
  /** First response saying offline (its arrival time: an upper bound). */
  offlineAt: number | null;
  /** The store's logoutTime in that response. */
  logoutTime: number | null;
  logoutReason: string | null;
  /** Unresolved when the bot came back or the run ended. */
  censoredAt: number | null;
  polls: number;
  errors: number;
}

interface Watch {
  observation: GhostObservation;
  inflight: boolean;
}

export class GhostObserver {
  private readonly watched = new Map<string, Watch>();
  readonly results: GhostObservation[] = [];
  private timer: NodeJS.Timeout | undefined;
  private turn = 0;

  constructor(
    private readonly nodes: readonly GatewayNode[],
    private readonly adminToken: string,
    private readonly everyMs = 250,
  ) {}

  start(): void {
    this.timer = setInterval(() => this.tick(), this.everyMs);
  }

  silent(userId: string, kind: 'vanish' | 'freeze', lastFrame: number, at: number, nodeId: string | null): void {
    this.close(userId, at);
    const observation: GhostObservation = {
      userId,
      kind,
      nodeId,
      lastFrame,
      silentAt: at,
      lastOnlineAt: null,
      offlineAt: null,
      logoutTime: null,
      logoutReason: null,
      censoredAt: null,
      polls: 0,
      errors: 0,
    };
    this.results.push(observation);
    this.watched.set(userId, { observation, inflight: false });
  }

  back(userId: string, at: number): void {
    this.close(userId, at);
  }

  private close(userId: string, at: number): void {
    const watch = this.watched.get(userId);
    if (!watch) return;
    this.watched.delete(userId);
    if (watch.observation.offlineAt === null) watch.observation.censoredAt = at;
  }

  private tick(): void {
    const usable = this.nodes.filter((n) => n.usable);
    if (usable.length === 0) return;
    for (const [userId, watch] of this.watched) {
      if (watch.inflight) continue;
      const node = usable[this.turn++ % usable.length]!;
      watch.inflight = true;
      watch.observation.polls++;
      void fetch(`${node.url}/api/online/players/${encodeURIComponent(userId)}`, {
        headers: { authorization: `Bearer ${this.adminToken}` },
        signal: AbortSignal.timeout(2000),
      })
        .then(async (res) => {
          const at = Date.now();
          if (res.status !== 200 && res.status !== 404) {
            watch.observation.errors++;
            return;
          }
          const body = res.status === 200 ? ((await res.json()) as { status?: string; logoutTime?: number | null; logoutReason?: string | null }) : {};
          if (res.status === 404 || body.status === 'offline') {
            if (this.watched.get(userId) !== watch) return;
            watch.observation.offlineAt = at;
            watch.observation.logoutTime = body.logoutTime ?? null;
            watch.observation.logoutReason = body.logoutReason ?? null;
            this.watched.delete(userId);
          } else watch.observation.lastOnlineAt = at;
        })
        .catch(() => {
          watch.observation.errors++;
        })
        .finally(() => {
          watch.inflight = false;
        });
    }
  }

  stop(at = Date.now()): void {
    if (this.timer) clearInterval(this.timer);
    for (const userId of [...this.watched.keys()]) this.close(userId, at);
  }
}
