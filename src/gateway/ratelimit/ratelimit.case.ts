/**
 * Conformance suite every rate limiter runs, on a ManualClock (the factory wires the
 * clock in: MemoryRateLimiter takes it, RedisRateLimiter takes its wall time as `now`).
 * Time starts at 2026-01-01T22:00:00Z so daily quotas can cross midnight UTC.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ManualClock } from '../../clock.js';
import type { RateLimitSpec } from '../../spec/types.js';
import type { RateLimiter } from './types.js';

export const SUITE_START = Date.UTC(2026, 0, 1, 22, 0, 0);
const HOUR = 3_600_000;

export interface SuiteOptions {
  /** Skip every test, with this reason. */
  skip?: string;
}

export function runRateLimiterSuite(name: string, make: (clock: ManualClock) => RateLimiter, opts: SuiteOptions = {}): void {
  const it = (title: string, fn: (l: RateLimiter, clock: ManualClock) => Promise<void>) =>
    test(`${name}: ${title}`, opts.skip ? { skip: opts.skip } : {}, async () => {
      const clock = new ManualClock(0, SUITE_START);
      const limiter = make(clock);
      try {
        await fn(limiter, clock);
      } finally {
        await limiter.close();
      }
    });

  /** Outcomes of n takes, as a string: 'y' allowed, 'n' denied. */
  const takes = async (l: RateLimiter, key: string, limit: RateLimitSpec, n: number): Promise<string> => {
    let s = '';
    for (let i = 0; i < n; i++) s += (await l.take(key, limit)).allowed ? 'y' : 'n';
    return s;
  };

  it('a full bucket allows the burst, then denies', async (l) => {
    const limit = { rate: 1, burst: 5 };
    for (let i = 4; i >= 0; i--) assert.deepEqual(await l.take('burst', limit), { allowed: true, retryAfterMs: 0, remaining: i });
    const d = await l.take('burst', limit);
    assert.deepEqual(d, { allowed: false, retryAfterMs: 1000, remaining: 0, reason: 'rate' });
  });

  it('tokens refill at the rate, never above the burst', async (l, clock) => {
    const limit = { rate: 1, burst: 5 };
    assert.equal(await takes(l, 'refill', limit, 6), 'yyyyyn');
    clock.advance(1000);
    assert.equal(await takes(l, 'refill', limit, 2), 'yn');
    clock.advance(2500);
    assert.equal(await takes(l, 'refill', limit, 3), 'yyn', '2.5 tokens allow 2 requests');
    clock.advance(HOUR);
    assert.equal(await takes(l, 'refill', limit, 6), 'yyyyyn', 'an hour idle refills to the burst, no more');
  });

  it('retryAfterMs is the time until a token is available', async (l, clock) => {
    const limit = { rate: 2, burst: 1 };
    assert.equal((await l.take('retry', limit)).allowed, true);
    assert.equal((await l.take('retry', limit)).retryAfterMs, 500);
    clock.advance(499);
    const d = await l.take('retry', limit);
    assert.equal(d.allowed, false);
    assert.equal(d.retryAfterMs, 1);
    clock.advance(1);
    assert.equal((await l.take('retry', limit)).allowed, true);

    const slow = { rate: 0.5, burst: 1 };
    await l.take('retry-slow', slow);
    assert.equal((await l.take('retry-slow', slow)).retryAfterMs, 2000);
  });

  it('a cost takes that many tokens; a cost above the burst is refused as a programming error', async (l) => {
    const limit = { rate: 1, burst: 5 };
    assert.deepEqual(await l.take('cost', limit, 3), { allowed: true, retryAfterMs: 0, remaining: 2 });
    assert.deepEqual(await l.take('cost', limit, 3), { allowed: false, retryAfterMs: 1000, remaining: 2, reason: 'rate' });
    assert.equal((await l.take('cost', limit, 2)).allowed, true);
    await assert.rejects(l.take('cost', limit, 6), RangeError);
    await assert.rejects(l.take('cost', limit, 0), RangeError);
    await assert.rejects(l.take('cost', limit, 1.5), RangeError);
  });

  it('keys are independent', async (l, clock) => {
    const limit = { rate: 1, burst: 2 };
    assert.equal(await takes(l, 'ind-a', limit, 3), 'yyn');
    assert.equal(await takes(l, 'ind-b', limit, 3), 'yyn');
    clock.advance(1000);
    assert.equal(await takes(l, 'ind-a', limit, 2), 'yn');
    assert.equal(await takes(l, 'ind-c', { rate: 1, burst: 1, daily: 1 }, 2), 'yn');
    assert.equal(await takes(l, 'ind-d', { rate: 1, burst: 1, daily: 1 }, 1), 'y', 'daily quotas are per key');
  });

  it('the daily quota denies until 00:00 UTC, then resets', async (l, clock) => {
    const limit = { rate: 1000, burst: 1000, daily: 3 };
    assert.deepEqual(await l.take('daily', limit), { allowed: true, retryAfterMs: 0, remaining: 2 });
    assert.equal(await takes(l, 'daily', limit, 2), 'yy');
    assert.deepEqual(await l.take('daily', limit), { allowed: false, retryAfterMs: 2 * HOUR, remaining: 0, reason: 'daily' });
    clock.advance(2 * HOUR - 1000);
    const d = await l.take('daily', limit);
    assert.equal(d.reason, 'daily');
    assert.equal(d.retryAfterMs, 1000, 'one second before midnight');
    clock.advance(1000);
    assert.equal(await takes(l, 'daily', limit, 4), 'yyyn', 'a new UTC day, a new quota');
    assert.equal((await l.take('daily', limit)).retryAfterMs, 24 * HOUR);
  });

  it('remaining is the smaller of whole tokens left and daily quota left', async (l) => {
    assert.equal((await l.take('rem', { rate: 1, burst: 10, daily: 4 })).remaining, 3);
    assert.equal((await l.take('rem2', { rate: 1, burst: 3, daily: 100 })).remaining, 2);
  });

  it('a request denied by the bucket does not consume daily quota', async (l, clock) => {
    const limit = { rate: 1, burst: 1, daily: 2 };
    assert.equal(await takes(l, 'nc-rate', limit, 3), 'ynn');
    clock.advance(1000);
    assert.equal(await takes(l, 'nc-rate', limit, 1), 'y', 'the two denials used no quota');
    clock.advance(1000);
    assert.equal((await l.take('nc-rate', limit)).reason, 'daily');
  });

  it('a request denied by the daily quota does not consume tokens', async (l) => {
    assert.equal(await takes(l, 'nc-daily', { rate: 0.001, burst: 3, daily: 1 }, 4), 'ynnn');
    // Same bucket, without a quota: two tokens must be left.
    assert.equal(await takes(l, 'nc-daily', { rate: 0.001, burst: 3 }, 3), 'yyn');
  });

  it('takeAll consumes from every limit only when all allow', async (l) => {
    const key = { key: 'all-key', limit: { rate: 0.001, burst: 3 } };
    const dep = { key: 'all-dep', limit: { rate: 0.001, burst: 1 } };
    assert.deepEqual(await l.takeAll([key, dep]), { allowed: true, retryAfterMs: 0, remaining: 0, denied: -1 });
    const d = await l.takeAll([key, dep]);
    assert.equal(d.allowed, false);
    assert.equal(d.denied, 1);
    assert.equal(d.reason, 'rate');
    assert.equal(d.retryAfterMs, 1_000_000);
    assert.equal(await takes(l, 'all-key', key.limit, 3), 'yyn', 'the denied takeAll burned none of the key\'s tokens');
  });

  it('takeAll with no limits allows', async (l) => {
    assert.deepEqual(await l.takeAll([]), { allowed: true, retryAfterMs: 0, remaining: Infinity, denied: -1 });
  });

  it('takeAll names the limit with the longest wait', async (l) => {
    const fast = { key: 'long-fast', limit: { rate: 10, burst: 1 } };
    const quota = { key: 'long-quota', limit: { rate: 10, burst: 1, daily: 1 } };
    assert.equal((await l.takeAll([fast, quota])).allowed, true);
    const d = await l.takeAll([fast, quota]);
    assert.equal(d.denied, 1);
    assert.equal(d.reason, 'daily');
    assert.equal(d.retryAfterMs, 2 * HOUR);
    const first = await l.takeAll([{ key: 'tie-a', limit: { rate: 1, burst: 1 } }, { key: 'tie-b', limit: { rate: 1, burst: 1 } }]);
    assert.equal(first.allowed, true);
    assert.equal((await l.takeAll([{ key: 'tie-a', limit: { rate: 1, burst: 1 } }, { key: 'tie-b', limit: { rate: 1, burst: 1 } }])).denied, 0, 'ties name the first');
  });
}
