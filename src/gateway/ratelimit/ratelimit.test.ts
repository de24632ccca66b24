import { MemoryRateLimiter } from './memory.js';
import { runRateLimiterSuite } from './ratelimit.case.js';
import { RedisRateLimiter } from './redis.js';
import { withRedis } from './redis.testing.js';

runRateLimiterSuite('memory', (clock) => new MemoryRateLimiter({ clock }));

// Fail closed here, so a Redis problem fails the suite instead of letting requests through.
await withRedis('redis', ({ url, prefix }) => {
  runRateLimiterSuite('redis', (clock) => new RedisRateLimiter({ url, prefix, failMode: 'closed', now: () => clock.date().getTime() }));
});
