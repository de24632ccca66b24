import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cost, priced } from './cost.js';

test('a figure with nothing priced reads unpriced, never 0.00; a partly priced one names what it leaves out', () => {
  assert.equal(priced(0, ['cpu', 'memory'], 'USD'), 'unpriced (cpu, memory)');
  assert.equal(priced(1.5, ['gpu'], 'USD'), '1.50 USD + unpriced gpu');
  assert.equal(priced(0, [], 'USD'), '0.00 USD', 'priced and free is zero');
});

test('--by and --since are checked before anything is sent, and the error names the flag', async () => {
  // The URL is never reached: a usage error comes first.
  await assert.rejects(cost({ url: 'http://127.0.0.1:9', by: 'nonsense' }), (e: Error & { code?: string }) => e.code === 'ALOFT_USAGE' && /^--by is deployment, version or label; got 'nonsense'$/.test(e.message));
  await assert.rejects(cost({ url: 'http://127.0.0.1:9', since: 'yesterday' }), (e: Error & { code?: string }) => e.code === 'ALOFT_USAGE' && /^--since takes a duration/.test(e.message));
});
