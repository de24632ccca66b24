/**
 * Binary-classifier metrics for the credit-risk example: accuracy, ROC AUC, log loss.
 */

export interface ClassifierMetrics {
  /** Share of rows where (score ≥ threshold) equals the label. */
  accuracy: number;
  /** Area under the ROC curve (ties count half). */
  auc: number;
  /** Mean binary cross-entropy, probabilities clipped to [1e-7, 1 - 1e-7]. */
  logLoss: number;
  /** Share of positive labels. */
  positiveRate: number;
  rows: number;
}

/** ROC AUC via the Mann–Whitney rank statistic, with average ranks for tied scores. */
export function auc(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  const n = scores.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[a]! - scores[b]!);
  let positives = 0;
  let rankSum = 0;
  for (let i = 0; i < n;) {
    let j = i;
    while (j + 1 < n && scores[order[j + 1]!] === scores[order[i]!]) j++;
    const avgRank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) {
      if (labels[order[k]!]) {
        positives++;
        rankSum += avgRank;
      }
    }
    i = j + 1;
  }
  const negatives = n - positives;
  if (positives === 0 || negatives === 0) return Number.NaN;
  return (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

/** All metrics of probabilities against 0/1 labels. */
export function classifierMetrics(probabilities: ArrayLike<number>, labels: ArrayLike<number>, threshold = 0.5): ClassifierMetrics {
  const n = probabilities.length;
  let correct = 0;
  let loss = 0;
  let positives = 0;
  for (let i = 0; i < n; i++) {
    const p = Math.min(1 - 1e-7, Math.max(1e-7, probabilities[i]!));
    const y = labels[i] ? 1 : 0;
    positives += y;
    if ((p >= threshold ? 1 : 0) === y) correct++;
    loss -= y * Math.log(p) + (1 - y) * Math.log(1 - p);
  }
  return { accuracy: correct / n, auc: auc(probabilities, labels), logLoss: loss / n, positiveRate: positives / n, rows: n };
}
