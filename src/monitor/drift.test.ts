import assert from 'node:assert/strict';
import { test } from 'node:test';
import { chiSquare, datasetDrift, featureDrift, gammaQ, jensenShannon, ksTest, tooManyCategories, wassersteinNormed } from './drift.js';

function rng(seed: number) {
  let s = seed >>> 0 || 1;
  const u = () => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return (s + 0.5) / 2 ** 32; };
  return { u, normal: () => Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u()) };
}

test('chi-square tails match the tables: χ²(1) 3.841 and χ²(5) 11.07 are the 5% points', () => {
  assert.ok(Math.abs(gammaQ(0.5, 3.841 / 2) - 0.05) < 1e-3);
  assert.ok(Math.abs(gammaQ(2.5, 11.07 / 2) - 0.05) < 1e-3);
  assert.ok(Math.abs(chiSquare([50, 50], [50, 50]).p - 1) < 1e-9);
});

test('KS on seeded samples: equal distributions alarm at about the 5% rate; half a standard deviation is found at 300 rows', (t) => {
  const r = rng(7);
  let alarms = 0;
  let found = 0;
  const runs = 300;
  for (let k = 0; k < runs; k++) {
    const ref = Array.from({ length: 300 }, r.normal);
    const same = Array.from({ length: 300 }, r.normal);
    const moved = Array.from({ length: 300 }, () => r.normal() + 0.5);
    if (ksTest(ref, same).p < 0.05) alarms++;
    if (ksTest(ref, moved).p < 0.05) found++;
  }
  t.diagnostic(`KS, 300 vs 300 rows, ${runs} runs: ${alarms} false alarms (${((alarms / runs) * 100).toFixed(1)}%), a 0.5σ shift found in ${found}`);
  assert.ok(alarms / runs <= 0.08, `false alarms ${alarms}`);
  assert.ok(found / runs >= 0.95, `found ${found}`);
});

test('the test is chosen by size and kind, as Evidently does, and the dataset drifts when half its features do', () => {
  const r = rng(3);
  const small = Array.from({ length: 500 }, r.normal);
  const big = Array.from({ length: 3000 }, r.normal);
  assert.equal(featureDrift('x', 'numeric', small, small)!.test, 'ks');
  assert.equal(featureDrift('x', 'numeric', big, big.map((v) => v + 1))!.test, 'wasserstein');
  assert.ok(wassersteinNormed(big, big.map((v) => v + 1)) > 0.9, 'a shift of one standard deviation is a normed distance of about 1');
  const regions = (n: number, p: number[]) => Array.from({ length: n }, () => { const u = r.u(); let acc = 0; for (let i = 0; i < p.length; i++) { acc += p[i]!; if (u < acc) return i; } return p.length - 1; });
  assert.equal(featureDrift('region', 'categorical', regions(500, [0.25, 0.25, 0.25, 0.25]), regions(500, [0.25, 0.25, 0.25, 0.25]))!.test, 'chi-square');
  const moved = featureDrift('region', 'categorical', regions(500, [0.25, 0.25, 0.25, 0.25]), regions(500, [0.55, 0.15, 0.15, 0.15]))!;
  assert.equal(moved.drifted, true);
  assert.equal(featureDrift('flag', 'numeric', regions(500, [0.5, 0.5]), regions(500, [0.5, 0.5]))!.test, 'z-test');
  assert.equal(featureDrift('region', 'categorical', regions(2000, [0.5, 0.5]), regions(2000, [0.5, 0.5]))!.test, 'jensen-shannon');
  assert.ok(jensenShannon([10, 0], [0, 10]) > 0.8);
  const d = datasetDrift([{ name: 'a', kind: 'numeric' }, { name: 'b', kind: 'numeric' }], { a: small, b: small }, { a: small.map((v) => v + 2), b: small });
  assert.deepEqual([d.drifted, d.share, d.driftedFeatures], [true, 0.5, ['a']]);
  const f = d.features[0]!;
  assert.deepEqual([f.referenceRows, f.currentRows, f.threshold], [500, 500, 0.05], 'each result says its sizes and threshold');
});

test('predictions per output: a score per row is numeric, 2 to 64 class scores are their argmax, NaN is missing, wider outputs are skipped', async () => {
  const { predictionsOf } = await import('./drift-monitor.js');
  const into: Parameters<typeof predictionsOf>[1] = {};
  predictionsOf({ p: { shape: [3, 1], data: [0.1, Number.NaN, 0.9] }, c: { shape: [2, 3], data: [0.1, 0.7, 0.2, 0.5, 0.2, 0.3] }, wide: { shape: [1, 65], data: new Array<number>(65).fill(0) } }, into);
  predictionsOf({ p: { shape: [1, 1], data: [0.4] } }, into);
  assert.deepEqual(into, { p: { kind: 'numeric', cells: [0.1, null, 0.9, 0.4] }, c: { kind: 'categorical', cells: [1, 0] } });
});

test('values the reference never had are drift: they are not pooled with its rare values', () => {
  // Reference: two common categories and ten seen once; the window: only values never seen.
  const refCats = ['a', 'b', ...Array.from({ length: 10 }, (_, i) => `rare${i}`)];
  const ref = [...Array(50).fill('a'), ...Array(50).fill('b'), ...refCats.slice(2)];
  const cur = Array.from({ length: 100 }, (_, i) => `new${i % 7}`);
  const d = featureDrift('x', 'categorical', ref, cur)!;
  assert.equal(d.test, 'chi-square');
  assert.ok(d.drifted && d.pValue! < 1e-6, `p ${d.pValue}`);
  // The same window of the reference's own values is no drift.
  assert.equal(featureDrift('x', 'categorical', ref, [...Array(46).fill('a'), ...Array(45).fill('b'), ...refCats.slice(2, 11)])!.drifted, false);
  // The rare bin alone, with no new values, still compares as before.
  assert.ok(chiSquare([50, 50, 1, 1], [50, 50, 1, 1]).p > 0.9);
});

test('a feature whose reference values rarely repeat cannot be compared as categories, and says why', () => {
  const r = rng(5);
  const continuous = Array.from({ length: 200 }, () => r.u().toFixed(6));
  assert.match(tooManyCategories(continuous)!, /too many distinct values to compare as categories \(200 in 200 reference rows, 100% of the rows/);
  assert.equal(tooManyCategories([...Array(60).fill('a'), ...Array(30).fill('b'), ...Array.from({ length: 10 }, (_, i) => `z${i}`)]), undefined, '10% rare: testable');
  assert.equal(tooManyCategories([null, null]), undefined);
  assert.match(tooManyCategories(['a', 'a', 'a'])!, /too few reference rows to compare as categories \(3 rows for 1 distinct value; each value needs about 5 rows/, 'one value seen three times: the reference is short, not the feature continuous');
});
