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
 *
 * Predictions are counted too, one per row of the first output, so that the analysis can
 * say how far the candidate's outputs moved from the baseline's (`outputShift`): a row of
 * class scores (last dimension 2 to 64) counts its predicted class (argmax); a row of one
 * value counts the value in bins of asinh(v) 0.05 wide (0.05 apart near 0, relative steps
 * of 5% for large values, whatever the sign or scale).
 */
import type { Observer } from '../gateway/observe.js';
import type { Tensor } from '../runtime/tensor.js';
import { jensenShannon } from './drift.js';
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
  /** Rows per prediction bin (classes, or binned values; see `predictionBin`). */
  predictions: Uint32Array;
  /** Labelled predictions (from /feedback, counted when the labels arrive) and how many were wrong. */
  labelled: number;
  wrong: number;
}

const VALUE_BINS = 401; // asinh(v) / 0.05, rounded, in [-200, 200]
const CLASSES = 64;
/** Value bins, then classes, then one bin for what is not a finite number. */
export const PREDICTION_BINS = VALUE_BINS + CLASSES + 1;

/** The prediction bin of one value (a regression output or a score). */
function valueBin(v: number): number {
  if (!Number.isFinite(v)) return PREDICTION_BINS - 1;
  const b = Math.round(Math.asinh(v) * 20);
  return (b < -200 ? -200 : b > 200 ? 200 : b) + 200;
}

/** Count one answer's predictions into `into`: one per row of the first numeric output. */
export function countPredictions(outputs: readonly Tensor[] | undefined, into: Uint32Array): void {
  const o = outputs?.[0];
  if (!o || typeof o.data[0] !== 'number') return;
  const d = o.data as ArrayLike<number>;
  const width = o.shape.length >= 2 ? o.shape[o.shape.length - 1]! : 1;
  if (width <= 0 || d.length === 0) return;
  if (width === 1 || width > CLASSES) {
    // One value per row (or too many classes to count): bin the first value of each row.
    for (let i = 0; i < d.length; i += width) into[valueBin(d[i]!)]!++;
    return;
  }
  for (let i = 0; i < d.length; i += width) {
    let best = 0;
    let max = d[i]!;
    for (let k = 1; k < width; k++) if (d[i + k]! > max) { max = d[i + k]!; best = k; }
    into[Number.isFinite(max) ? VALUE_BINS + best : PREDICTION_BINS - 1]!++;
  }
}

/**
 * How far two distributions of predictions are apart: the Jensen–Shannon distance (the
 * square root of the divergence, base 2), 0 for the same distribution and 1 for disjoint
 * ones. Undefined when either has no predictions. With few rows it is biased upwards
 * (about sqrt(bins used / rows)), so a gate on it needs enough of them.
 */
export function outputShift(a: Uint32Array, b: Uint32Array): { score: number; rows: [number, number] } | undefined {
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) { na += a[i]!; nb += b[i]!; }
  if (na === 0 || nb === 0) return undefined;
  return { score: Math.min(1, jensenShannon(a, b, 2)), rows: [na, nb] };
}

export class VariantWindows {
  /** deployment → version → counters (two lookups, no key string built per answer). */
  readonly #counts = new Map<string, Map<number, VariantCounts>>();

  /** Count one answer. */
  record(deployment: string, version: number, status: number, totalMs: number, nonFinite: boolean, outputs?: readonly Tensor[]): void {
    const c = this.#counter(deployment, version);
    c.answers++;
    if (status >= 500) c.errors++;
    else if (nonFinite) c.nonFinite++;
    c.latency[bucketOf(totalMs)]!++;
    if (outputs !== undefined && status === 200) countPredictions(outputs, c.predictions);
  }

  /** Count labelled predictions of a version, judged right or wrong (quality.ts judge). */
  recordLabels(deployment: string, version: number, right: number, wrong: number): void {
    const c = this.#counter(deployment, version);
    c.labelled += right + wrong;
    c.wrong += wrong;
  }

  #counter(deployment: string, version: number): VariantCounts {
    let versions = this.#counts.get(deployment);
    if (!versions) {
      versions = new Map();
      this.#counts.set(deployment, versions);
    }
    let c = versions.get(version);
    if (!c) {
      c = empty();
      versions.set(version, c);
    }
    return c;
  }

  /** A copy of a version's counters now (zeros when it has none yet). */
  snapshot(deployment: string, version: number): VariantCounts {
    const c = this.#counts.get(deployment)?.get(version);
    return c ? { ...c, latency: c.latency.slice(), predictions: c.predictions.slice() } : empty();
  }

  /** What a version did since `snapshot` was taken. */
  since(deployment: string, version: number, from: VariantCounts): VariantCounts {
    const now = this.snapshot(deployment, version);
    const latency = new Uint32Array(BUCKETS);
    for (let i = 0; i < BUCKETS; i++) latency[i] = now.latency[i]! - from.latency[i]!;
    const predictions = new Uint32Array(PREDICTION_BINS);
    for (let i = 0; i < PREDICTION_BINS; i++) predictions[i] = now.predictions[i]! - from.predictions[i]!;
    return { answers: now.answers - from.answers, errors: now.errors - from.errors, nonFinite: now.nonFinite - from.nonFinite, latency, predictions, labelled: now.labelled - from.labelled, wrong: now.wrong - from.wrong };
  }

  /** Forget a deployment's versions (after its rollout ended). */
  forget(deployment: string): void {
    this.#counts.delete(deployment);
  }

  observer(): Observer {
    return (o) => this.record(o.deployment, o.version, o.status, o.totalMs, o.nonFinite === true, o.outputs);
  }
}

function empty(): VariantCounts {
  return { answers: 0, errors: 0, nonFinite: 0, latency: new Uint32Array(BUCKETS), predictions: new Uint32Array(PREDICTION_BINS), labelled: 0, wrong: 0 };
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
