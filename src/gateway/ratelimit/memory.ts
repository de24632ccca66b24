/**
 * Rate limits held in this process: a Map of token buckets and daily counters. Limits are
 * per gateway; use the Redis limiter to share them between gateways.
 *
 * Memory stays bounded: entries whose bucket has refilled completely and that used no
 * daily quota today hold no information (a missing entry means a full bucket), so they
 * are dropped by a sweep that runs during `take` at most once per `sweepIntervalMs`. If
 * more than `maxKeys` entries are live anyway (a flood of distinct keys), the oldest
 * entries are dropped, which resets them to full: under such a flood limits err on the
 * side of letting requests through rather than exhausting memory.
 */
import { systemClock, type Clock } from '../../clock.js';
import type { RateLimitSpec } from '../../spec/types.js';
import { checkCost, type Decision, type LimitCheck, type MultiDecision, type RateLimiter } from './types.js';
import { msUntilUtcMidnight, utcDay } from './utc-day.js';

export interface MemoryRateLimiterOptions {
  /** Buckets refill on `clock.now()`; daily quotas follow `clock.date()` (UTC). Default: the system clock. */
  clock?: Clock;
  /** Entries kept at most before the oldest are dropped. Default 100 000. */
  maxKeys?: number;
  /** Least time between two sweeps for idle entries, ms. Default 10 000. */
  sweepIntervalMs?: number;
}

/** Tolerance for floating-point refill arithmetic (0.998 + 0.002 must make a whole token). */
const EPSILON = 1e-9;

interface Entry {
  /** Tokens at `at` (clock.now() ms). */
  tokens: number;
  at: number;
  /** The limit last applied, to judge fullness during sweeps. */
  rate: number;
  burst: number;
  /** UTC day of `used`. */
  day: number;
  used: number;
}

interface Judged {
  tokens: number;
  used: number;
  wait: number;
  reason: 'rate' | 'daily' | undefined;
}

function tokensAt(e: Entry | undefined, limit: RateLimitSpec, now: number): number {
  if (!e) return limit.burst;
  return Math.min(limit.burst, e.tokens + (Math.max(0, now - e.at) * limit.rate) / 1000);
}

export class MemoryRateLimiter implements RateLimiter {
  readonly kind = 'memory';
  readonly #clock: Clock;
  readonly #maxKeys: number;
  readonly #sweepIntervalMs: number;
  readonly #entries = new Map<string, Entry>();
  #lastSweep: number;

  constructor(opts: MemoryRateLimiterOptions = {}) {
    this.#clock = opts.clock ?? systemClock;
    this.#maxKeys = opts.maxKeys ?? 100_000;
    this.#sweepIntervalMs = opts.sweepIntervalMs ?? 10_000;
    this.#lastSweep = this.#clock.now();
  }

  /** Entries currently held (for tests and metrics). */
  get size(): number {
    return this.#entries.size;
  }

  async take(key: string, limit: RateLimitSpec, cost = 1): Promise<Decision> {
    const { denied: _denied, ...decision } = await this.takeAll([{ key, limit }], cost);
    return decision;
  }

  async takeAll(checks: readonly LimitCheck[], cost = 1): Promise<MultiDecision> {
    checkCost(checks, cost);
    const now = this.#clock.now();
    const wall = this.#clock.date().getTime();
    const today = utcDay(wall);
    this.#maybeSweep(now, today);

    const judged: Judged[] = checks.map(({ key, limit }) => {
      const e = this.#entries.get(key);
      const tokens = tokensAt(e, limit, now);
      const used = e && e.day === today ? e.used : 0;
      let wait = 0;
      let reason: Judged['reason'];
      if (tokens + EPSILON < cost) {
        wait = Math.ceil(((cost - tokens) * 1000) / limit.rate - EPSILON);
        reason = 'rate';
      }
      if (limit.daily !== undefined && used + cost > limit.daily) {
        const untilMidnight = Math.ceil(msUntilUtcMidnight(wall));
        if (untilMidnight > wait) wait = untilMidnight;
        reason = 'daily';
      }
      return { tokens, used, wait, reason };
    });

    let denied = -1;
    judged.forEach((j, i) => {
      if (j.reason !== undefined && (denied < 0 || j.wait > judged[denied]!.wait)) denied = i;
    });
    const allowed = denied < 0;
    const spend = allowed ? cost : 0;
    let remaining = Infinity;
    checks.forEach(({ key, limit }, i) => {
      const j = judged[i]!;
      remaining = Math.min(remaining, Math.floor(j.tokens - spend + EPSILON));
      if (limit.daily !== undefined) remaining = Math.min(remaining, limit.daily - j.used - spend);
      if (allowed) this.#write(key, limit, now, today, j.tokens - cost, limit.daily !== undefined ? j.used + cost : 0);
    });
    remaining = Math.max(0, remaining);
    if (allowed) return { allowed, retryAfterMs: 0, remaining, denied };
    const d = judged[denied]!;
    return { allowed, retryAfterMs: d.wait, remaining, reason: d.reason!, denied };
  }

  async close(): Promise<void> {
    this.#entries.clear();
  }

  #write(key: string, limit: RateLimitSpec, now: number, today: number, tokens: number, used: number): void {
    const e = this.#entries.get(key);
    if (e) {
      Object.assign(e, { tokens, at: now, rate: limit.rate, burst: limit.burst, day: today, used });
      return;
    }
    if (this.#entries.size >= this.#maxKeys) {
      this.#sweep(now, today);
      // Still full: drop the oldest entries (Map order is insertion order).
      for (const k of this.#entries.keys()) {
        if (this.#entries.size < this.#maxKeys) break;
        this.#entries.delete(k);
      }
    }
    this.#entries.set(key, { tokens, at: now, rate: limit.rate, burst: limit.burst, day: today, used });
  }

  #maybeSweep(now: number, today: number): void {
    if (now - this.#lastSweep >= this.#sweepIntervalMs) this.#sweep(now, today);
  }

  /** Drop entries that say nothing a missing entry would not: full bucket, no quota used today. */
  #sweep(now: number, today: number): void {
    this.#lastSweep = now;
    for (const [k, e] of this.#entries) {
      const full = e.tokens + (Math.max(0, now - e.at) * e.rate) / 1000 + EPSILON >= e.burst;
      if (full && (e.used === 0 || e.day !== today)) this.#entries.delete(k);
    }
  }
}
