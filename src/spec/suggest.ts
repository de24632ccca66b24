/**
 * "Did you mean …?" for misspelt keys, model names and enum values.
 */

/**
 * Edit distance: insertions, deletions, substitutions and swaps of neighbours each cost 1
 * (Levenshtein plus transpositions, so 'modle' is one edit from 'model').
 */
export function editDistance(a: string, b: string): number {
  if (a === b) return 0;
  const rows: number[][] = [Array.from({ length: b.length + 1 }, (_, j) => j)];
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    const up = rows[i - 1] as number[];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min((up[j] as number) + 1, (row[j - 1] as number) + 1, (up[j - 1] as number) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, ((rows[i - 2] as number[])[j - 2] as number) + 1);
      row[j] = d;
    }
    rows.push(row);
  }
  return (rows[a.length] as number[])[b.length] as number;
}

// 'max_batch_size', 'max-batch-size' and 'MaxBatchSize' all mean 'maxBatchSize'.
function fold(s: string): string {
  return s.toLowerCase().replace(/[-_\s]/g, '');
}

/**
 * The closest candidate to `input`, or undefined when none is close enough.
 * Matches ignoring case, '_' and '-' first; otherwise the smallest edit distance within
 * a third of the input's length (at least 1, at most 3).
 *
 * @example closest('replica', ['model', 'replicas']) === 'replicas'
 */
export function closest(input: string, candidates: Iterable<string>): string | undefined {
  const list = [...candidates];
  const folded = fold(input);
  const exact = list.find((c) => fold(c) === folded);
  if (exact !== undefined) return exact;
  const limit = Math.min(3, Math.max(1, Math.floor(input.length / 3)));
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of list) {
    const d = editDistance(folded, fold(c));
    if (d <= limit && d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return best;
}

/** `"did you mean 'replicas'?"`, or undefined when nothing is close. */
export function didYouMean(input: string, candidates: Iterable<string>): string | undefined {
  const c = closest(input, candidates);
  return c === undefined ? undefined : `did you mean '${c}'?`;
}
