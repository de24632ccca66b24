/**
 * Model quality from ground truth: the labels sent to /feedback joined to the captured
 * predictions (capture/store.ts), per deployment version and time window. The task is read
 * from the data:
 * - binary classification: one score per row in [0, 1] and labels 0/1 (the prediction is
 *   score ≥ 0.5): accuracy, precision, recall, AUC;
 * - multi-class: 2+ scores per row and labels that are mostly class indices (the
 *   prediction is the argmax): accuracy, and AUC of class 1 when there are exactly two
 *   classes; a label naming no class is counted as unjudged;
 * - regression otherwise: MAE and RMSE.
 * Every figure comes with `n`, the labelled predictions behind it. A label is a number (for
 * a one-row request) or an array with one number per row.
 */
import type { CaptureRecord } from './capture/record.js';

export interface QualityFigures {
  task: 'binary' | 'multiclass' | 'regression';
  n: number;
  /** Labels that could not be judged against the predictions (a 2 for a binary classifier), not in n. */
  unjudged?: number;
  accuracy?: number;
  precision?: number;
  recall?: number;
  auc?: number;
  mae?: number;
  rmse?: number;
}

export interface Pair { scores: number[]; label: number }

/** The rows a record's prediction has (its first output's), which a label must match one for one; undefined without outputs. */
export function predictionRows(record: CaptureRecord): number | undefined {
  const out = Object.values(record.outputs)[0];
  if (!out) return undefined;
  const width = out.shape.length >= 2 ? out.shape[out.shape.length - 1]! : 1;
  return width > 0 ? Math.floor(out.data.length / width) : 0;
}

/** Why `label` cannot label `record`'s prediction (not one number per row, or not a class index of a classifier's scores), or undefined when it can. */
export function labelFitError(record: CaptureRecord, label: number | number[]): string | undefined {
  const rows = predictionRows(record);
  const n = Array.isArray(label) ? label.length : 1;
  // Class scores (a first output of width ≥ 2): each label is a class index, or it could never be judged.
  const [name, out] = Object.entries(record.outputs)[0] ?? [];
  const width = out && out.shape.length >= 2 ? out.shape[out.shape.length - 1]! : 1;
  if (width >= 2) {
    const bad = (Array.isArray(label) ? label : [label]).find((l) => !(Number.isInteger(l) && l >= 0 && l < width));
    if (bad !== undefined) return `label ${bad} names no class: the model's output '${name}' scores ${width} classes, so a label is a class index from 0 to ${width - 1}`;
  }
  if (rows === undefined || rows === n) return undefined;
  return `the prediction has ${rows} row${rows === 1 ? '' : 's'} and the label ${n} value${n === 1 ? '' : 's'}; send one label per row${rows === 1 ? ' (a number)' : ` (an array of ${rows})`}`;
}

/**
 * A label that fits but may be a mistake: the prediction is one score in [0, 1] per row (a
 * binary classifier's, or a regression's that happens to lie there) and the label is
 * neither 0 nor 1. A binary classifier's quality leaves such a label out; a regression's
 * may be any number, so the label is kept and the caller told.
 */
export function labelFitWarning(record: CaptureRecord, label: number | number[]): string | undefined {
  const out = Object.values(record.outputs)[0];
  if (!out) return undefined;
  const width = out.shape.length >= 2 ? out.shape[out.shape.length - 1]! : 1;
  if (width !== 1 || !out.data.every((v) => typeof v === 'number' && v >= 0 && v <= 1)) return undefined;
  const odd = (Array.isArray(label) ? label : [label]).find((l) => l !== 0 && l !== 1);
  if (odd === undefined) return undefined;
  return `label ${odd} is neither 0 nor 1, and the prediction is a score in [0, 1]: if this deployment is a binary classifier, its quality figures leave this label out (send 0 or 1); a regression's label may be any number`;
}

/** The labelled rows of one record: its first output's rows against the label(s). */
export function pairsOf(record: CaptureRecord, label: number | number[]): Pair[] {
  const out = Object.values(record.outputs)[0];
  const rows = predictionRows(record);
  if (!out || rows === undefined) return [];
  const width = out.shape.length >= 2 ? out.shape[out.shape.length - 1]! : 1;
  const labels = Array.isArray(label) ? label : [label];
  if (labels.length !== rows) return [];
  const pairs: Pair[] = [];
  for (let r = 0; r < rows; r++) {
    const scores = out.data.slice(r * width, (r + 1) * width).map((v) => (typeof v === 'number' ? v : NaN));
    if (scores.every(Number.isFinite)) pairs.push({ scores, label: labels[r]! });
  }
  return pairs;
}

/** Area under the ROC curve by ranks (ties count half); undefined without both classes. */
export function auc(scores: readonly number[], positive: readonly boolean[]): number | undefined {
  const idx = scores.map((s, i) => [s, positive[i]!] as const).sort((a, b) => a[0] - b[0]);
  let pos = 0;
  let neg = 0;
  let rankSum = 0;
  for (let i = 0; i < idx.length;) {
    let j = i;
    while (j < idx.length && idx[j]![0] === idx[i]![0]) j++;
    const rank = (i + 1 + j) / 2;
    for (let k = i; k < j; k++) if (idx[k]![1]) { pos++; rankSum += rank; } else neg++;
    i = j;
  }
  if (pos === 0 || neg === 0) return undefined;
  return (rankSum - (pos * (pos + 1)) / 2) / (pos * neg);
}

/**
 * Whether one labelled prediction was right, as quality() reads the task: a binary score is
 * right when (score ≥ 0.5) is the label, class scores when the argmax is the label, and a
 * regression value when within `tolerance` of the label (undefined without a tolerance).
 */
export function judge(p: Pair, tolerance?: number): boolean | undefined {
  const width = p.scores.length;
  if (width === 1 && (p.label === 0 || p.label === 1) && p.scores[0]! >= 0 && p.scores[0]! <= 1) return (p.scores[0]! >= 0.5 ? 1 : 0) === p.label;
  if (width >= 2 && Number.isInteger(p.label) && p.label >= 0 && p.label < width) {
    let best = 0;
    for (let k = 1; k < width; k++) if (p.scores[k]! > p.scores[best]!) best = k;
    return best === p.label;
  }
  if (tolerance === undefined) return undefined;
  return Math.abs(p.scores[0]! - p.label) <= tolerance;
}

export function quality(pairs: readonly Pair[]): QualityFigures | undefined {
  if (pairs.length === 0) return undefined;
  const width = pairs[0]!.scores.length;
  // One score in [0, 1] per row and mostly 0/1 labels: a binary classifier; other labels (2, 0.5) cannot be judged and are counted apart, rather than one stray label turning it into a regression.
  const binary = width === 1 && pairs.every((p) => p.scores[0]! >= 0 && p.scores[0]! <= 1) ? pairs.filter((p) => p.label === 0 || p.label === 1) : [];
  if (width === 1 && binary.length * 2 > pairs.length) {
    const judged = binary;
    const unjudged = pairs.length - judged.length;
    let tp = 0; let fp = 0; let tn = 0; let fn = 0;
    for (const p of judged) {
      const yes = p.scores[0]! >= 0.5;
      if (yes && p.label === 1) tp++; else if (yes) fp++; else if (p.label === 1) fn++; else tn++;
    }
    const a = auc(judged.map((p) => p.scores[0]!), judged.map((p) => p.label === 1));
    return {
      task: 'binary', n: judged.length, accuracy: (tp + tn) / judged.length, ...(unjudged > 0 ? { unjudged } : {}),
      ...(tp + fp > 0 ? { precision: tp / (tp + fp) } : {}), ...(tp + fn > 0 ? { recall: tp / (tp + fn) } : {}), ...(a !== undefined ? { auc: a } : {}),
    };
  }
  // Class scores and mostly class-index labels: a classifier; a label that names no class (-3.5 for three classes) cannot be judged and is counted apart rather than turning it into a regression.
  const classes = width >= 2 ? pairs.filter((p) => Number.isInteger(p.label) && p.label >= 0 && p.label < width) : [];
  if (width >= 2 && classes.length * 2 > pairs.length) {
    const unjudged = pairs.length - classes.length;
    let right = 0;
    for (const p of classes) {
      let best = 0;
      for (let k = 1; k < width; k++) if (p.scores[k]! > p.scores[best]!) best = k;
      if (best === p.label) right++;
    }
    const a = width === 2 ? auc(classes.map((p) => p.scores[1]!), classes.map((p) => p.label === 1)) : undefined;
    return { task: 'multiclass', n: classes.length, accuracy: right / classes.length, ...(unjudged > 0 ? { unjudged } : {}), ...(a !== undefined ? { auc: a } : {}) };
  }
  let abs = 0;
  let sq = 0;
  for (const p of pairs) {
    const e = p.scores[0]! - p.label;
    abs += Math.abs(e);
    sq += e * e;
  }
  return { task: 'regression', n: pairs.length, mae: abs / pairs.length, rmse: Math.sqrt(sq / pairs.length) };
}
