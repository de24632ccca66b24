/**
 * Rate limits and quotas for the gateway: limiters (memory, Redis) and the check the
 * infer pipeline runs for per-key and per-deployment limits.
 *
 * @example
 *   const limiter = await createRateLimiter(spec.limits, { logger });
 *   const check = makeLimitCheck({ limiter, perKeyDefault: () => spec.limits.perKey, deploymentLimit: (n) => spec.deployments[n]?.limits });
 *   await check(principal, ip, 'credit-risk'); // throws ALOFT_RATE_LIMITED
 *   // on shutdown, after the HTTP server has drained:
 *   await limiter.close();
 */
import type { Clock } from '../../clock.js';
import type { Logger } from '../../log.js';
import type { LimitsSpec } from '../../spec/types.js';
import { MemoryRateLimiter } from './memory.js';
import type { RateLimiter } from './types.js';

export type { Decision, LimitCheck, MultiDecision, RateLimiter } from './types.js';
export { MemoryRateLimiter, type MemoryRateLimiterOptions } from './memory.js';
// RedisRateLimiter is imported from './redis.js' where needed: loading ioredis costs memory a memory-backed gateway should not pay.
export type { RedisRateLimiterOptions, RedisRateLimiterStats } from './redis.js';
export { makeLimitCheck, type LimitCheckFn, type RateLimitHookOptions } from './hook.js';

/** The limiter `limits.backend` asks for: in memory (default) or shared through Redis (failing open or closed, `limits.redis.failMode`). */
export async function createRateLimiter(limits: LimitsSpec, opts: { logger?: Logger; clock?: Clock } = {}): Promise<RateLimiter> {
  if (limits.backend === 'redis') {
    const { RedisRateLimiter } = await import('./redis.js');
    return new RedisRateLimiter({ url: limits.redis.url, prefix: limits.redis.prefix, failMode: limits.redis.failMode, ...(opts.logger ? { logger: opts.logger } : {}) });
  }
  return new MemoryRateLimiter(opts.clock ? { clock: opts.clock } : {});
}
