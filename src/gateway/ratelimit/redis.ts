/**
 * Rate limits shared by every gateway through Redis. One Lua script (redis-script.ts)
 * checks and consumes buckets and daily quotas atomically on the server's clock, so
 * gateways with skewed clocks enforce one limit. Keys: `<prefix>:rl:<key>` (bucket, expires
 * once refilled) and `<prefix>:q:<key>:<yyyymmdd>` (daily count, expires after its day).
 *
 * When Redis cannot be reached (down, refused, timed out) the limiter **fails open** by
 * default: the request is allowed with `failedOpen: true`, `stats.failedOpen` counts it,
 * and one warning is logged per outage (and one info line when Redis is back). Inference
 * availability matters more than exact limits during a cache outage; set
 * `failMode: 'closed'` to refuse requests (503 ALOFT_NOT_READY) instead. Commands never
 * queue while disconnected, so a Redis outage costs a request at most `commandTimeoutMs`.
 */
import { Redis } from 'ioredis';
import { fail } from '../../errors.js';
import { silentLogger, type Logger } from '../../log.js';
import type { RateLimitSpec } from '../../spec/types.js';
import { TAKE_SCRIPT } from './redis-script.js';
import { checkCost, type Decision, type LimitCheck, type MultiDecision, type RateLimiter } from './types.js';

export interface RedisRateLimiterOptions {
  /** redis:// or rediss:// URL. Default 'redis://127.0.0.1:6379'. */
  url?: string;
  /** Key prefix, so several systems share one Redis. Default 'aloft'. */
  prefix?: string;
  /** 'open' (default): allow requests while Redis is unreachable; 'closed': refuse them with 503. */
  failMode?: 'open' | 'closed';
  logger?: Logger;
  /** Connect timeout, ms. Default 500. */
  connectTimeoutMs?: number;
  /** Per-command timeout, ms. Default 500. */
  commandTimeoutMs?: number;
  /**
   * Tests only: the wall-clock time (epoch ms) to judge by, instead of Redis's TIME, so a
   * conformance suite can step a ManualClock. Production leaves it unset.
   */
  now?: () => number;
}

export interface RedisRateLimiterStats {
  /** Requests allowed because Redis could not be asked. */
  failedOpen: number;
  /** Requests refused (failMode 'closed') because Redis could not be asked. */
  failedClosed: number;
}

type TakeReply = [number, number, number, number, number];

interface ScriptedRedis extends Redis {
  aloftTake(numKeys: number, ...args: (string | number)[]): Promise<TakeReply>;
}

const REASONS = [undefined, 'rate', 'daily'] as const;

/** host:port of a Redis URL, without credentials, for logs and messages. */
function where(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || '6379'}`;
  } catch {
    return 'redis';
  }
}

export class RedisRateLimiter implements RateLimiter {
  readonly kind = 'redis';
  readonly stats: RedisRateLimiterStats = { failedOpen: 0, failedClosed: 0 };
  readonly #redis: ScriptedRedis;
  readonly #prefix: string;
  readonly #failMode: 'open' | 'closed';
  readonly #logger: Logger;
  readonly #where: string;
  readonly #now: (() => number) | undefined;
  #connecting: Promise<void> | undefined;
  #down = false;
  #closed = false;

  constructor(opts: RedisRateLimiterOptions = {}) {
    const url = opts.url ?? 'redis://127.0.0.1:6379';
    this.#prefix = opts.prefix ?? 'aloft';
    this.#failMode = opts.failMode ?? 'open';
    this.#logger = opts.logger ?? silentLogger;
    this.#where = where(url);
    this.#now = opts.now;
    this.#redis = new Redis(url, {
      lazyConnect: true,
      connectTimeout: opts.connectTimeoutMs ?? 500,
      commandTimeout: opts.commandTimeoutMs ?? 500,
      maxRetriesPerRequest: 1,
      enableOfflineQueue: false,
      // ioredis arms this timer even for a socket that never connected; keep shutdown short.
      disconnectTimeout: 200,
      // Reconnect in the background with capped backoff; requests meanwhile fail fast.
      retryStrategy: (times) => Math.min(times * 100, 2_000),
    }) as ScriptedRedis;
    // Connection errors surface through failing commands; without a listener ioredis
    // would print each reconnect failure itself.
    this.#redis.on('error', () => undefined);
    this.#redis.defineCommand('aloftTake', { lua: TAKE_SCRIPT });
  }

  async take(key: string, limit: RateLimitSpec, cost = 1): Promise<Decision> {
    const { denied: _denied, ...decision } = await this.takeAll([{ key, limit }], cost);
    return decision;
  }

  async takeAll(checks: readonly LimitCheck[], cost = 1): Promise<MultiDecision> {
    checkCost(checks, cost);
    if (this.#closed) throw new Error('the rate limiter is closed');
    if (checks.length === 0) return { allowed: true, retryAfterMs: 0, remaining: Infinity, denied: -1 };
    const keys: string[] = [];
    const args: (string | number)[] = [cost, this.#now ? String(this.#now()) : ''];
    for (const { key, limit } of checks) {
      keys.push(`${this.#prefix}:rl:${key}`, `${this.#prefix}:q:${key}`);
      args.push(limit.rate, limit.burst, limit.daily ?? 0);
    }
    let reply: TakeReply;
    try {
      await this.#connect();
      // Fail fast while disconnected (and leave no command timers behind).
      if (this.#redis.status !== 'ready') throw new Error(`not connected (${this.#redis.status})`);
      reply = await this.#redis.aloftTake(keys.length, ...keys, ...args);
    } catch (err) {
      return this.#unavailable(err, checks);
    }
    if (this.#down) {
      this.#down = false;
      this.#logger.info({ redis: this.#where }, 'Redis is reachable again: rate limits are enforced');
    }
    const [allowed, retryAfterMs, remaining, reason, denied] = reply;
    if (allowed === 1) return { allowed: true, retryAfterMs: 0, remaining, denied: -1 };
    return { allowed: false, retryAfterMs, remaining, reason: REASONS[reason] ?? 'rate', denied };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#redis.status === 'ready') {
      await this.#redis.quit().catch(() => this.#redis.disconnect());
    } else {
      this.#redis.disconnect();
    }
  }

  /** The first call connects (lazyConnect); later ones use ioredis's own reconnection. */
  #connect(): Promise<void> {
    if (this.#redis.status === 'wait') {
      this.#connecting = this.#redis.connect().finally(() => { this.#connecting = undefined; });
    }
    return this.#connecting ?? Promise.resolve();
  }

  #unavailable(err: unknown, checks: readonly LimitCheck[]): MultiDecision {
    if (!this.#down) {
      this.#down = true;
      this.#logger.warn(
        { redis: this.#where, err: err instanceof Error ? err.message : String(err) },
        this.#failMode === 'open'
          ? 'Redis is unreachable: rate limits are NOT enforced (failing open) until it is back'
          : 'Redis is unreachable: inference requests are refused (failing closed) until it is back',
      );
    }
    if (this.#failMode === 'closed') {
      this.stats.failedClosed++;
      throw fail('ALOFT_NOT_READY', 'rate limits cannot be checked right now (the limit store is unreachable); retry shortly', { cause: err });
    }
    this.stats.failedOpen++;
    const remaining = Math.min(...checks.map((c) => c.limit.burst));
    return { allowed: true, retryAfterMs: 0, remaining, failedOpen: true, denied: -1 };
  }
}
