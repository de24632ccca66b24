import { test } from 'node:test';
import assert from 'node:assert/strict';
import { auc, classifierMetrics } from './metrics.js';

test('auc: perfect, inverted, ties and the Mann–Whitney value', () => {
  assert.equal(auc([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1]), 1);
  assert.equal(auc([0.9, 0.8, 0.2, 0.1], [0, 0, 1, 1]), 0);
  assert.equal(auc([0.5, 0.5, 0.5, 0.5], [0, 1, 0, 1]), 0.5);
  // pairs (pos, neg): (0.4,0.1) win, (0.4,0.5) lose, (0.7,0.1) win, (0.7,0.5) win → 3/4
  assert.equal(auc([0.1, 0.4, 0.5, 0.7], [0, 1, 0, 1]), 0.75);
  assert.ok(Number.isNaN(auc([0.1, 0.2], [1, 1])));
});

test('classifierMetrics', () => {
  const m = classifierMetrics([0.9, 0.2, 0.6, 0.4], [1, 0, 0, 0]);
  assert.equal(m.accuracy, 0.75);
  assert.equal(m.positiveRate, 0.25);
  assert.equal(m.rows, 4);
  const expected = -(Math.log(0.9) + Math.log(0.8) + Math.log(0.4) + Math.log(0.6)) / 4;
  assert.ok(Math.abs(m.logLoss - expected) < 1e-12);
});
