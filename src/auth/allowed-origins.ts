/**
 * Which browser pages may open /ws. Browsers send `Origin` on every WebSocket handshake and
 * let any page connect anywhere, with the player's cookies; native game clients and servers
 * send none. So: a handshake without Origin is allowed; one with an Origin must be listed in
 * ALLOWED_ORIGINS (exact origins, or `*`). Unset ALLOWED_ORIGINS allows every origin, except in
 * production, where a browser handshake is refused until the operator lists the game's pages.
 */
export interface OriginPolicy {
  /** True when a handshake with this Origin header (undefined: none) may proceed. */
  allows(origin: string | undefined): boolean;
  /** Production without ALLOWED_ORIGINS: every browser is refused (worth a startup warning). */
  readonly refusesEveryBrowser: boolean;
}

export function originPolicy(allowedOrigins: string | undefined, production: boolean): OriginPolicy {
  if (allowedOrigins === undefined) {
    return { allows: (origin) => origin === undefined || !production, refusesEveryBrowser: production };
  }
  const list = allowedOrigins.split(',').map((o) => o.trim().toLowerCase());
  if (list.includes('*')) return { allows: () => true, refusesEveryBrowser: false };
  const allowed = new Set(list);
  return { allows: (origin) => origin === undefined || allowed.has(origin.toLowerCase()), refusesEveryBrowser: false };
}
