/**
 * Whether a user id belongs to someone the gateway knows: the offline queue keeps messages only
 * for them, so a flood of messages to invented ids stores nothing (issue 16, hostile clients).
 *
 * Known = the online store has their presence entry (online, reconnecting, or recently offline:
 * also covers a first login whose database write is still batched), or the database has their
 * user row (every user who ever logged in has one).
 *
 * Cost of a flood to random ids, bounded three ways:
 * - answers are cached (a bounded LRU): known ids for a long time (a user row is never deleted by
 *   the gateway), unknown ids briefly (the user may log in for the first time any moment);
 * - concurrent questions about the same id share one lookup, and the database lookups of one
 *   tick go out as one query (`existingUsers` with every id);
 * - each sender may cause at most `lookupsPerSender` lookups (cache misses) per `lookupWindowMs`
 *   on this node; past it the answer is `busy` without any lookup (QUOTA_EXCEEDED `lookups`).
 */
import type { PlayerRepository } from '../presence/player-repository.ts';
import type { PresenceStore } from '../presence/presence-store.ts';

export type KnownVerdict = 'known' | 'unknown' | 'busy';

export interface KnownUsersOptions {
  presence: Pick<PresenceStore, 'getPlayer'>;
  players: Pick<PlayerRepository, 'existingUsers'>;
  now: () => number;
  /** Ids remembered (known and unknown together); the least recently used go first. */
  cacheMax?: number;
  /** How long a known id is remembered. */
  knownTtlMs?: number;
  /** How long an unknown id is remembered (a first login makes it known within this long). */
  unknownTtlMs?: number;
  /** Cache misses one sender may cause per window. */
  lookupsPerSender?: number;
  lookupWindowMs?: number;
}

export const KNOWN_USERS_DEFAULTS = {
  cacheMax: 100_000,
  knownTtlMs: 600_000,
  unknownTtlMs: 30_000,
  // A player messages a handful of new people a minute; an attacker's random ids miss every time.
  lookupsPerSender: 30,
  lookupWindowMs: 60_000,
} as const;

/** Ids per database query (one `= ANY($1)` statement). */
const BATCH_MAX = 500;

interface Cached {
  known: boolean;
  until: number;
}

interface Budget {
  used: number;
  resetAt: number;
}

export class KnownUsers {
  private readonly cache = new Map<string, Cached>();
  private readonly inFlight = new Map<string, Promise<boolean>>();
  private readonly budgets = new Map<string, Budget>();
  private batch: Array<{ userId: string; resolve: (known: boolean) => void; reject: (error: unknown) => void }> = [];
  private readonly settings: Required<Omit<KnownUsersOptions, 'presence' | 'players' | 'now'>>;
  /** Database queries sent (tests, diagnostics). */
  queries = 0;

  constructor(private readonly options: KnownUsersOptions) {
    this.settings = {
      cacheMax: options.cacheMax ?? KNOWN_USERS_DEFAULTS.cacheMax,
      knownTtlMs: options.knownTtlMs ?? KNOWN_USERS_DEFAULTS.knownTtlMs,
      unknownTtlMs: options.unknownTtlMs ?? KNOWN_USERS_DEFAULTS.unknownTtlMs,
      lookupsPerSender: options.lookupsPerSender ?? KNOWN_USERS_DEFAULTS.lookupsPerSender,
      lookupWindowMs: options.lookupWindowMs ?? KNOWN_USERS_DEFAULTS.lookupWindowMs,
    };
  }

  /**
   * Whether `userId` is known; `sender` (absent for the admin API) pays for a cache miss out of
   * its lookup budget. Rejects when neither the online store nor the database can answer.
   */
  async check(userId: string, sender?: string): Promise<KnownVerdict> {
    const now = this.options.now();
    const cached = this.cache.get(userId);
    if (cached && cached.until > now) {
      // Most recently used last: Map order is the LRU order.
      this.cache.delete(userId);
      this.cache.set(userId, cached);
      return cached.known ? 'known' : 'unknown';
    }
    if (sender !== undefined && !this.inFlight.has(userId) && !this.spend(sender, now)) return 'busy';
    let lookup = this.inFlight.get(userId);
    if (!lookup) {
      lookup = this.lookUp(userId).finally(() => this.inFlight.delete(userId));
      this.inFlight.set(userId, lookup);
    }
    return (await lookup) ? 'known' : 'unknown';
  }

  private async lookUp(userId: string): Promise<boolean> {
    const known = (await this.options.presence.getPlayer(userId)) !== null || (await this.inDatabase(userId));
    this.put(userId, known, this.options.now());
    return known;
  }

  /** Joins the next batched `existingUsers` query (one per tick, up to BATCH_MAX ids). */
  private inDatabase(userId: string): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.batch.push({ userId, resolve, reject });
      if (this.batch.length === 1) setImmediate(() => this.flush());
      else if (this.batch.length >= BATCH_MAX) this.flush();
    });
  }

  private flush(): void {
    const batch = this.batch;
    if (batch.length === 0) return;
    this.batch = [];
    this.queries++;
    this.options.players.existingUsers(batch.map((b) => b.userId)).then(
      (found) => {
        for (const b of batch) b.resolve(found.has(b.userId));
      },
      (error: unknown) => {
        for (const b of batch) b.reject(error);
      },
    );
  }

  private put(userId: string, known: boolean, now: number): void {
    this.cache.delete(userId);
    this.cache.set(userId, { known, until: now + (known ? this.settings.knownTtlMs : this.settings.unknownTtlMs) });
    if (this.cache.size > this.settings.cacheMax) this.cache.delete(this.cache.keys().next().value!);
  }

  /** Takes one lookup from the sender's budget; false when it is spent for this window. */
  private spend(sender: string, now: number): boolean {
    let budget = this.budgets.get(sender);
    if (!budget || budget.resetAt <= now) {
      if (!budget && this.budgets.size >= this.settings.cacheMax) this.pruneBudgets(now);
      budget = { used: 0, resetAt: now + this.settings.lookupWindowMs };
      this.budgets.set(sender, budget);
    }
    if (budget.used >= this.settings.lookupsPerSender) return false;
    budget.used++;
    return true;
  }

  /** Bounded like the cache: expired windows go, then the oldest if still full. */
  private pruneBudgets(now: number): void {
    for (const [sender, budget] of this.budgets) if (budget.resetAt <= now) this.budgets.delete(sender);
    if (this.budgets.size >= this.settings.cacheMax) this.budgets.delete(this.budgets.keys().next().value!);
  }
}
