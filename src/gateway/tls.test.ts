import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isAloftError } from '../errors.js';
import { checkExposure, isLoopback } from './tls.js';

test('loopback addresses', () => {
  for (const h of ['127.0.0.1', '127.1.2.3', '::1', 'localhost']) assert.ok(isLoopback(h), h);
  for (const h of ['0.0.0.0', '::', '10.0.0.1', '192.168.1.2', 'example.com']) assert.ok(!isLoopback(h), h);
});

test('exposure rules: loopback with auth is fine; anything riskier needs --insecure and warns', () => {
  assert.deepEqual(checkExposure({ host: '127.0.0.1', tls: false, authEnabled: true, insecure: false }), []);
  assert.deepEqual(checkExposure({ host: '0.0.0.0', tls: true, authEnabled: true, insecure: false }), []);
  const refused = (c: Parameters<typeof checkExposure>[0], re: RegExp) =>
    assert.throws(() => checkExposure(c), (e: unknown) => isAloftError(e) && e.code === 'ALOFT_USAGE' && re.test(e.message) && /--insecure/.test(e.message));
  refused({ host: '0.0.0.0', tls: false, authEnabled: true, insecure: false }, /without TLS/);
  refused({ host: '127.0.0.1', tls: false, authEnabled: false, insecure: false }, /authentication is disabled/);
  const warnings = checkExposure({ host: '0.0.0.0', tls: false, authEnabled: false, insecure: true });
  assert.equal(warnings.length, 2);
  assert.ok(warnings.every((w) => w.startsWith('WARNING: ')));
});
