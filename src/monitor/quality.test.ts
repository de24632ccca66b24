import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CaptureRecord } from './capture/record.js';
import { auc, labelFitError, labelFitWarning, pairsOf, quality } from './quality.js';

const record = (shape: number[], data: number[]): CaptureRecord => ({ id: 'r', at: '', deployment: 'd', version: 1, model: 'm', key: 'k', latencyMs: 1, rows: [], outputs: { p: { shape, data } } });

test('binary classifiers: accuracy, precision, recall and AUC from scores in [0, 1] and 0/1 labels', () => {
  const pairs = [[0.9, 1], [0.8, 1], [0.7, 0], [0.3, 1], [0.2, 0], [0.1, 0]].flatMap(([s, l]) => pairsOf(record([1, 1], [s!]), l!));
  const q = quality(pairs)!;
  assert.equal(q.task, 'binary');
  assert.equal(q.n, 6);
  assert.equal(q.accuracy, 4 / 6);
  assert.equal(q.precision, 2 / 3);
  assert.equal(q.recall, 2 / 3);
  assert.ok(Math.abs(q.auc! - 8 / 9) < 1e-12, `AUC ${q.auc}: 8 of the 9 positive-negative pairs are ordered`);
  assert.equal(auc([0.5, 0.5], [true, false]), 0.5, 'ties count half');
  assert.equal(auc([0.1, 0.2], [true, true]), undefined, 'one class only: no AUC');
});

test('multi-class by argmax, regression by MAE and RMSE; labels per row; a label that does not fit the rows is not counted', () => {
  const mc = quality([...pairsOf(record([2, 3], [0.1, 0.7, 0.2, 0.5, 0.3, 0.2]), [1, 2])])!;
  assert.deepEqual(mc, { task: 'multiclass', n: 2, accuracy: 0.5 });
  // A label that names no class (-3.5, or 3 of three classes) is counted apart; it does not turn the classifier into a regression.
  const stray = quality([...pairsOf(record([2, 3], [0.1, 0.7, 0.2, 0.5, 0.3, 0.2]), [1, 2]), ...pairsOf(record([1, 3], [0.2, 0.3, 0.5]), 2), ...pairsOf(record([1, 3], [0.2, 0.3, 0.5]), -3.5), ...pairsOf(record([1, 3], [0.2, 0.3, 0.5]), 3)])!;
  assert.deepEqual(stray, { task: 'multiclass', n: 3, accuracy: 2 / 3, unjudged: 2 });
  const reg = quality([...pairsOf(record([2, 1], [3, 5]), [2, 9])])!;
  assert.deepEqual(reg, { task: 'regression', n: 2, mae: 2.5, rmse: Math.sqrt((1 + 16) / 2) });
  assert.deepEqual(pairsOf(record([2, 1], [3, 5]), 1), [], 'one label for two rows: not joined');
  assert.equal(quality([]), undefined);
});

test('a label must fit the prediction: one per row, and a class index for class scores', () => {
  const named = (shape: number[], data: number[]): CaptureRecord => ({ ...record(shape, data), outputs: { probs: { shape, data } } });
  const three = named([1, 3], [0.2, 0.5, 0.3]);
  assert.equal(labelFitError(three, 2), undefined);
  assert.equal(labelFitError(three, 3), "label 3 names no class: the model's output 'probs' scores 3 classes, so a label is a class index from 0 to 2");
  assert.match(labelFitError(three, 1.5) ?? '', /label 1\.5 names no class/);
  assert.match(labelFitError(record([2, 2], [0.1, 0.9, 0.8, 0.2]), [1, -1]) ?? '', /label -1 names no class/);
  assert.match(labelFitError(three, [0, 1]) ?? '', /the prediction has 1 row and the label 2 values/);
  // One score per row: a binary classifier or a regression; any number may be its label.
  assert.equal(labelFitError(record([1, 1], [0.7]), 42.5), undefined);
  // But a score in [0, 1] with a label that is neither 0 nor 1 is kept with a warning: a binary classifier's quality leaves it out.
  assert.match(labelFitWarning(record([1, 1], [0.7]), 7) ?? '', /^label 7 is neither 0 nor 1, and the prediction is a score in \[0, 1\]/);
  assert.match(labelFitWarning(record([2, 1], [0.7, 0.2]), [1, 0.5]) ?? '', /^label 0\.5 is neither/);
  assert.equal(labelFitWarning(record([1, 1], [0.7]), 1), undefined);
  assert.equal(labelFitWarning(record([1, 1], [42]), 7), undefined, 'a score outside [0, 1] is a regression value');
  assert.equal(labelFitWarning(record([1, 3], [0.2, 0.5, 0.3]), 2), undefined);
});

test('a stray label (0.5, 2) does not turn a binary classifier into a regression: it is counted apart', () => {
  const pairs = [[0.9, 1], [0.8, 1], [0.2, 0], [0.1, 0], [0.6, 0.5], [0.3, 2]].flatMap(([s, l]) => pairsOf(record([1, 1], [s!]), l!));
  const q = quality(pairs)!;
  assert.equal(q.task, 'binary');
  assert.equal(q.n, 4);
  assert.equal(q.unjudged, 2);
  assert.equal(q.accuracy, 1);
  // Mostly other values: a regression.
  assert.equal(quality([[0.5, 0.4], [0.6, 0.55], [0.7, 1]].flatMap(([s, l]) => pairsOf(record([1, 1], [s!]), l!)))!.task, 'regression');
});
