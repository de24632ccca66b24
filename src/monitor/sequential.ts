/**
 * Sequential comparison of two variants that stays valid when it is checked again and
 * again as data arrives: the basis of rollout gates (issue 13) and, later, SLO checks.
 *
 * The statistic is the mixture sequential probability ratio test (mSPRT) of Johari,
 * Pekelis and Walsh, "Always Valid Inference: Continuous Monitoring of A/B Tests"
 * (2015/2021), for the difference θ = p_candidate − p_baseline of two rates (an error
 * rate, or the share of requests slower than a latency bound), with a normal mixing
 * distribution N(0, τ²) over θ and the plug-in variance of θ̂. Inverted, it gives an
 * always-valid confidence sequence for θ:
 *
 *     θ̂ ± sqrt( V (V + τ²) / τ² · ( 2 ln(1/α) + ln((V + τ²) / V) ) ),   V = Var(θ̂)
 *
 * which covers θ at every sample size at once with probability ≥ 1 − α (asymptotically;
 * the seeded simulations in sequential.test.ts measure it at the sizes a rollout sees).
 * A verdict from it is therefore safe to take at any check:
 *
 * - `fail`: the lower bound is above 0 (or `tolerance`), the candidate is worse (false alarms ≤ α);
 * - `pass`: the upper bound is below `margin`, the candidate is not worse by more than it;
 * - `inconclusive`: neither yet, or fewer than `minSamples` per variant. Too little data is
 *   never a pass or a fail; what to do then is the rollout's `onInconclusive` policy.
 *
 * Counts get one pseudo-failure and one pseudo-success per variant (Agresti–Caffo), so a
 * variant with no failures yet still has a variance.
 */

export interface RateSample {
  /** Observations (requests). */
  n: number;
  /** Of them, "bad" ones (errors, or answers slower than the bound). */
  bad: number;
}

export interface SequentialOptions {
  /** False-alarm rate: the chance, over the whole run, of a `fail` when the variants are equal. Default 0.05. */
  alpha?: number;
  /** Mixing scale τ: the size of difference the test is most sensitive to. Default 0.02 (two percentage points). */
  tau?: number;
  /** A candidate worse by less than this still passes. Default 0.01 (one percentage point). */
  margin?: number;
  /** Fewer observations than this in either variant is inconclusive. Default 100. */
  minSamples?: number;
  /** `fail` only when the candidate is worse by more than this (the lower bound above it). Default 0. */
  tolerance?: number;
}

export type Verdict = 'pass' | 'fail' | 'inconclusive';

export interface RateComparison {
  verdict: Verdict;
  /** Observed shares of bad outcomes, bad ÷ n (0 before any observation; `samples` has the counts). */
  baseline: number;
  candidate: number;
  /** θ̂ = candidate − baseline, estimated with one pseudo-failure and one pseudo-success per side (so defined at n = 0). */
  difference: number;
  /** The always-valid confidence sequence for θ at this sample size, within [-1, 1] (all of it before any data). */
  lower: number;
  upper: number;
  /** The observations behind the figures: answers (`n`) and bad ones, per variant. */
  samples: { baseline: RateSample; candidate: RateSample };
  /** Why, in one line, with the numbers. */
  reason: string;
}

const DEFAULTS = { alpha: 0.05, tau: 0.02, margin: 0.01, minSamples: 100 };

/** The always-valid confidence sequence for candidate − baseline at these counts. */
export function rateDifferenceBounds(baseline: RateSample, candidate: RateSample, opts: SequentialOptions = {}): { estimate: number; lower: number; upper: number; pb: number; pc: number } {
  const alpha = opts.alpha ?? DEFAULTS.alpha;
  const tau2 = (opts.tau ?? DEFAULTS.tau) ** 2;
  const pb = (baseline.bad + 1) / (baseline.n + 2);
  const pc = (candidate.bad + 1) / (candidate.n + 2);
  const v = (pb * (1 - pb)) / (baseline.n + 2) + (pc * (1 - pc)) / (candidate.n + 2);
  const half = Math.sqrt(((v * (v + tau2)) / tau2) * (2 * Math.log(1 / alpha) + Math.log((v + tau2) / v)));
  const estimate = pc - pb;
  // A difference of two shares lies in [-1, 1]; the bound is clipped there (it is wider with little data).
  return { estimate, lower: Math.max(-1, estimate - half), upper: Math.min(1, estimate + half), pb, pc };
}

/** Compare the candidate's rate of bad outcomes with the baseline's; valid at every check. */
export function compareRates(baseline: RateSample, candidate: RateSample, opts: SequentialOptions = {}): RateComparison {
  const margin = opts.margin ?? DEFAULTS.margin;
  const minSamples = opts.minSamples ?? DEFAULTS.minSamples;
  const b = rateDifferenceBounds(baseline, candidate, opts);
  const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
  const raw = (x: RateSample) => (x.n === 0 ? '-' : pct(x.bad / x.n));
  const alpha = opts.alpha ?? DEFAULTS.alpha;
  const interval = baseline.n === 0 || candidate.n === 0
    ? `no always-valid interval for the difference yet (α ${alpha}): the ${candidate.n === 0 ? 'candidate' : 'baseline'} has no answers`
    : `difference in [${pct(b.lower)}, ${pct(b.upper)}] (always-valid, α ${alpha})`;
  const numbers = `candidate ${raw(candidate)} (${candidate.bad}/${candidate.n}) vs baseline ${raw(baseline)} (${baseline.bad}/${baseline.n}), ${interval}`;
  const share = (x: RateSample) => (x.n === 0 ? 0 : x.bad / x.n);
  const out = { baseline: share(baseline), candidate: share(candidate), difference: b.estimate, lower: b.lower, upper: b.upper, samples: { baseline: { n: baseline.n, bad: baseline.bad }, candidate: { n: candidate.n, bad: candidate.bad } } };
  if (baseline.n < minSamples || candidate.n < minSamples) {
    return { ...out, verdict: 'inconclusive', reason: `too little data (${Math.min(baseline.n, candidate.n)} of ${minSamples} observations needed per variant): ${numbers}` };
  }
  const tolerance = opts.tolerance ?? 0;
  if (b.lower > tolerance) return { ...out, verdict: 'fail', reason: `the candidate is worse${tolerance > 0 ? ` by more than ${pct(tolerance)}` : ''}: ${numbers}` };
  if (b.upper < margin) return { ...out, verdict: 'pass', reason: `the candidate is not worse by ${pct(margin)} or more: ${numbers}` };
  return { ...out, verdict: 'inconclusive', reason: `not decided yet: ${numbers}` };
}

/** The always-valid confidence sequence for one rate (the same mixture, one sample): p̂ ± half. */
export function rateBounds(sample: RateSample, opts: SequentialOptions = {}): { estimate: number; lower: number; upper: number } {
  const alpha = opts.alpha ?? DEFAULTS.alpha;
  const tau2 = (opts.tau ?? DEFAULTS.tau) ** 2;
  const p = (sample.bad + 1) / (sample.n + 2);
  const v = (p * (1 - p)) / (sample.n + 2);
  const half = Math.sqrt(((v * (v + tau2)) / tau2) * (2 * Math.log(1 / alpha) + Math.log((v + tau2) / v)));
  return { estimate: p, lower: Math.max(0, p - half), upper: Math.min(1, p + half) };
}

export interface TargetCheck {
  verdict: Verdict;
  /** Observed rate of bad outcomes (pseudo-counts included) and its always-valid interval. */
  rate: number;
  lower: number;
  upper: number;
  reason: string;
}

/**
 * Is a rate of bad outcomes at most `limit`? `pass` once the upper bound is at or under it,
 * `fail` once the lower bound is over it (wrong with probability ≤ α however often it is
 * checked), else (or under `minSamples`) inconclusive. A shadow's disagreement share
 * against 1 − the agreement asked for, say.
 */
export function checkRate(sample: RateSample, limit: number, opts: SequentialOptions & { what?: string } = {}): TargetCheck {
  const minSamples = opts.minSamples ?? DEFAULTS.minSamples;
  const b = rateBounds(sample, opts);
  const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
  const what = opts.what ?? 'rate';
  const numbers = `${what} ${sample.n === 0 ? '-' : pct(sample.bad / sample.n)} (${sample.bad}/${sample.n}), in [${pct(b.lower)}, ${pct(b.upper)}] (always-valid, α ${opts.alpha ?? DEFAULTS.alpha}), limit ${pct(limit)}`;
  const out = { rate: b.estimate, lower: b.lower, upper: b.upper };
  if (sample.n < minSamples) return { ...out, verdict: 'inconclusive', reason: `too little data (${sample.n} of ${minSamples} observations needed): ${numbers}` };
  if (b.lower > limit) return { ...out, verdict: 'fail', reason: `over the limit: ${numbers}` };
  if (b.upper <= limit) return { ...out, verdict: 'pass', reason: `within the limit: ${numbers}` };
  return { ...out, verdict: 'inconclusive', reason: `not decided yet: ${numbers}` };
}
