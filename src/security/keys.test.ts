import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import { DUMMY_HASH, generateKey, hashSecret, looksLikeKey, parseExpiry, parseToken, secretMatches } from './keys.js';

describe('API key tokens', () => {
  test('format: aloft_<12 hex>_<43 base64url>, 256-bit secret, unique', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const k = generateKey();
      assert.match(k.token, /^aloft_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/);
      assert.equal(k.token, `aloft_${k.id}_${k.secret}`);
      assert.equal(Buffer.from(k.secret, 'base64url').length, 32);
      assert.ok(!seen.has(k.token));
      seen.add(k.token);
    }
  });

  test('parseToken splits id and secret, also when the secret contains "_"', () => {
    const secret = `${'_'.repeat(10)}${'A'.repeat(33)}`;
    assert.deepEqual(parseToken(`aloft_0123456789ab_${secret}`), { id: '0123456789ab', secret });
    for (const bad of ['', 'aloft_', 'aloft_0123456789ab_short', `aloft_0123456789AB_${'a'.repeat(43)}`, `aloft_0123456789ab_${'a'.repeat(44)}`,
      `aloft_0123456789a_${'a'.repeat(43)}`, `Aloft_0123456789ab_${'a'.repeat(43)}`, `aloft_0123456789ab_${'a'.repeat(42)}=`, `aloft_0123456789ab_${'a'.repeat(42)} `]) {
      assert.equal(parseToken(bad), undefined, bad);
    }
    assert.equal(looksLikeKey('aloft_x'), true);
    assert.equal(looksLikeKey('eyJhbGciOi'), false);
  });

  test('only sha256(secret) is stored, as hex; comparison works on digests', () => {
    const k = generateKey();
    const hash = hashSecret(k.secret);
    assert.equal(hash, createHash('sha256').update(k.secret).digest('hex'));
    assert.match(hash, /^[0-9a-f]{64}$/);
    assert.ok(!hash.includes(k.secret));
    assert.equal(secretMatches(k.secret, hash), true);
    assert.equal(secretMatches(`${k.secret.slice(0, -1)}x`, hash), false);
    assert.equal(secretMatches(k.secret, DUMMY_HASH), false);
    assert.equal(secretMatches(k.secret, 'abcd'), false, 'a damaged stored hash never matches');
  });
});

describe('parseExpiry', () => {
  test('days, weeks and the spec durations', () => {
    const H = 3_600_000;
    assert.equal(parseExpiry('30d'), 30 * 24 * H);
    assert.equal(parseExpiry('2w'), 14 * 24 * H);
    assert.equal(parseExpiry('1d12h'), 36 * H);
    assert.equal(parseExpiry('12h'), 12 * H);
    assert.equal(parseExpiry('90m'), 1.5 * H);
    assert.equal(parseExpiry('1.5d'), 36 * H);
    for (const bad of ['', '0', '0d', '30', 'd', '30days', '-1d', '1y', ' 30d']) assert.equal(parseExpiry(bad), undefined, bad);
  });
});
