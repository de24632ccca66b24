import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { isAloftError } from '../../errors.js';
import { createLogger } from '../../log.js';
import { RedisRateLimiter } from './redis.js';
import { withRedis } from './redis.testing.js';

/** A logger whose JSON lines land in `lines`. */
function capture(): { lines: { level: number; msg: string }[]; logger: ReturnType<typeof createLogger> } {
  const lines: { level: number; msg: string }[] = [];
  const destination = new Writable({ write(chunk, _enc, done) { lines.push(JSON.parse(String(chunk))); done(); } });
  return { lines, logger: createLogger({ level: 'info', destination }) };
}

const LIMIT = { rate: 1, burst: 2 };

test('redis unreachable: fails open by default, counts it and warns once per outage', async () => {
  const { lines, logger } = capture();
  const l = new RedisRateLimiter({ url: 'redis://127.0.0.1:1', logger });
  try {
    for (let i = 0; i < 3; i++) {
      assert.deepEqual(await l.take('k', LIMIT), { allowed: true, retryAfterMs: 0, remaining: 2, failedOpen: true });
    }
    assert.equal(l.stats.failedOpen, 3);
    const warnings = lines.filter((x) => x.level === 40);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!.msg, /NOT enforced \(failing open\)/);
    assert.equal((warnings[0] as unknown as { redis: string }).redis, '127.0.0.1:1');
  } finally {
    await l.close();
  }
});

test('redis unreachable with failMode closed: refuses with 503 ALOFT_NOT_READY', async () => {
  const l = new RedisRateLimiter({ url: 'redis://user:secret@127.0.0.1:1', failMode: 'closed' });
  try {
    await assert.rejects(l.take('k', LIMIT), (err) => {
      assert.ok(isAloftError(err));
      assert.equal(err.code, 'ALOFT_NOT_READY');
      assert.equal(err.status, 503);
      assert.doesNotMatch(err.message, /secret|127\.0\.0\.1/);
      return true;
    });
    assert.equal(l.stats.failedClosed, 1);
  } finally {
    await l.close();
  }
});

test('redis: close is idempotent and take after close throws', async () => {
  const l = new RedisRateLimiter({ url: 'redis://127.0.0.1:1' });
  await l.close();
  await l.close();
  await assert.rejects(l.take('k', LIMIT), /closed/);
});

await withRedis('redis', ({ url, prefix, client }) => {
  test('redis: keys are <prefix>:rl:<key> and <prefix>:q:<key>:<yyyymmdd>, and expire', async () => {
    const now = Date.UTC(2026, 0, 1, 22, 0, 0);
    const l = new RedisRateLimiter({ url, prefix, failMode: 'closed', now: () => now });
    try {
      await l.take('key:ci', { rate: 1, burst: 10, daily: 100 });
      const bucket = await client.hgetall(`${prefix}:rl:key:ci`);
      assert.equal(Number(bucket.t), 9);
      assert.equal(Number(bucket.ts), now);
      const bucketTtl = await client.pttl(`${prefix}:rl:key:ci`);
      assert.ok(bucketTtl > 60_000 && bucketTtl <= 61_000, `bucket expires once refilled (1 s) plus a minute's grace: ${bucketTtl}`);
      assert.equal(await client.get(`${prefix}:q:key:ci:20260101`), '1');
      const dayTtl = await client.pttl(`${prefix}:q:key:ci:20260101`);
      assert.ok(dayTtl > 2.9 * 3_600_000 && dayTtl <= 3 * 3_600_000, `the daily count expires an hour after midnight: ${dayTtl}`);
    } finally {
      await l.close();
    }
  });

  test('redis: the script names UTC days like the calendar does', async () => {
    const days = ['1999-12-31', '2000-02-29', '2000-03-01', '2024-02-29', '2026-12-31', '2100-02-28', '2100-03-01'];
    for (const iso of days) {
      const now = Date.parse(`${iso}T23:59:59.999Z`);
      const l = new RedisRateLimiter({ url, prefix, failMode: 'closed', now: () => now });
      try {
        await l.take(`cal-${iso}`, { rate: 1, burst: 1, daily: 5 });
      } finally {
        await l.close();
      }
      assert.equal(await client.get(`${prefix}:q:cal-${iso}:${iso.replaceAll('-', '')}`), '1', iso);
    }
  });

  test('redis: gateways share one bucket, judged by the server clock', async () => {
    const a = new RedisRateLimiter({ url, prefix, failMode: 'closed' });
    const b = new RedisRateLimiter({ url, prefix, failMode: 'closed' });
    try {
      assert.equal((await a.take('shared', { rate: 1, burst: 2 })).allowed, true);
      assert.equal((await b.take('shared', { rate: 1, burst: 2 })).allowed, true);
      const d = await a.take('shared', { rate: 1, burst: 2 });
      assert.equal(d.allowed, false);
      assert.ok(d.retryAfterMs > 0 && d.retryAfterMs <= 1000, `retryAfterMs ${d.retryAfterMs}`);
      assert.equal((await b.take('shared', { rate: 1, burst: 2 })).allowed, false);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  test('redis: many concurrent takes never exceed the burst', async () => {
    const limiters = [0, 1, 2].map(() => new RedisRateLimiter({ url, prefix, failMode: 'closed' }));
    try {
      const all = await Promise.all(Array.from({ length: 60 }, (_, i) => limiters[i % 3]!.take('race', { rate: 0.001, burst: 20 })));
      assert.equal(all.filter((d) => d.allowed).length, 20);
    } finally {
      await Promise.all(limiters.map((l) => l.close()));
    }
  });
});
