import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isAloftError } from '../errors.js';
import { assertAliasName, assertModelName } from './ref.js';

// Reference syntax is tested in spec/modelref.test.ts; these are the registry's own checks.

test('model names follow the spec rule (DNS-label-like, lowercase) with a fix hint', () => {
  assertModelName('credit-risk');
  assertModelName('resnet50.v2');
  assert.throws(() => assertModelName('ResNet 50'), (e: unknown) => isAloftError(e) && e.code === 'ALOFT_MODEL_REF_INVALID' && /try 'resnet-50'/.test(e.message));
  assert.throws(() => assertModelName(''), /invalid model name/);
  assert.throws(() => assertModelName('a'.repeat(64)), /1–63/);
});

test('alias names exclude latest and numbers', () => {
  assert.throws(() => assertAliasName('latest'), /reserved/);
  assert.throws(() => assertAliasName('12'), /cannot be a number/);
  assert.throws(() => assertAliasName('a'.repeat(64)), /at most 63/);
  assert.throws(() => assertAliasName('Prod'), /lowercase/);
  assertAliasName('a'.repeat(63));
  assertAliasName('production');
});
