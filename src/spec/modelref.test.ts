import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isAloftError } from '../errors.js';
import { MODEL_REF_PATTERN, checkModelRef, formatModelRef, parseModelRef } from './modelref.js';

test('model references parse to a name and a selector', () => {
  assert.deepEqual(parseModelRef('credit-risk'), { name: 'credit-risk', selector: { kind: 'latest' } });
  assert.deepEqual(parseModelRef('credit-risk@latest'), { name: 'credit-risk', selector: { kind: 'latest' } });
  assert.deepEqual(parseModelRef('credit-risk@3'), { name: 'credit-risk', selector: { kind: 'version', version: 3 } });
  assert.deepEqual(parseModelRef('credit-risk@production'), { name: 'credit-risk', selector: { kind: 'alias', alias: 'production' } });
  assert.deepEqual(parseModelRef('fraud.v2@canary-1'), { name: 'fraud.v2', selector: { kind: 'alias', alias: 'canary-1' } });
});

test('pinned means an explicit @ selector', () => {
  assert.equal((checkModelRef('m') as { pinned: boolean }).pinned, false);
  assert.equal((checkModelRef('m@latest') as { pinned: boolean }).pinned, true);
  assert.equal((checkModelRef('m@1') as { pinned: boolean }).pinned, true);
});

test('invalid references say why', () => {
  const cases: Array<[string, RegExp]> = [
    ['', /no model name/],
    ['@3', /no model name/],
    ['Credit', /model name 'Credit' is invalid/],
    ['m@', /nothing after '@'/],
    ['m@0', /versions are whole numbers starting at 1/],
    ['m@01', /versions are whole numbers starting at 1/],
    ['m@v3', /ambiguous/],
    ['m@Prod', /invalid alias 'Prod'/],
    ['m@a@b', /invalid alias/],
    ['m@prod-', /invalid alias/],
  ];
  for (const [text, re] of cases) {
    const r = checkModelRef(text);
    assert.equal(r.ok, false, text);
    if (!r.ok) assert.match(r.message, re, text);
  }
  assert.equal((checkModelRef('m@v3') as { hint?: string }).hint, 'write m@3 for version 3');
  assert.equal((checkModelRef('Credit') as { hint?: string }).hint, "try 'credit'");
  assert.throws(() => parseModelRef('m@0'), (e) => isAloftError(e) && e.code === 'ALOFT_MODEL_REF_INVALID');
});

test('the JSON Schema pattern agrees with the parser', () => {
  const re = new RegExp(MODEL_REF_PATTERN);
  for (const text of ['m', 'm@3', 'm@latest', 'm@prod', 'a.b_c-d@x.y', '', 'M', 'm@0', 'm@', 'm@Prod', 'm@a@b', '-m', 'm-']) {
    const ok = checkModelRef(text).ok;
    assert.equal(re.test(text), ok, text);
  }
});

test('format round-trips', () => {
  for (const text of ['m', 'm@3', 'm@production']) assert.equal(formatModelRef(parseModelRef(text)), text);
  assert.equal(formatModelRef(parseModelRef('m@latest')), 'm');
});
