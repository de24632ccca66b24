import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWTPayload } from 'jose';
import { ManualClock } from '../clock.js';
import { isAloftError } from '../errors.js';
import type { JwtSpec } from '../spec/types.js';
import { Authenticator } from './authenticator.js';
import { authorize } from './policy.js';
import { JwtVerifier, type JwtResult } from './jwt.js';

const ISSUER = 'https://login.example.test/';
const AUDIENCE = 'aloft';

describe('JWT bearer tokens', () => {
  let dir: string;
  let jwks: string;
  let privateKey: CryptoKey;
  let otherKey: CryptoKey;
  const clock = new ManualClock(0, Date.UTC(2026, 0, 1));
  const nowSec = () => Math.floor(clock.date().getTime() / 1000);
  const spec = (extra: Partial<JwtSpec> = {}): JwtSpec => ({ issuer: ISSUER, audience: AUDIENCE, jwks, roleClaim: 'role', scopeClaim: 'aloft_scope', clockTolerance: 30_000, ...extra });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'aloft-jwt-'));
    const pair = await generateKeyPair('ES256', { extractable: true });
    privateKey = pair.privateKey;
    otherKey = (await generateKeyPair('ES256')).privateKey;
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
    jwks = join(dir, 'jwks.json');
    await writeFile(jwks, JSON.stringify({ keys: [jwk] }));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  async function sign(claims: JWTPayload, opts: { iss?: string; aud?: string; exp?: number | null; key?: CryptoKey; sub?: string | null } = {}): Promise<string> {
    let jwt = new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: 'k1' }).setIssuedAt(nowSec()).setIssuer(opts.iss ?? ISSUER).setAudience(opts.aud ?? AUDIENCE);
    if (opts.sub !== null) jwt = jwt.setSubject(opts.sub ?? 'alice@example.test');
    if (opts.exp !== null) jwt = jwt.setExpirationTime(opts.exp ?? nowSec() + 3600);
    return jwt.sign(opts.key ?? privateKey);
  }

  async function verify(token: string, extra: Partial<JwtSpec> = {}): Promise<JwtResult> {
    const v = new JwtVerifier(spec(extra), { clock });
    await v.load();
    return v.verify(token);
  }

  const rejected = (r: JwtResult) => ('reason' in r ? r.reason : undefined);

  test('a valid token gives a jwt principal named after its subject, with role and scopes', async () => {
    const r = await verify(await sign({ role: 'predictor', aloft_scope: ['credit-*', 'fraud'] }));
    assert.deepEqual(r, { principal: { kind: 'jwt', id: 'alice@example.test', name: 'alice@example.test', role: 'predictor', scopes: ['credit-*', 'fraud'] } });
  });

  test('scopes may be a space-separated string, and are all deployments when absent', async () => {
    const a = await verify(await sign({ role: 'viewer', aloft_scope: 'credit-* fraud' }));
    assert.deepEqual('principal' in a && a.principal.scopes, ['credit-*', 'fraud']);
    const b = await verify(await sign({ role: 'viewer' }));
    assert.deepEqual('principal' in b && b.principal.scopes, ['*']);
    const c = await verify(await sign({ role: 'viewer', aloft_scope: 42 }));
    assert.match(rejected(c) ?? '', /scope/);
  });

  test('issue 17.5: an empty scope claim ("", [], [""], whitespace) grants no deployment; only an absent one grants all', async () => {
    for (const claim of ['', [], [''], '   ', ['  ', '']]) {
      const r = await verify(await sign({ role: 'predictor', aloft_scope: claim }));
      assert.ok('principal' in r, `the token itself is valid (${JSON.stringify(claim)})`);
      assert.deepEqual(r.principal.scopes, [], JSON.stringify(claim));
      const decision = authorize(r.principal, { action: 'infer', deployment: 'credit-risk' }, { isPublic: () => false, modelOf: () => 'credit-risk' });
      assert.equal(decision.allow, false, `no deployment for ${JSON.stringify(claim)}`);
    }
  });

  test('wrong issuer, wrong audience, expired, foreign signature and missing claims are rejected', async () => {
    assert.match(rejected(await verify(await sign({ role: 'admin' }, { iss: 'https://evil.test/' }))) ?? '', /ERR_JWT_CLAIM_VALIDATION_FAILED/);
    assert.match(rejected(await verify(await sign({ role: 'admin' }, { aud: 'other' }))) ?? '', /ERR_JWT_CLAIM_VALIDATION_FAILED/);
    assert.match(rejected(await verify(await sign({ role: 'admin' }, { exp: nowSec() - 60 }))) ?? '', /ERR_JWT_EXPIRED/);
    assert.match(rejected(await verify(await sign({ role: 'admin' }, { key: otherKey }))) ?? '', /ERR_JWS_SIGNATURE_VERIFICATION_FAILED/);
    assert.ok(rejected(await verify(await sign({ role: 'admin' }, { exp: null }))), 'a token without exp is refused');
    assert.ok(rejected(await verify(await sign({ role: 'admin' }, { sub: null }))), 'a token without sub is refused');
    assert.ok(rejected(await verify('not.a.jwt')));
  });

  test('what the caller is told names the token\'s fault, never the server\'s keys or expected values', async () => {
    const told = async (token: string, extra: Partial<JwtSpec> = {}) => { const r = await verify(token, extra); return 'tell' in r ? r.tell : undefined; };
    assert.equal(await told(await sign({ role: 'admin' }, { exp: nowSec() - 60 })), 'the token has expired (exp); get a new one from your identity provider');
    assert.match(await told(await sign({ role: 'admin' }, { aud: 'other' })) ?? '', /^the token's "aud" claim is not accepted/);
    assert.match(await told(await sign({ role: 'admin' }, { iss: 'https://evil.test/' })) ?? '', /^the token's "iss" claim is not accepted/);
    assert.equal(await told(await sign({ role: 'admin' }, { key: otherKey })), "the token's signature does not verify with the keys this server trusts");
    assert.equal(await told('not.a.jwt'), 'the token is not a well-formed JWT (header.payload.signature)');
    assert.equal(await told(await sign({ role: 'root' })), 'the token\'s "role" claim names no role this server grants');
    for (const t of [await told(await sign({ role: 'admin' }, { aud: 'other' })), await told(await sign({ role: 'admin' }, { iss: 'https://evil.test/' }))]) {
      assert.ok(!t!.includes(AUDIENCE) && !t!.includes(ISSUER), `the expected values stay unsaid: ${t}`);
    }
  });

  test('expiry honours the clock tolerance', async () => {
    const token = await sign({ role: 'admin' }, { exp: nowSec() - 10 });
    assert.ok('principal' in (await verify(token)), '10 s late is within the default 30 s tolerance');
    assert.ok('reason' in (await verify(token, { clockTolerance: 5000 })));
  });

  test('a token without a valid role is rejected', async () => {
    assert.equal(rejected(await verify(await sign({}))), 'jwt has no valid role');
    assert.equal(rejected(await verify(await sign({ role: 'root' }))), 'jwt has no valid role');
  });

  test('roles map identity-provider groups; the most privileged mapped value wins; unmapped values count for nothing', async () => {
    const roles = { 'ml-admins': 'admin', 'data-scientists': 'predictor', constructor: 'viewer' } as const;
    const a = await verify(await sign({ groups: ['staff', 'data-scientists'] }), { roleClaim: 'groups', roles });
    assert.equal('principal' in a && a.principal.role, 'predictor');
    const b = await verify(await sign({ groups: ['data-scientists', 'ml-admins'] }), { roleClaim: 'groups', roles });
    assert.equal('principal' in b && b.principal.role, 'admin');
    const c = await verify(await sign({ groups: ['admin'] }), { roleClaim: 'groups', roles: { 'ml-admins': 'admin' } });
    assert.equal(rejected(c), 'jwt has no valid role', 'with a map, raw role names are not accepted');
    const d = await verify(await sign({ groups: ['toString'] }), { roleClaim: 'groups', roles: { 'ml-admins': 'admin' } });
    assert.equal(rejected(d), 'jwt has no valid role', 'prototype keys are not roles');
  });

  test('a dotted role claim walks nested objects (Keycloak realm_access.roles)', async () => {
    const r = await verify(await sign({ realm_access: { roles: ['operator'] } }), { roleClaim: 'realm_access.roles' });
    assert.equal('principal' in r && r.principal.role, 'operator');
  });

  test('a missing or broken JWKS file is a clear configuration error', async () => {
    await assert.rejects(new JwtVerifier(spec({ jwks: join(dir, 'nope.json') })).load(), (e) => isAloftError(e) && e.code === 'ALOFT_AUTH_CONFIG' && /ENOENT/.test(e.message));
    const broken = join(dir, 'broken.json');
    await writeFile(broken, '{"nokeys": 1}');
    await assert.rejects(new JwtVerifier(spec({ jwks: broken })).load(), (e) => isAloftError(e) && e.code === 'ALOFT_AUTH_CONFIG');
  });

  test('the authenticator sends aloft_ tokens to the key path and others to JWT; reload re-reads the JWKS file', async () => {
    const file = join(dir, 'rotating.json');
    await writeFile(file, JSON.stringify({ keys: [] }));
    const auth = new Authenticator({ keys: { listActive: async () => [] }, jwt: spec({ jwks: file }), clock });
    await auth.load();
    const token = await sign({ role: 'viewer' });
    assert.equal((await auth.identify(`Bearer ${token}`)).kind, 'rejected', 'unknown kid before rotation');
    await writeFile(file, await readFile(jwks, 'utf8'));
    await auth.reload();
    assert.equal((await auth.authenticate(`Bearer ${token}`))?.name, 'alice@example.test');
    assert.deepEqual(await auth.identify(`Bearer aloft_${token.slice(0, 20)}`), { kind: 'rejected', reason: 'malformed key' });
  });
});
