import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ApplicantGenerator, encode, encodeBatch, FEATURE_COUNT, FEATURE_NAMES, generateApplicants, type LabeledApplicant,
} from './data.js';
import { Random } from './random.js';

const mean = (rows: LabeledApplicant[], f: (r: LabeledApplicant) => number): number =>
  rows.reduce((s, r) => s + f(r), 0) / rows.length;
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

test('Random is deterministic per seed and spreads small seeds apart', () => {
  const a = new Random(7);
  const b = new Random(7);
  const xs = Array.from({ length: 100 }, () => a.next());
  assert.deepEqual(Array.from({ length: 100 }, () => b.next()), xs);
  assert.ok(xs.every((x) => x >= 0 && x < 1));
  assert.notEqual(new Random(0).next(), new Random(1).next());
  const r = new Random(3);
  const normals = Array.from({ length: 20000 }, () => r.normal(10, 2));
  const m = normals.reduce((s, v) => s + v, 0) / normals.length;
  assert.ok(Math.abs(m - 10) < 0.1, `normal mean ${m}`);
  const picks = Array.from({ length: 10000 }, () => r.pick(['a', 'b'], [9, 1]));
  assert.ok(Math.abs(picks.filter((p) => p === 'a').length / 10000 - 0.9) < 0.02);
});

test('the generator is deterministic: same options, same rows; another seed, other rows', () => {
  const a = generateApplicants(200, { seed: 11, shift: 0.5 });
  assert.deepEqual(generateApplicants(200, { seed: 11, shift: 0.5 }), a);
  assert.notDeepEqual(generateApplicants(200, { seed: 12, shift: 0.5 }), a);
  // a streaming generator yields the same rows as the batch helper
  const g = new ApplicantGenerator({ seed: 11, shift: 0.5 });
  assert.deepEqual([...g.take(150), ...g.take(50)], a);
});

test('rows are plausible', () => {
  const rows = generateApplicants(5000, { seed: 1 });
  for (const r of rows) {
    assert.ok(r.age >= 21 && r.age <= 80);
    assert.ok(r.credit_score >= 300 && r.credit_score <= 850);
    assert.ok(r.income >= 12000 && r.loan_amount >= 1000);
    assert.ok(r.years_employed <= r.age - 18 && r.credit_history_years <= r.age - 18);
  }
  const rate = mean(rows, (r) => r.defaulted);
  assert.ok(rate > 0.12 && rate < 0.28, `default rate ${rate}`);
  const incomes = rows.map((r) => r.income);
  assert.ok(mean(rows, (r) => r.income) > median(incomes), 'income is right-skewed (log-normal)');
});

test('shift moves the population: lower incomes, higher DTI, more debt consolidation, more defaults', () => {
  const base = generateApplicants(5000, { seed: 5, shift: 0 });
  const drifted = generateApplicants(5000, { seed: 5, shift: 1 });
  assert.ok(median(drifted.map((r) => r.income)) < 0.9 * median(base.map((r) => r.income)));
  assert.ok(mean(drifted, (r) => r.debt_to_income) > mean(base, (r) => r.debt_to_income) + 0.05);
  assert.ok(mean(drifted, (r) => r.credit_score) < mean(base, (r) => r.credit_score) - 20);
  const dc = (rows: LabeledApplicant[]): number => mean(rows, (r) => (r.purpose === 'debt_consolidation' ? 1 : 0));
  assert.ok(dc(drifted) > dc(base) + 0.08, `debt consolidation ${dc(base)} → ${dc(drifted)}`);
  assert.ok(mean(drifted, (r) => r.defaulted) > mean(base, (r) => r.defaulted) + 0.1);
});

test('concept drift changes outcomes, not inputs', () => {
  const base = generateApplicants(5000, { seed: 5 });
  const drifted = generateApplicants(5000, { seed: 5, concept: 1 });
  const strip = (rows: LabeledApplicant[]): unknown[] => rows.map(({ defaulted: _d, ...a }) => a);
  assert.deepEqual(strip(drifted), strip(base));
  assert.ok(mean(drifted, (r) => r.defaulted) > mean(base, (r) => r.defaulted) + 0.04);
});

test('encode: numeric raw values then one-hot columns, in FEATURE_NAMES order', () => {
  assert.equal(FEATURE_COUNT, 22);
  assert.equal(FEATURE_NAMES.length, FEATURE_COUNT);
  const rows = generateApplicants(4, { seed: 2 });
  const r = rows[0]!;
  const v = encode(r);
  assert.equal(v.length, FEATURE_COUNT);
  const at = (name: string): number => v[FEATURE_NAMES.indexOf(name)]!;
  assert.equal(at('age'), r.age);
  assert.equal(at('income'), r.income);
  assert.equal(at('debt_to_income'), Math.fround(r.debt_to_income));
  assert.equal(at(`home_ownership=${r.home_ownership}`), 1);
  assert.equal(at(`purpose=${r.purpose}`), 1);
  assert.equal(at(`employment_type=${r.employment_type}`), 1);
  assert.equal([...v.subarray(10)].reduce((s, x) => s + x, 0), 3, 'exactly one hot per category');
  const batch = encodeBatch(rows);
  assert.equal(batch.length, 4 * FEATURE_COUNT);
  assert.deepEqual(batch.subarray(2 * FEATURE_COUNT, 3 * FEATURE_COUNT), encode(rows[2]!));
});
