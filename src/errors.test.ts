import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ERRORS, fail, retryOf, retryOfCode } from './errors.js';

test('the registry decides retries: what a restart or another replica can fix is transient, what it cannot is terminal', () => {
  for (const code of ['ALOFT_ARTIFACT_CORRUPT', 'ALOFT_ARTIFACT_MISSING', 'ALOFT_MODEL_INVALID', 'ALOFT_INVALID_INPUT', 'ALOFT_REPLICA_FAILED', 'ALOFT_USAGE'] as const) {
    assert.equal(ERRORS[code].retry, 'terminal', code);
  }
  for (const code of ['ALOFT_NOT_READY', 'ALOFT_REPLICA_START', 'ALOFT_STORE'] as const) assert.equal(ERRORS[code].retry, 'transient', code);
  for (const code of ['ALOFT_RATE_LIMITED', 'ALOFT_TIMEOUT', 'ALOFT_OVERLOADED'] as const) assert.equal(ERRORS[code].retry, 'caller', code);
  assert.equal(retryOf(fail('ALOFT_ARTIFACT_CORRUPT', 'x')), 'terminal');
  assert.equal(retryOf(new Error('socket hang up')), 'transient', 'an error that is not Aloft\'s may pass');
  assert.equal(retryOfCode('ALOFT_MODEL_INVALID'), 'terminal');
  assert.equal(retryOfCode('SOMETHING_ELSE'), 'transient');
  assert.equal(retryOfCode(undefined), 'transient');
  assert.equal(retryOfCode('toString'), 'transient', 'only the registry\'s own codes');
});
