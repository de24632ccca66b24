/**
 * The rate-limit check of inference requests, run by the infer pipeline (pipeline.ts)
 * after authentication and before the body is read.
 *
 * Two limits apply to each request, checked together with `takeAll`:
 * - per caller: `principal.limits ?? perKeyDefault`, keyed `key:<principal.id>`; anonymous
 *   callers (public deployments) share one bucket per client address, `anon:<ip>`;
 * - per deployment: `deploymentLimit(name)`, keyed `dep:<name>`, across all callers and versions.
 * Both are consumed only if both allow, so a request the deployment's limit refuses burns
 * none of the caller's tokens or quota, and vice versa. When both refuse, the answer
 * names the one with the longer wait.
 *
 * Over a limit: 429 ALOFT_RATE_LIMITED with `Retry-After` (whole seconds, rounded up, ≥ 1)
 * and e.g. `{"error": "rate limit of 50 requests/s for key 'ci' exceeded; retry after 1 s"}`.
 */
import { Counter, type Registry } from 'prom-client';
import { fail, isAloftError } from '../../errors.js';
import { ANONYMOUS, type Principal } from '../../security/principal.js';
import type { RateLimitSpec } from '../../spec/types.js';
import type { LimitCheck, MultiDecision, RateLimiter } from './types.js';

export interface RateLimitHookOptions {
  limiter: RateLimiter;
  /** Limit for callers whose principal has none of its own (spec `limits.perKey`, read per request: it changes with an apply). Default: none. */
  perKeyDefault?(): RateLimitSpec | undefined;
  /** A deployment's own limit (spec `deployments.<name>.limits`), or undefined for none. */
  deploymentLimit(name: string): RateLimitSpec | undefined;
  /**
   * Where to register `aloft_rate_limited_total{scope,reason}` and
   * `aloft_rate_limit_unavailable_total{outcome}` (limit store unreachable). Optional.
   */
  registry?: Registry;
}

interface Subject extends LimitCheck {
  /** For messages: "key 'ci'", "deployment 'credit-risk'", "anonymous callers from 10.0.0.1". */
  who: string;
  scope: 'key' | 'deployment';
}

function subjects(caller: Principal | undefined, ip: string, name: string, opts: RateLimitHookOptions): Subject[] {
  const principal = caller ?? ANONYMOUS;
  const out: Subject[] = [];
  const own = principal.limits ?? opts.perKeyDefault?.();
  if (own) {
    out.push(principal.kind === 'anonymous'
      ? { key: `anon:${ip}`, limit: own, who: `anonymous callers from ${ip}`, scope: 'key' }
      : { key: `key:${principal.id}`, limit: own, who: `key '${principal.name}'`, scope: 'key' });
  }
  const dep = opts.deploymentLimit(name);
  if (dep) out.push({ key: `dep:${name}`, limit: dep, who: `deployment '${name}'`, scope: 'deployment' });
  return out;
}

function message(s: Subject, d: MultiDecision, seconds: number): string {
  if (d.reason === 'daily') {
    return `daily quota of ${s.limit.daily} requests for ${s.who} exceeded; it resets at 00:00 UTC, retry after ${seconds} s`;
  }
  return `rate limit of ${s.limit.rate} requests/s for ${s.who} exceeded; retry after ${seconds} s`;
}

/**
 * The limit check of one inference request for `deployment` by `caller` from `ip`: resolves
 * when allowed, throws ALOFT_RATE_LIMITED (details.retryAfterMs gives Retry-After) when not.
 */
export type LimitCheckFn = (caller: Principal | undefined, ip: string, deployment: string) => Promise<void>;

export function makeLimitCheck(opts: RateLimitHookOptions): LimitCheckFn {
  const limited = opts.registry && new Counter({
    name: 'aloft_rate_limited_total', help: 'Inference requests refused with 429, by the limit that refused them.',
    labelNames: ['scope', 'reason'], registers: [opts.registry],
  });
  const unavailable = opts.registry && new Counter({
    name: 'aloft_rate_limit_unavailable_total', help: 'Inference requests whose limits could not be checked (limit store unreachable), by what happened to them.',
    labelNames: ['outcome'], registers: [opts.registry],
  });
  return async (caller, ip, name) => {
    const checks = subjects(caller, ip, name, opts);
    if (checks.length === 0) return;
    let d: MultiDecision;
    try {
      d = await opts.limiter.takeAll(checks);
    } catch (err) {
      if (isAloftError(err) && err.code === 'ALOFT_NOT_READY') unavailable?.inc({ outcome: 'refused' });
      throw err;
    }
    if (d.failedOpen) unavailable?.inc({ outcome: 'allowed' });
    if (d.allowed) return;
    const s = checks[d.denied]!;
    limited?.inc({ scope: s.scope, reason: d.reason ?? 'rate' });
    const seconds = Math.max(1, Math.ceil(d.retryAfterMs / 1000));
    throw fail('ALOFT_RATE_LIMITED', message(s, d, seconds), { details: { key: s.key, reason: d.reason, retryAfterMs: d.retryAfterMs } });
  };
}
