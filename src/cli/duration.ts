/** `--ttl` values: seconds as a bare number, or a number with s, m, h or d (`90`, `15m`, `12h`, `7d`). */
const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/** Seconds in `text`, or null when it is not a positive whole duration. */
export function parseDurationSeconds(text: string): number | null {
  const match = /^(\d{1,9})([smhd]?)$/.exec(text.trim());
  if (!match) return null;
  const seconds = Number(match[1]) * (UNIT_SECONDS[match[2] || 's'] ?? 1);
  return seconds > 0 ? seconds : null;
}
