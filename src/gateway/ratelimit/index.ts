/**
 * Rate limits and quotas for the gateway: limiters (memory, Redis) and the Fastify hook
 * that applies per-key and per-deployment limits to inference requests.
 *
 * @example
 *   const limiter = await createRateLimiter(spec.limits, { logger });
 *   registerRateLimits(app, { limiter, perKeyDefault: spec.limits.perKey, deploymentLimit: (n) => spec.deployments[n]?.limits });
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
export { registerRateLimits, INFER_ROUTES, type RateLimitHookOptions } from './hook.js';

/** The limiter `limits.backend` asks for: in memory (default) or shared through Redis (fails open). */
export async function createRateLimiter(limits: LimitsSpec, opts: { logger?: Logger; clock?: Clock } = {}): Promise<RateLimiter> {
  if (limits.backend === 'redis') {
    const { RedisRateLimiter } = await import('./redis.js');
    return new RedisRateLimiter({ url: limits.redis.url, prefix: limits.redis.prefix, ...(opts.logger ? { logger: opts.logger } : {}) });
  }
  return new MemoryRateLimiter(opts.clock ? { clock: opts.clock } : {});
}
