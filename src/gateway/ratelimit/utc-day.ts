/** UTC calendar days for daily quotas. Leaf module. */

export const DAY_MS = 86_400_000;

/** Days since 1970-01-01 UTC of the wall-clock time `ms`. */
export function utcDay(ms: number): number {
  return Math.floor(ms / DAY_MS);
}

/** ms from `ms` until the next 00:00 UTC (in (0, DAY_MS]). */
export function msUntilUtcMidnight(ms: number): number {
  return (utcDay(ms) + 1) * DAY_MS - ms;
}

