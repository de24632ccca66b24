/**
 * Data drift between a reference sample and a recent window, per feature, with the tests
 * Evidently selects by size and kind (reference/algorithms.md §6.1):
 *
 * | reference rows | feature                                   | test                          | drifted when |
 * | ≤ 1000         | numeric with more than 5 distinct values  | two-sample Kolmogorov–Smirnov | p < 0.05     |
 * | ≤ 1000         | categorical, or numeric with 3–5 values   | chi-square                    | p < 0.05     |
 * | ≤ 1000         | at most 2 distinct values                 | Z-test for two proportions    | p < 0.05     |
 * | > 1000         | numeric with more than 5 distinct values  | Wasserstein ÷ std(reference)  | ≥ 0.1        |
 * | > 1000         | categorical, or numeric with ≤ 5 values   | Jensen–Shannon distance       | ≥ 0.1        |
 *
 * p-values are over-sensitive on large samples, hence distances above 1000 rows. A dataset
 * has drifted when at least `share` (default 0.5) of its tested features have. Every
 * result records the test, the statistic, the threshold and both sample sizes.
 */

export type Cell = number | string | boolean | null;

export interface FeatureDrift {
  feature: string;
  test: 'ks' | 'chi-square' | 'z-test' | 'wasserstein' | 'jensen-shannon';
  /** The statistic: D (KS), χ² (chi-square), |z| (z-test), the normed distance otherwise. */
  statistic: number;
  /** For the hypothesis tests. */
  pValue?: number;
  /** p below it (tests) or the distance at or above it drifts. */
  threshold: number;
  drifted: boolean;
  referenceRows: number;
  currentRows: number;
}

/** One test's figures as people read them: `ks 0.312, p 1.2e-5 (< 0.05 drifts)`, or `wasserstein 0.14 (≥ 0.1 drifts)`. */
export function describeTest(f: Pick<FeatureDrift, 'test' | 'statistic' | 'pValue' | 'threshold'>): string {
  return `${f.test} ${f.statistic.toPrecision(3)}${f.pValue !== undefined ? `, p ${f.pValue.toPrecision(2)} (< ${f.threshold} drifts)` : ` (≥ ${f.threshold} drifts)`}`;
}

export interface DatasetDrift {
  features: FeatureDrift[];
  /** Share of tested features that drifted. */
  share: number;
  /** The share that makes the dataset drifted. */
  threshold: number;
  drifted: boolean;
  driftedFeatures: string[];
}

/** Q_KS(λ) = 2 Σ (−1)^(k−1) e^(−2k²λ²): the Kolmogorov distribution's tail. */
function kolmogorovQ(lambda: number): number {
  if (lambda < 1e-3) return 1;
  let sum = 0;
  for (let k = 1; k <= 100; k++) {
    const term = 2 * (k % 2 === 1 ? 1 : -1) * Math.exp(-2 * k * k * lambda * lambda);
    sum += term;
    if (Math.abs(term) < 1e-12) break;
  }
  return Math.min(1, Math.max(0, sum));
}

/** Two-sample KS: D and its asymptotic p-value (Stephens' small-sample correction). */
export function ksTest(a: readonly number[], b: readonly number[]): { d: number; p: number } {
  const x = [...a].sort((p, q) => p - q);
  const y = [...b].sort((p, q) => p - q);
  let i = 0;
  let j = 0;
  let d = 0;
  while (i < x.length && j < y.length) {
    const v = Math.min(x[i]!, y[j]!);
    while (i < x.length && x[i]! <= v) i++;
    while (j < y.length && y[j]! <= v) j++;
    d = Math.max(d, Math.abs(i / x.length - j / y.length));
  }
  const ne = (x.length * y.length) / (x.length + y.length);
  const sq = Math.sqrt(ne);
  return { d, p: kolmogorovQ((sq + 0.12 + 0.11 / sq) * d) };
}

/** ln Γ(x), Lanczos. */
function lnGamma(x: number): number {
  const c = [76.18009172947146, -86.50532032941678, 24.01409824083091, -1.231739572450155, 0.1208650973866179e-2, -0.5395239384953e-5];
  let y = x;
  const t = x + 5.5 - (x + 0.5) * Math.log(x + 5.5);
  let s = 1.000000000190015;
  for (const k of c) s += k / ++y;
  return -t + Math.log((2.5066282746310002 * s) / x);
}

/** The regularized upper incomplete gamma Q(a, x) (Numerical Recipes' gammq). */
export function gammaQ(a: number, x: number): number {
  if (x <= 0) return 1;
  if (x < a + 1) {
    let sum = 1 / a;
    let del = sum;
    for (let n = 1; n < 500; n++) {
      del *= x / (a + n);
      sum += del;
      if (Math.abs(del) < Math.abs(sum) * 1e-14) break;
    }
    return 1 - sum * Math.exp(-x + a * Math.log(x) - lnGamma(a));
  }
  let b = x + 1 - a;
  let c = 1e300;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 500; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < 1e-300) d = 1e-300;
    c = b + an / c;
    if (Math.abs(c) < 1e-300) c = 1e-300;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < 1e-14) break;
  }
  return Math.exp(-x + a * Math.log(x) - lnGamma(a)) * h;
}

function counts(values: readonly Cell[], categories: readonly string[]): number[] {
  const index = new Map(categories.map((c, i) => [c, i]));
  const out = new Array<number>(categories.length).fill(0);
  for (const v of values) {
    const i = index.get(String(v));
    if (i !== undefined) out[i]!++;
  }
  return out;
}

/**
 * Chi-square of the current counts against the reference proportions. Categories the
 * reference has fewer than 5 rows of are pooled into one bin (the test's validity rule),
 * and an empty pool gets half a row: Evidently's fill of 0.0001 made a single row of an
 * unseen value (a late-payment count of 5, say) a drift on its own, in a quarter of windows
 * drawn from the reference itself.
 */
export function chiSquare(refCounts: readonly number[], curCounts: readonly number[]): { chi2: number; p: number } {
  const ref: number[] = [];
  const cur: number[] = [];
  let rareRef = 0;
  let rareCur = 0;
  let rare = 0;
  let fresh = 0;
  let freshCur = 0;
  refCounts.forEach((r, i) => {
    if (r >= 5) { ref.push(r); cur.push(curCounts[i]!); } else if (r > 0) { rareRef += r; rareCur += curCounts[i]!; rare++; } else { freshCur += curCounts[i]!; fresh++; }
  });
  // Rare reference values share a bin; values the reference never had get one of their own
  // (with half a row expected), so a window of new values is drift, not a match of the rare bin.
  if (rare > 0) { ref.push(rareRef); cur.push(rareCur); }
  if (fresh > 0) { ref.push(0.5); cur.push(freshCur); }
  const nr = ref.reduce((s, x) => s + x, 0);
  const nc = cur.reduce((s, x) => s + x, 0);
  let chi2 = 0;
  for (let i = 0; i < ref.length; i++) {
    const expected = Math.max(ref[i]! / nr, 0.0001) * nc;
    chi2 += (cur[i]! - expected) ** 2 / expected;
  }
  const df = Math.max(1, ref.length - 1);
  return { chi2, p: gammaQ(df / 2, chi2 / 2) };
}

/** erfc, for the z-test's two-sided p (Numerical Recipes' erfcc). */
function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r = t * Math.exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
  return x >= 0 ? r : 2 - r;
}

/** Two-proportion z-test of the first category's share. */
export function zTest(ref: readonly number[], cur: readonly number[]): { z: number; p: number } {
  const nr = ref.reduce((s, x) => s + x, 0);
  const nc = cur.reduce((s, x) => s + x, 0);
  const p1 = ref[0]! / nr;
  const p2 = cur[0]! / nc;
  const p = (ref[0]! + cur[0]!) / (nr + nc);
  const se = Math.sqrt(p * (1 - p) * (1 / nr + 1 / nc));
  if (se === 0) return { z: 0, p: p1 === p2 ? 1 : 0 };
  const z = Math.abs(p1 - p2) / se;
  return { z, p: erfc(z / Math.SQRT2) };
}

/** Wasserstein-1 distance of two samples, divided by the reference's standard deviation (at least 0.001). */
export function wassersteinNormed(a: readonly number[], b: readonly number[]): number {
  const x = [...a].sort((p, q) => p - q);
  const y = [...b].sort((p, q) => p - q);
  const all = [...new Set([...x, ...y])].sort((p, q) => p - q);
  let i = 0;
  let j = 0;
  let w = 0;
  for (let k = 0; k < all.length - 1; k++) {
    while (i < x.length && x[i]! <= all[k]!) i++;
    while (j < y.length && y[j]! <= all[k]!) j++;
    w += Math.abs(i / x.length - j / y.length) * (all[k + 1]! - all[k]!);
  }
  const mean = x.reduce((s, v) => s + v, 0) / x.length;
  const std = Math.sqrt(x.reduce((s, v) => s + (v - mean) ** 2, 0) / x.length);
  return w / Math.max(std, 0.001);
}

/** Jensen–Shannon distance over two count vectors: natural log by default, as scipy (rollouts' output shift uses base 2, bounded by 1). */
export function jensenShannon(ref: ArrayLike<number>, cur: ArrayLike<number>, base = Math.E): number {
  let nr = 0;
  let nc = 0;
  for (let i = 0; i < ref.length; i++) { nr += ref[i]!; nc += cur[i]!; }
  const ln = Math.log(base);
  let js = 0;
  for (let i = 0; i < ref.length; i++) {
    const p = ref[i]! / nr;
    const q = cur[i]! / nc;
    const m = (p + q) / 2;
    if (p > 0) js += (p / 2) * Math.log(p / m);
    if (q > 0) js += (q / 2) * Math.log(q / m);
  }
  return Math.sqrt(Math.max(0, js / ln));
}

/**
 * Why a feature cannot be compared as categories, or undefined when it can: most of the
 * reference's rows hold values seen fewer than 5 times (a continuous value, hashed, or an
 * identifier), so a window from the same distribution would be mostly new values too, and
 * every test would call that drift.
 */
export function tooManyCategories(ref: readonly Cell[]): string | undefined {
  const counts = new Map<string, number>();
  let n = 0;
  for (const v of ref) {
    if (v === null) continue;
    n++;
    const k = String(v);
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  let rare = 0;
  for (const c of counts.values()) if (c < 5) rare += c;
  if (n === 0 || rare * 2 <= n) return undefined;
  // A few values, each seen too rarely: the reference is short, not the feature continuous.
  if (counts.size <= 10) return `too few reference rows to compare as categories (${n} row${n === 1 ? '' : 's'} for ${counts.size} distinct value${counts.size === 1 ? '' : 's'}; each value needs about 5 rows: give a longer reference)`;
  return `too many distinct values to compare as categories (${counts.size} in ${n} reference rows, ${Math.round((rare / n) * 100)}% of the rows holding a value seen fewer than 5 times)`;
}

/** One feature, its test chosen as Evidently does. */
export function featureDrift(feature: string, kind: 'numeric' | 'categorical', ref: readonly Cell[], cur: readonly Cell[]): FeatureDrift | undefined {
  const r = ref.filter((v) => v !== null);
  const c = cur.filter((v) => v !== null);
  if (r.length === 0 || c.length === 0) return undefined;
  const distinct = new Set(r.map(String));
  const numeric = kind === 'numeric' && r.every((v) => typeof v === 'number') && c.every((v) => typeof v === 'number');
  const base = { feature, referenceRows: r.length, currentRows: c.length };
  if (numeric && distinct.size > 5) {
    if (r.length <= 1000) {
      const t = ksTest(r as number[], c as number[]);
      return { ...base, test: 'ks', statistic: t.d, pValue: t.p, threshold: 0.05, drifted: t.p < 0.05 };
    }
    const w = wassersteinNormed(r as number[], c as number[]);
    return { ...base, test: 'wasserstein', statistic: w, threshold: 0.1, drifted: w >= 0.1 };
  }
  // Categories: the reference's, plus any the window brought (a new value is drift too).
  const categories = [...new Set([...r.map(String), ...c.map(String)])].sort();
  const rc = counts(r, categories);
  const cc = counts(c, categories);
  if (r.length <= 1000) {
    if (categories.length <= 2) {
      const t = zTest(rc, cc);
      return { ...base, test: 'z-test', statistic: t.z, pValue: t.p, threshold: 0.05, drifted: t.p < 0.05 };
    }
    const t = chiSquare(rc, cc);
    return { ...base, test: 'chi-square', statistic: t.chi2, pValue: t.p, threshold: 0.05, drifted: t.p < 0.05 };
  }
  const js = jensenShannon(rc, cc);
  return { ...base, test: 'jensen-shannon', statistic: js, threshold: 0.1, drifted: js >= 0.1 };
}

/** Every feature of a window against the reference; the dataset drifts when `share` of them do. */
export function datasetDrift(features: readonly { name: string; kind: 'numeric' | 'categorical' }[], ref: Readonly<Record<string, readonly Cell[]>>, cur: Readonly<Record<string, readonly Cell[]>>, share = 0.5): DatasetDrift {
  const results: FeatureDrift[] = [];
  for (const f of features) {
    const r = featureDrift(f.name, f.kind, ref[f.name] ?? [], cur[f.name] ?? []);
    if (r) results.push(r);
  }
  const drifted = results.filter((r) => r.drifted).map((r) => r.feature);
  const s = results.length === 0 ? 0 : drifted.length / results.length;
  return { features: results, share: s, threshold: share, drifted: results.length > 0 && s >= share, driftedFeatures: drifted };
}
