/**
 * Rate limits and quotas: a token bucket per key (capacity `burst`, refilled at `rate`
 * tokens per second, starting full) and an optional daily quota per key (a counter per
 * UTC day, reset at 00:00 UTC). Every implementation runs the conformance suite in
 * `ratelimit.case.ts`.
 */
import type { RateLimitSpec } from '../../spec/types.js';

export type { RateLimitSpec } from '../../spec/types.js';

/** The answer to one `take`. */
export interface Decision {
  allowed: boolean;
  /**
   * 0 when allowed. When denied: ms until the request would be allowed — until enough
   * tokens have refilled (`reason: 'rate'`) or until 00:00 UTC (`reason: 'daily'`).
   */
  retryAfterMs: number;
  /** Requests still allowed right now after this one: min(whole tokens left, daily quota left); Infinity with no limits. */
  remaining: number;
  /** Set when denied: which limit denied. */
  reason?: 'rate' | 'daily';
  /** Set when the backend could not be reached and the request was let through (fail-open). */
  failedOpen?: boolean;
}

/** One limit to check: a key and its limit. */
export interface LimitCheck {
  /** e.g. `key:<principal id>`, `anon:<ip>`, `dep:<deployment>`. */
  key: string;
  limit: RateLimitSpec;
}

/** The answer to `takeAll`. */
export interface MultiDecision extends Decision {
  /**
   * Index in `checks` of the limit that denied (of several that deny, the one with the
   * longest wait, first on ties); -1 when allowed.
   */
  denied: number;
}

export interface RateLimiter {
  /** 'memory' or 'redis'. */
  readonly kind: string;
  /**
   * Take `cost` (default 1, a positive integer no larger than `limit.burst`) from `key`'s
   * bucket and daily quota. Consumes from both only if both allow.
   *
   * @example
   *   const d = await limiter.take('key:ci', { rate: 50, burst: 100, daily: 1_000_000 });
   *   if (!d.allowed) reply.header('retry-after', Math.ceil(d.retryAfterMs / 1000));
   */
  take(key: string, limit: RateLimitSpec, cost?: number): Promise<Decision>;
  /**
   * Take `cost` from several limits atomically: consumes from every one only if every one
   * allows, so a request denied by one limit (the deployment's) burns nothing of another
   * (the caller's key). `take` is `takeAll` with one check.
   */
  takeAll(checks: readonly LimitCheck[], cost?: number): Promise<MultiDecision>;
  /** Release connections and timers. Idempotent. */
  close(): Promise<void>;
}

/** Throws a RangeError for a cost no limit could ever allow, or that is not a whole number. */
export function checkCost(checks: readonly LimitCheck[], cost: number): void {
  if (!Number.isInteger(cost) || cost < 1) throw new RangeError(`rate limit cost must be a positive integer, got ${cost}`);
  for (const c of checks) {
    if (cost > c.limit.burst) throw new RangeError(`rate limit cost ${cost} exceeds the burst ${c.limit.burst} of '${c.key}'; it could never be allowed`);
  }
}
