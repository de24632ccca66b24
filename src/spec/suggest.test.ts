import assert from 'node:assert/strict';
import { test } from 'node:test';
import { closest, didYouMean, editDistance } from './suggest.js';

test('edit distance', () => {
  assert.equal(editDistance('replica', 'replicas'), 1);
  assert.equal(editDistance('kitten', 'sitting'), 3);
  assert.equal(editDistance('', 'abc'), 3);
  assert.equal(editDistance('same', 'same'), 0);
  assert.equal(editDistance('modle', 'model'), 1);
});

test('closest candidate within a third of the length', () => {
  const keys = ['model', 'replicas', 'batching', 'runtime', 'timeout', 'description'];
  assert.equal(closest('replica', keys), 'replicas');
  assert.equal(closest('modle', keys), 'model');
  assert.equal(closest('timout', keys), 'timeout');
  assert.equal(closest('zzz', keys), undefined);
  assert.equal(closest('m', keys), undefined);
});

test('case, underscores and dashes are ignored', () => {
  assert.equal(closest('max_batch_size', ['maxBatchSize', 'maxQueueSize']), 'maxBatchSize');
  assert.equal(closest('MaxQueueDelay', ['maxBatchSize', 'maxQueueDelay']), 'maxQueueDelay');
  assert.equal(didYouMean('credit-rsk', ['credit-risk', 'fraud']), "did you mean 'credit-risk'?");
  assert.equal(didYouMean('x', []), undefined);
});
