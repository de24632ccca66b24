/**
 * Durations and sizes as people write them in a spec, normalized to plain numbers:
 * durations to milliseconds (may be fractional: '500us' → 0.5), sizes to whole bytes.
 * Parsers return `undefined` for invalid input so each caller raises its own coded error.
 */

const DURATION_UNITS_MS: Readonly<Record<string, number>> = {
  us: 0.001,
  'µs': 0.001,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

const DURATION_PART = /(\d+(?:\.\d+)?)(us|µs|ms|s|m|h|d|w)/y;

/** The string form of a duration, as a JSON Schema pattern (accepts exactly what parseDuration accepts). */
export const DURATION_PATTERN = '^(0|([0-9]+(\\.[0-9]+)?(us|µs|ms|s|m|h|d|w))+)$';

/** What a valid duration looks like; used in error messages and docs. */
export const DURATION_HELP =
  "a number with a unit us, ms, s, m, h, d or w (e.g. '500us', '2ms', '30s', '1m30s', '30d', '2w'), or a number of milliseconds";

/**
 * Parse a duration to milliseconds.
 * Strings need a unit (`us|ms|s|m|h|d|w`, parts may be combined: `'1m30s'`); `'0'` is allowed.
 * Numbers are milliseconds. Negative, non-finite and unit-less strings are invalid.
 *
 * @example parseDuration('500us') === 0.5; parseDuration('30s') === 30000; parseDuration(250) === 250
 */
export function parseDuration(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? value : undefined;
  if (typeof value !== 'string') return undefined;
  if (value === '0') return 0;
  if (value.length === 0) return undefined;
  let total = 0;
  DURATION_PART.lastIndex = 0;
  while (DURATION_PART.lastIndex < value.length) {
    const m = DURATION_PART.exec(value);
    if (m === null) return undefined;
    total += Number(m[1]) * (DURATION_UNITS_MS[m[2] as string] as number);
  }
  // Round away binary noise from sub-millisecond units ('300us' → 0.3, not 0.30000000000000004).
  return Math.round(total * 1e6) / 1e6;
}

const SIZE_UNITS: Readonly<Record<string, number>> = {
  '': 1,
  b: 1,
  kb: 1e3,
  kib: 1024,
  mb: 1e6,
  mib: 1024 ** 2,
  gb: 1e9,
  gib: 1024 ** 3,
};

const SIZE_RE = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i;

/** The string form of a size, as a JSON Schema pattern (accepts exactly what parseSize accepts). */
export const SIZE_PATTERN = '^[0-9]+(\\.[0-9]+)?\\s*([bB]|[kKmMgG][iI]?[bB])?$';

/** What a valid size looks like; used in error messages and docs. */
export const SIZE_HELP =
  "a number with a unit B, KB, KiB, MB, MiB, GB or GiB, case-insensitive (e.g. '32MiB', '8mb'), or a number of bytes";

/**
 * Parse a size to whole bytes (rounded). Units are case-insensitive; KB/MB/GB are powers
 * of 1000, KiB/MiB/GiB powers of 1024. Numbers (and unit-less numeric strings) are bytes.
 *
 * @example parseSize('32MiB') === 33554432; parseSize('8mb') === 8000000; parseSize(1024) === 1024
 */
export function parseSize(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isInteger(value) && value >= 0 ? value : undefined;
  if (typeof value !== 'string') return undefined;
  const m = SIZE_RE.exec(value);
  if (m === null) return undefined;
  const factor = SIZE_UNITS[(m[2] as string).toLowerCase()];
  if (factor === undefined) return undefined;
  return Math.round(Number(m[1]) * factor);
}

/** Format milliseconds the way a user would write them: 30000 → '30s', 0.5 → '500us', 90000 → '90s', 60480000 → '16h48m'. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0ms';
  const units: Array<[string, number]> = [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000], ['ms', 1], ['us', 0.001]];
  for (let i = 0; i < units.length; i++) {
    const [unit, size] = units[i]!;
    const n = ms / size;
    if (!Number.isInteger(n) && unit !== 'us') continue;
    // Many of a small unit read better in two parts: 1008m as 16h48m (90s and 84m stay).
    const bigger = units[i - 1];
    if (bigger && (unit === 'h' ? n > 72 : unit === 'm' || unit === 's' ? n > 120 : false)) {
      const whole = Math.floor(ms / bigger[1]);
      const rest = ms - whole * bigger[1];
      return `${whole}${bigger[0]}${rest > 0 ? formatDuration(rest) : ''}`;
    }
    return `${Math.round(n * 1000) / 1000}${unit}`;
  }
  return `${ms}ms`;
}

/** Format bytes with the largest binary unit that divides them exactly: 33554432 → '32MiB', 1000 → '1000B'. */
export function formatSize(bytes: number): string {
  const units: Array<[string, number]> = [['GiB', 1024 ** 3], ['MiB', 1024 ** 2], ['KiB', 1024]];
  for (const [unit, size] of units) {
    if (bytes !== 0 && bytes % size === 0) return `${bytes / size}${unit}`;
  }
  return `${bytes}B`;
}
