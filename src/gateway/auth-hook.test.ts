import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { NOT_BEARER, type AuthResult } from '../security/authenticator.js';
import type { Principal } from '../security/principal.js';
import type { AuthFailure } from './auth-hook.js';
import { createGateway } from './server.js';

const VIEWER: Principal = { kind: 'key', id: 'v', name: 'viewer-key', role: 'viewer', scopes: ['*'] };
const PREDICTOR: Principal = { kind: 'key', id: 'p', name: 'ci', role: 'predictor', scopes: ['credit-*'] };

/** A stub authenticator: 'Bearer viewer' and 'Bearer predictor' are valid, anything else is rejected. */
const authenticator = {
  identify: async (h: string | string[] | undefined): Promise<AuthResult> => {
    if (h === undefined) return { kind: 'none' };
    if (h === 'Bearer viewer') return { kind: 'ok', principal: VIEWER };
    if (h === 'Bearer predictor') return { kind: 'ok', principal: PREDICTOR };
    if (h === 'Bearer expired.jwt.token') return { kind: 'rejected', reason: 'jwt rejected (ERR_JWT_EXPIRED: "exp" claim timestamp check failed)', tell: 'the token has expired (exp); get a new one from your identity provider' };
    return { kind: 'rejected', reason: /^Bearer /.test(String(h)) ? 'invalid key' : NOT_BEARER };
  },
};

function app(opts: { enabled?: boolean } = {}) {
  const failures: AuthFailure[] = [];
  const gw = createGateway({
    connect: () => { throw new Error('no replicas in this test'); }, bodyLimit: 1024, info: { name: 'aloft', version: 'test', extensions: [] },
    auth: {
      authenticator,
      policy: { enabled: opts.enabled ?? true, isPublic: (d) => d === 'demo' },
      onFailure: (f) => failures.push(f),
    },
  });
  gw.app.get('/api/v1/whoami', (req) => ({ principal: req.principal ?? null }));
  return { app: gw.app, failures };
}

describe('registerAuth', () => {
  test('health endpoints are open; everything else needs credentials (401 with WWW-Authenticate)', async () => {
    const { app: a, failures } = app();
    assert.equal((await a.inject({ url: '/v2/health/live' })).statusCode, 200);
    for (const url of ['/v2', '/v2/models', '/v2/models/credit-risk', '/metrics', '/api/v1/models']) {
      const r = await a.inject({ url });
      assert.equal(r.statusCode, 401, url);
      assert.equal(r.headers['www-authenticate'], 'Bearer realm="aloft"');
      assert.match(r.json<{ error: string }>().error, /^authentication required/);
    }
    assert.deepEqual(failures, [], 'callers without credentials are not reported as failures');
  });

  test('401 comes before 404: unknown paths and models reveal nothing without credentials', async () => {
    const { app: a } = app();
    assert.equal((await a.inject({ url: '/no/such/path' })).statusCode, 401);
    assert.equal((await a.inject({ method: 'POST', url: '/v2/models/secret-model/infer', payload: '{}' })).statusCode, 401);
    assert.equal((await a.inject({ url: '/no/such/path', headers: { authorization: 'Bearer viewer' } })).statusCode, 404);
    assert.equal((await a.inject({ url: '/v2/models/secret-model', headers: { authorization: 'Bearer viewer' } })).statusCode, 404);
  });

  test('public deployments answer anonymous callers as usual (here: 404, nothing is served)', async () => {
    const { app: a } = app();
    const r = await a.inject({ url: '/v2/models/demo' });
    assert.equal(r.statusCode, 404);
    assert.equal((await a.inject({ url: '/v2/models/demo/stats' })).statusCode, 401, 'statistics are not public');
  });

  test('bad credentials: one 401 body whatever the reason, reported to onFailure without the header', async () => {
    const { app: a, failures } = app();
    const r1 = await a.inject({ url: '/v2/models/demo', headers: { authorization: 'Bearer aloft_000000000000_x' } });
    const r2 = await a.inject({ url: '/v2', headers: { authorization: 'Basic Zm9vOmJhcg==' } });
    const r3 = await a.inject({ url: '/v2', headers: { authorization: 'Bearer aloft_111111111111_y' } });
    assert.equal(r1.statusCode, 401, 'bad credentials are refused even on a public deployment');
    assert.equal(r1.body, r3.body, 'a wrong key answers the same whichever it is');
    // Another scheme than Bearer says which one is taken (nothing about any key).
    assert.equal(r2.statusCode, 401);
    assert.match((JSON.parse(r2.body) as { error: string }).error, /^invalid credentials: .*: the Authorization header must be 'Bearer <API key or token>'$/);
    assert.equal(r1.headers['www-authenticate'], 'Bearer realm="aloft"');
    assert.deepEqual(JSON.parse(r1.body), { error: 'invalid credentials: the key or token is not valid (unknown, wrong, revoked or expired)', code: 'ALOFT_UNAUTHENTICATED' });
    assert.deepEqual(failures.map((f) => [f.status, f.reason, f.method, f.path, f.ip]), [
      [401, 'invalid key', 'GET', '/v2/models/demo', '127.0.0.1'],
      [401, 'not a Bearer authorization header', 'GET', '/v2', '127.0.0.1'],
      [401, 'invalid key', 'GET', '/v2', '127.0.0.1'],
    ]);
    assert.ok(!JSON.stringify(failures).includes('aloft_000000000000_x'));
    // A token's own fault (a JWT that expired) is said; the audit keeps the detailed reason.
    const r4 = await a.inject({ url: '/v2', headers: { authorization: 'Bearer expired.jwt.token' } });
    assert.equal(r4.statusCode, 401);
    assert.equal(r4.json<{ error: string }>().error, 'invalid credentials: the token has expired (exp); get a new one from your identity provider');
    assert.match(failures.at(-1)!.reason, /ERR_JWT_EXPIRED/);
  });

  test('403 for a role or scope that does not fit, reported with the principal', async () => {
    const { app: a, failures } = app();
    const r = await a.inject({ method: 'POST', url: '/v2/models/credit-risk/infer', headers: { authorization: 'Bearer viewer' }, payload: '{}' });
    assert.equal(r.statusCode, 403);
    assert.equal(r.headers['www-authenticate'], undefined);
    assert.match(r.json<{ error: string }>().error, /role 'viewer' may not run inference/);
    const s = await a.inject({ method: 'POST', url: '/v2/models/fraud/infer', headers: { authorization: 'Bearer predictor' }, payload: '{}' });
    assert.equal(s.statusCode, 403);
    assert.deepEqual(failures.map((f) => [f.status, f.principal?.name]), [[403, 'viewer-key'], [403, 'ci']]);
  });

  test('matched routes are classified by their decoded params, exactly what the handler uses', async () => {
    const { app: a } = app();
    const r = await a.inject({ method: 'POST', url: '/v2/models/cred%69t-risk/infer', headers: { authorization: 'Bearer predictor' }, payload: '{}' });
    assert.equal(r.statusCode, 404, 'in scope as credit-risk; then the route says it is not served');
    const head = await a.inject({ method: 'HEAD', url: '/v2/models', headers: { authorization: 'Bearer predictor' } });
    assert.equal(head.statusCode, 200);
  });

  test('the body of a refused request is never read or inflated', async () => {
    const { app: a } = app();
    const r = await a.inject({ method: 'POST', url: '/v2/models/x/infer', headers: { 'content-encoding': 'gzip' }, payload: Buffer.from('not gzip at all') });
    assert.equal(r.statusCode, 401);
  });

  test('the principal is on the request for handlers', async () => {
    const { app: a } = app();
    const r = await a.inject({ url: '/api/v1/whoami', headers: { authorization: 'Bearer viewer' } });
    assert.deepEqual(r.json(), { principal: VIEWER });
  });

  test('auth disabled: everyone is the insecure admin', async () => {
    const { app: a } = app({ enabled: false });
    const r = await a.inject({ url: '/api/v1/whoami' });
    assert.deepEqual(r.json(), { principal: { kind: 'anonymous', id: 'insecure', name: 'insecure', role: 'admin', scopes: ['*'] } });
    assert.equal((await a.inject({ url: '/v2/models' })).statusCode, 200);
  });
});
