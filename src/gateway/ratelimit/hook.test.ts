import assert from 'node:assert/strict';
import { test } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { Registry } from 'prom-client';
import { ManualClock } from '../../clock.js';
import { silentLogger } from '../../log.js';
import type { Principal } from '../../security/principal.js';
import type { RateLimitSpec } from '../../spec/types.js';
import { makeErrorHandler } from '../http-errors.js';
import { makeLimitCheck, type RateLimitHookOptions } from './hook.js';
import { MemoryRateLimiter } from './memory.js';
import { RedisRateLimiter } from './redis.js';
import type { RateLimiter } from './types.js';

/** Keys the stand-in authentication knows: the `x-key` header names one. */
const PRINCIPALS: Record<string, Principal> = {
  ci: { kind: 'key', id: 'k1', name: 'ci', role: 'predictor', scopes: [], limits: { rate: 50, burst: 1 } },
  batch: { kind: 'key', id: 'k2', name: 'batch', role: 'predictor', scopes: [] },
  other: { kind: 'key', id: 'k3', name: 'other', role: 'predictor', scopes: [] },
};

interface Setup {
  deployments?: Record<string, RateLimitSpec>;
  perKeyDefault?: RateLimitSpec;
  limiter?: RateLimiter;
  clock?: ManualClock;
  registry?: Registry;
}

/** A minimal gateway: the infer routes, a metadata route, a stand-in auth hook, and the limits. */
function app(s: Setup = {}): { app: FastifyInstance; clock: ManualClock } {
  const clock = s.clock ?? new ManualClock();
  const a = Fastify();
  a.setErrorHandler(makeErrorHandler(silentLogger, 1 << 20));
  a.addHook('onRequest', async (req) => {
    const p = PRINCIPALS[String(req.headers['x-key'])];
    if (p) (req as { principal?: Principal }).principal = p;
  });
  const opts: RateLimitHookOptions = {
    limiter: s.limiter ?? new MemoryRateLimiter({ clock }),
    deploymentLimit: (name) => s.deployments?.[name],
    ...(s.perKeyDefault ? { perKeyDefault: () => s.perKeyDefault } : {}),
    ...(s.registry ? { registry: s.registry } : {}),
  };
  // The check as the infer pipeline runs it: after authentication, for the deployment named.
  const check = makeLimitCheck(opts);
  const limited = async (req: { principal?: Principal; ip: string; params: unknown }) => check(req.principal, req.ip, (req.params as { name: string }).name);
  a.post('/v2/models/:name/infer', { preHandler: limited }, async () => ({ ok: true }));
  a.post('/v2/models/:name/versions/:version/infer', { preHandler: limited }, async () => ({ ok: true }));
  a.get('/v2/models/:name', async () => ({ name: 'm' }));
  a.addHook('onClose', () => opts.limiter.close());
  return { app: a, clock };
}

const infer = (a: FastifyInstance, opts: { key?: string; ip?: string; path?: string } = {}) => a.inject({
  method: 'POST', url: opts.path ?? '/v2/models/m/infer', payload: {},
  headers: opts.key ? { 'x-key': opts.key } : {}, ...(opts.ip ? { remoteAddress: opts.ip } : {}),
});

async function statuses(a: FastifyInstance, n: number, opts: Parameters<typeof infer>[1] = {}): Promise<string> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push((await infer(a, opts)).statusCode);
  return out.join(' ');
}

test('hook: a deployment over its limit gets 429 with Retry-After and {"error"}', async () => {
  const { app: a } = app({ deployments: { m: { rate: 2, burst: 2 } } });
  assert.equal(await statuses(a, 2), '200 200');
  const res = await infer(a);
  assert.equal(res.statusCode, 429);
  assert.equal(res.headers['retry-after'], '1');
  assert.match(String(res.headers['content-type']), /application\/json/);
  assert.deepEqual(res.json(), { error: "rate limit of 2 requests/s for deployment 'm' exceeded; retry after 1 s", code: 'ALOFT_RATE_LIMITED' });
  await a.close();
});

test('hook: the versioned infer route shares the deployment limit; other routes and deployments are not limited', async () => {
  const { app: a } = app({ deployments: { m: { rate: 1, burst: 2 } } });
  assert.equal(await statuses(a, 1), '200');
  assert.equal(await statuses(a, 2, { path: '/v2/models/m/versions/1/infer' }), '200 429');
  for (let i = 0; i < 5; i++) assert.equal((await a.inject({ method: 'GET', url: '/v2/models/m' })).statusCode, 200);
  assert.equal(await statuses(a, 5, { path: '/v2/models/unlimited/infer' }), '200 200 200 200 200');
  await a.close();
});

test("hook: a key's own limit, named in the message; keys are independent", async () => {
  const { app: a } = app({ perKeyDefault: { rate: 1, burst: 3 } });
  assert.equal(await statuses(a, 2, { key: 'ci' }), '200 429', "'ci' has its own limit, burst 1");
  const res = await infer(a, { key: 'ci' });
  assert.deepEqual(res.json(), { error: "rate limit of 50 requests/s for key 'ci' exceeded; retry after 1 s", code: 'ALOFT_RATE_LIMITED' });
  assert.equal(res.headers['retry-after'], '1', 'Retry-After is at least 1 s even for a 20 ms wait');
  assert.equal(await statuses(a, 4, { key: 'batch' }), '200 200 200 429', "'batch' gets perKey's burst of 3");
  assert.equal(await statuses(a, 3, { key: 'other' }), '200 200 200');
  await a.close();
});

test('hook: anonymous callers share one bucket per client address', async () => {
  const { app: a } = app({ perKeyDefault: { rate: 0.5, burst: 2 } });
  assert.equal(await statuses(a, 3, { ip: '10.0.0.1' }), '200 200 429');
  const res = await infer(a, { ip: '10.0.0.1' });
  assert.equal(res.headers['retry-after'], '2');
  assert.deepEqual(res.json(), { error: 'rate limit of 0.5 requests/s for anonymous callers from 10.0.0.1 exceeded; retry after 2 s', code: 'ALOFT_RATE_LIMITED' });
  assert.equal(await statuses(a, 3, { ip: '10.0.0.2' }), '200 200 429');
  await a.close();
});

test("hook: a request the deployment refuses burns none of the key's tokens", async () => {
  const clock = new ManualClock();
  const { app: a } = app({ clock, perKeyDefault: { rate: 0.001, burst: 2 }, deployments: { m: { rate: 1, burst: 1 } } });
  assert.equal(await statuses(a, 1, { key: 'batch' }), '200');
  const denied = await infer(a, { key: 'batch' });
  assert.equal(denied.statusCode, 429);
  assert.match(denied.json().error, /deployment 'm'/);
  clock.advance(1000);
  assert.equal(await statuses(a, 1, { key: 'batch' }), '200', "the key's second token was still there");
  clock.advance(1000);
  const res = await infer(a, { key: 'batch' });
  assert.equal(res.statusCode, 429);
  assert.match(res.json().error, /key 'batch'/);
  await a.close();
});

test('hook: over the daily quota, 429 until midnight UTC, Retry-After rounded up', async () => {
  const clock = new ManualClock(0, Date.UTC(2026, 0, 1, 23, 59, 58, 500));
  const { app: a } = app({ clock, perKeyDefault: { rate: 100, burst: 100, daily: 1 } });
  assert.equal(await statuses(a, 1, { key: 'batch' }), '200');
  const res = await infer(a, { key: 'batch' });
  assert.equal(res.statusCode, 429);
  assert.equal(res.headers['retry-after'], '2');
  assert.deepEqual(res.json(), { error: "daily quota of 1 requests for key 'batch' exceeded; it resets at 00:00 UTC, retry after 2 s", code: 'ALOFT_RATE_LIMITED' });
  clock.advance(1500);
  assert.equal(await statuses(a, 2, { key: 'batch' }), '200 429');
  await a.close();
});

test('hook: counts refusals in the metrics registry', async () => {
  const registry = new Registry();
  const { app: a } = app({ registry, deployments: { m: { rate: 1, burst: 1 } } });
  await statuses(a, 3);
  const text = await registry.metrics();
  assert.match(text, /aloft_rate_limited_total\{scope="deployment",reason="rate"\} 2/);
  await a.close();
});

test('hook: limit store unreachable: fail-open serves and counts, fail-closed answers 503', async () => {
  const registry = new Registry();
  const open = app({ registry, deployments: { m: { rate: 1, burst: 1 } }, limiter: new RedisRateLimiter({ url: 'redis://127.0.0.1:1' }) }).app;
  assert.equal(await statuses(open, 3), '200 200 200');
  assert.match(await registry.metrics(), /aloft_rate_limit_unavailable_total\{outcome="allowed"\} 3/);
  await open.close();

  const closed = app({ deployments: { m: { rate: 1, burst: 1 } }, limiter: new RedisRateLimiter({ url: 'redis://127.0.0.1:1', failMode: 'closed' }) }).app;
  const res = await infer(closed);
  assert.equal(res.statusCode, 503);
  assert.match(res.json().error, /rate limits cannot be checked/);
  await closed.close();
});
