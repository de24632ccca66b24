/**
 * What each model version of a deployment did, for comparing variants (a canary against
 * its baseline, A/B arms): answers, failures (5xx, and 200s whose outputs held NaN or an
 * infinity) and a latency histogram, fed by the gateway's observation point.
 *
 * Counters only grow, so a rollout step takes a `snapshot` when it starts and compares
 * `since(snapshot)` at every check: the counts of exactly that step, with nothing kept per
 * request. The hot path costs one map lookup, one logarithm and three increments.
 *
 * Latency buckets are logarithmic, 5% wide, from 10 µs to about 200 s: a quantile read
 * from them is within 5% of the true one. `shareAbove(bound)` counts the answers slower
 * than a bound (the baseline's p99, say), the form the sequential test compares.
 */
import type { Observer } from '../gateway/observe.js';
import type { RateSample } from './sequential.js';

const MIN_MS = 0.01;
const GROWTH = 1.05;
const BUCKETS = Math.ceil(Math.log(2e5 / MIN_MS) / Math.log(GROWTH)) + 1;
const LOG_GROWTH = Math.log(GROWTH);

function bucketOf(ms: number): number {
  if (!(ms > MIN_MS)) return 0;
  return Math.min(BUCKETS - 1, Math.ceil(Math.log(ms / MIN_MS) / LOG_GROWTH));
}

/** The upper edge of a bucket, ms. */
function upperOf(bucket: number): number {
  return MIN_MS * GROWTH ** bucket;
}

/** One version's counts (cumulative, or the difference of two snapshots). */
export interface VariantCounts {
  answers: number;
  /** 5xx answers. */
  errors: number;
  /** 200 answers whose outputs held NaN or an infinity. */
  nonFinite: number;
  /** Answers per latency bucket. */
  latency: Uint32Array;
}

export class VariantWindows {
  /** deployment → version → counters (two lookups, no key string built per answer). */
  readonly #counts = new Map<string, Map<number, VariantCounts>>();

  /** Count one answer. */
  record(deployment: string, version: number, status: number, totalMs: number, nonFinite: boolean): void {
    let versions = this.#counts.get(deployment);
    if (!versions) {
      versions = new Map();
      this.#counts.set(deployment, versions);
    }
    let c = versions.get(version);
    if (!c) {
      c = { answers: 0, errors: 0, nonFinite: 0, latency: new Uint32Array(BUCKETS) };
      versions.set(version, c);
    }
    c.answers++;
    if (status >= 500) c.errors++;
    else if (nonFinite) c.nonFinite++;
    c.latency[bucketOf(totalMs)]!++;
  }

  /** A copy of a version's counters now (zeros when it has none yet). */
  snapshot(deployment: string, version: number): VariantCounts {
    const c = this.#counts.get(deployment)?.get(version);
    return c ? { ...c, latency: c.latency.slice() } : { answers: 0, errors: 0, nonFinite: 0, latency: new Uint32Array(BUCKETS) };
  }

  /** What a version did since `snapshot` was taken. */
  since(deployment: string, version: number, from: VariantCounts): VariantCounts {
    const now = this.snapshot(deployment, version);
    const latency = new Uint32Array(BUCKETS);
    for (let i = 0; i < BUCKETS; i++) latency[i] = now.latency[i]! - from.latency[i]!;
    return { answers: now.answers - from.answers, errors: now.errors - from.errors, nonFinite: now.nonFinite - from.nonFinite, latency };
  }

  /** Forget a deployment's versions (after its rollout ended). */
  forget(deployment: string): void {
    this.#counts.delete(deployment);
  }

  observer(): Observer {
    return (o) => this.record(o.deployment, o.version, o.status, o.totalMs, o.nonFinite === true);
  }
}

/** The q-quantile (0..1) of the counted latencies, ms (the bucket's upper edge); undefined without answers. */
export function quantile(c: VariantCounts, q: number): number | undefined {
  const total = c.latency.reduce((n, x) => n + x, 0);
  if (total === 0) return undefined;
  const rank = Math.ceil(q * total);
  let seen = 0;
  for (let i = 0; i < c.latency.length; i++) {
    seen += c.latency[i]!;
    if (seen >= rank) return upperOf(i);
  }
  return upperOf(c.latency.length - 1);
}

/** Answers slower than `boundMs`, to one bucket's resolution: those in buckets above the bound's (all slower than the bound; all slower than 1.05 × the bound are in). */
export function countAbove(c: VariantCounts, boundMs: number): number {
  let n = 0;
  for (let i = bucketOf(boundMs) + 1; i < c.latency.length; i++) n += c.latency[i]!;
  return n;
}

/** Failures as the sequential test counts them: 5xx answers and non-finite outputs. */
export function failures(c: VariantCounts): RateSample {
  return { n: c.answers, bad: c.errors + c.nonFinite };
}
