import assert from 'node:assert/strict';
import { test } from 'node:test';
import { priced } from './cost.js';

test('a figure with nothing priced reads unpriced, never 0.00; a partly priced one names what it leaves out', () => {
  assert.equal(priced(0, ['cpu', 'memory'], 'USD'), 'unpriced (cpu, memory)');
  assert.equal(priced(1.5, ['gpu'], 'USD'), '1.50 USD + unpriced gpu');
  assert.equal(priced(0, [], 'USD'), '0.00 USD', 'priced and free is zero');
});
