import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compareRates } from './sequential.js';
import { countAbove, failures, quantile, VariantWindows } from './variants.js';

test('counts per version, snapshots diff to exactly one step, failures include non-finite outputs', () => {
  const w = new VariantWindows();
  for (let i = 0; i < 10; i++) w.record('d', 1, 200, 2, false);
  const step = w.snapshot('d', 1);
  for (let i = 0; i < 5; i++) w.record('d', 1, 200, 3, false);
  w.record('d', 1, 503, 1, false);
  w.record('d', 1, 200, 4, true);
  w.record('d', 2, 200, 100, false);
  const s = w.since('d', 1, step);
  assert.deepEqual([s.answers, s.errors, s.nonFinite], [7, 1, 1]);
  assert.deepEqual(failures(s), { n: 7, bad: 2 });
  assert.equal(w.snapshot('d', 2).answers, 1);
  assert.equal(w.snapshot('x', 9).answers, 0, 'an unknown version has zeros');
  w.forget('d');
  assert.equal(w.snapshot('d', 1).answers, 0);
});

test('quantiles are within 5% of the true ones, and countAbove counts answers over a bound', () => {
  const w = new VariantWindows();
  for (let ms = 1; ms <= 1000; ms++) w.record('d', 1, 200, ms / 10, false); // 0.1 .. 100 ms, uniform
  const c = w.snapshot('d', 1);
  for (const [q, truth] of [[0.5, 50], [0.99, 99], [0.01, 1]] as const) {
    const got = quantile(c, q)!;
    assert.ok(Math.abs(got - truth) / truth <= 0.05 + 1e-9, `q${q}: ${got} vs ${truth}`);
  }
  // Resolution is one bucket: every answer counted is slower than 90 ms, and every answer slower than 90 × 1.05 ms is counted.
  const above = countAbove(c, 90);
  assert.ok(above >= 55 && above <= 100, `${above} answers above 90 ms (100 are over 90 ms, 55 over 94.5 ms)`);
  assert.equal(quantile(w.snapshot('d', 2), 0.5), undefined);
});

test('fed by observations, a canary whose outputs are NaN fails the sequential test against its baseline', () => {
  const w = new VariantWindows();
  const observe = w.observer();
  for (let i = 0; i < 400; i++) {
    observe({ deployment: 'd', version: 1, model: 'm', status: 200, totalMs: 2, at: 0 });
    observe({ deployment: 'd', version: 2, model: 'm', status: 200, totalMs: 2, at: 0, ...(i % 4 === 0 ? { nonFinite: true } : {}) });
  }
  const r = compareRates(failures(w.snapshot('d', 1)), failures(w.snapshot('d', 2)));
  assert.equal(r.verdict, 'fail', r.reason);
});
