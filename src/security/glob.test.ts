import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ALL_SCOPES, inScope, isValidScope, matchesGlob } from './glob.js';

test('globs: * is any run, ? one character, everything else literal, whole name', () => {
  const cases: [string, string, boolean][] = [
    ['*', 'anything', true],
    ['*', '', true],
    ['credit-*', 'credit-risk', true],
    ['credit-*', 'credit-', true],
    ['credit-*', 'xcredit-risk', false],
    ['*-risk', 'credit-risk', true],
    ['*-risk', 'credit-risky', false],
    ['model-v?', 'model-v1', true],
    ['model-v?', 'model-v10', false],
    ['model-v?', 'model-v', false],
    ['a*b*c', 'aXXbYYc', true],
    ['a*b*c', 'aXXcYYb', false],
    ['credit.risk', 'creditXrisk', false],
    ['credit.risk', 'credit.risk', true],
    ['fraud', 'fraud', true],
    ['fraud', 'fraud-2', false],
    ['Fraud', 'fraud', false],
    ['**', 'x', true],
    ['*?', '', false],
  ];
  for (const [glob, name, want] of cases) assert.equal(matchesGlob(glob, name), want, `${glob} ~ ${name}`);
});

test('a pathological glob stays fast (no regex backtracking)', () => {
  const glob = `${'*a'.repeat(30)}*b`;
  assert.equal(matchesGlob(glob, 'a'.repeat(256)), false);
});

test('issue 17.5: scopes: ["*"] is every name, an empty list is none; any glob matching any given name passes', () => {
  assert.equal(inScope(ALL_SCOPES, 'x'), true);
  assert.equal(inScope([], 'x'), false, 'no scopes: no name');
  assert.equal(inScope([], 'x', 'y'), false);
  assert.equal(inScope(['credit-*'], 'credit-risk'), true);
  assert.equal(inScope(['credit-*'], 'fraud'), false);
  assert.equal(inScope(['credit-*', 'fraud'], 'fraud'), true);
  assert.equal(inScope(['risk-model'], 'credit-risk', 'risk-model'), true, 'the model name counts too');
  assert.equal(inScope(['risk-model'], 'credit-risk', undefined), false);
});

test('valid scopes are name-like with wildcards', () => {
  for (const ok of ['*', 'credit-*', 'model-v?', 'a.b_c-d']) assert.equal(isValidScope(ok), true, ok);
  for (const bad of ['', 'Credit', 'a/b', '../x', 'a b', 'x'.repeat(64), '[ab]']) assert.equal(isValidScope(bad), false, bad);
});
