/**
 * Restart delays for crashed replicas: exponential with full jitter, capped, and reset
 * once a replica has stayed ready for `resetAfterMs` (Kubernetes' CrashLoopBackOff
 * shape: 10 s doubling to 5 min there; shorter here because a local replica restarts in
 * well under a second).
 */
export interface BackoffPolicy {
  baseMs: number;
  maxMs: number;
  resetAfterMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 250, maxMs: 30_000, resetAfterMs: 60_000 };

/** Delay before restart number `failures` (1-based), jittered into [d/2, d]. */
export function backoffDelay(failures: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  const d = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, failures - 1));
  return d / 2 + random() * (d / 2);
}
