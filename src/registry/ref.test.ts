import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isAloftError } from '../errors.js';
import { assertAliasName, formatModelRef, parseModelRef } from './ref.js';

test('parses the four reference forms', () => {
  assert.deepEqual(parseModelRef('credit-risk'), { name: 'credit-risk', selector: { kind: 'latest' } });
  assert.deepEqual(parseModelRef('credit-risk@latest'), { name: 'credit-risk', selector: { kind: 'latest' } });
  assert.deepEqual(parseModelRef('credit-risk@3'), { name: 'credit-risk', selector: { kind: 'version', version: 3 } });
  assert.deepEqual(parseModelRef('credit-risk@production'), { name: 'credit-risk', selector: { kind: 'alias', alias: 'production' } });
  assert.deepEqual(parseModelRef('ResNet_50.v2@blue-green_1'), { name: 'ResNet_50.v2', selector: { kind: 'alias', alias: 'blue-green_1' } });
});

test('formats references canonically', () => {
  for (const s of ['m', 'm@3', 'm@prod']) assert.equal(formatModelRef(parseModelRef(s)), s);
  assert.equal(formatModelRef(parseModelRef('m@latest')), 'm');
});

test('rejects malformed references with the accepted forms', () => {
  for (const [bad, reason] of [
    ['', /empty/],
    ['@3', /empty/],
    ['m@', /alias is empty/],
    ['m@0', /from 1/],
    ['m@007', /leading zeros/],
    ['m@99999999999999999999', /whole numbers/],
    ['m@Prod', /lowercase/],
    ['m@a@b', /lowercase/],
    ['-m', /starting with a letter or digit/],
    ['m/x', /letters, digits/],
    [' m', /letters, digits/],
  ] as const) {
    assert.throws(
      () => parseModelRef(bad),
      (e: unknown) =>
        isAloftError(e) && e.code === 'ALOFT_MODEL_REF_INVALID' && reason.test(e.message) && e.message.includes('name@<version>'),
      bad,
    );
  }
});

test('alias names exclude latest and numbers', () => {
  assert.throws(() => assertAliasName('latest'), /reserved/);
  assert.throws(() => assertAliasName('12'), /cannot be a number/);
  assert.throws(() => assertAliasName('a'.repeat(64)), /1-63/);
  assertAliasName('a'.repeat(63));
  assertAliasName('production');
});
