import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Role } from '../spec/types.js';
import { ROUTES } from '../api/routes.js';
import { authorize, classifyRequest, targetOf, type PolicyContext, type Target } from './policy.js';
import type { Principal } from './principal.js';
import { ACTIONS, can, rolesFor, type Action } from './roles.js';

const seg = (path: string) => path.split('/').slice(1);

describe('classifyRequest', () => {
  const cases: [string, string, Target][] = [
    ['GET', '/v2/health/live', { action: 'health' }],
    ['GET', '/v2/health/ready', { action: 'health' }],
    ['GET', '/v2/health/other', { action: 'read' }],
    ['GET', '/v2', { action: 'read' }],
    ['GET', '/v2/', { action: 'read' }],
    ['GET', '/v2/models', { action: 'read' }],
    ['GET', '/v2/models/', { action: 'read' }],
    ['GET', '/v2/models/stats', { action: 'read' }],
    ['POST', '/v2/repository/index', { action: 'read' }],
    ['POST', '/v2/repository/models/m/load', { action: 'admin.write', deployment: 'm' }],
    ['POST', '/v2/repository/models/m/unload', { action: 'admin.write', deployment: 'm' }],
    ['GET', '/v2/models/credit-risk', { action: 'model', deployment: 'credit-risk' }],
    ['GET', '/v2/models/credit-risk/ready', { action: 'model', deployment: 'credit-risk' }],
    ['GET', '/v2/models/credit-risk/versions/2', { action: 'model', deployment: 'credit-risk' }],
    ['GET', '/v2/models/credit-risk/versions/2/ready', { action: 'model', deployment: 'credit-risk' }],
    ['POST', '/v2/models/credit-risk/infer', { action: 'infer', deployment: 'credit-risk' }],
    ['POST', '/v2/models/credit-risk/versions/2/infer', { action: 'infer', deployment: 'credit-risk' }],
    ['GET', '/v2/models/credit-risk/infer', { action: 'infer', deployment: 'credit-risk' }],
    ['GET', '/v2/models/credit-risk/stats', { action: 'read', deployment: 'credit-risk' }],
    ['GET', '/v2/models/credit-risk/versions/2/stats', { action: 'read', deployment: 'credit-risk' }],
    ['GET', '/v2/models/credit-risk/a/b/c', { action: 'read', deployment: 'credit-risk' }],
    ['GET', '/metrics', { action: 'metrics' }],
    ['GET', '/api/v1/models', { action: 'admin.read' }],
    ['GET', '/api/v1/deployments', { action: 'admin.read' }],
    // Issue 17.3: admin routes that name a model or deployment carry it, so scopes apply.
    ['GET', '/api/v1/models/m', { action: 'admin.read', model: 'm' }],
    ['GET', '/api/v1/deployments/d', { action: 'admin.read', deployment: 'd' }],
    ['POST', '/api/v1/models/m/versions', { action: 'admin.write', model: 'm' }],
    ['PUT', '/api/v1/models/m/aliases/prod', { action: 'admin.write', model: 'm' }],
    ['DELETE', '/api/v1/models/m/aliases/prod', { action: 'admin.write', model: 'm' }],
    ['POST', '/api/v1/apply', { action: 'admin.write', whole: true }],
    ['GET', '/api/v1/keys', { action: 'admin.keys', whole: true }],
    ['POST', '/api/v1/keys', { action: 'admin.keys', whole: true }],
    ['DELETE', '/api/v1/keys/ci', { action: 'admin.keys', whole: true }],
    ['GET', '/api/v1/audit', { action: 'admin.audit' }],
    ['GET', '/api/v1/audit/verify', { action: 'admin.audit' }],
    ['GET', '/', { action: 'read' }],
    ['GET', '/nope', { action: 'read' }],
    ['GET', '/metrics/x', { action: 'read' }],
  ];
  for (const [method, path, want] of cases) {
    test(`${method} ${path} → ${want.action}${want.deployment ? ` (${want.deployment})` : ''}`, () => {
      assert.deepEqual(classifyRequest(method, seg(path)), want);
    });
  }
});

describe('roles', () => {
  // The grant table, spelled out: every role × every action.
  const TABLE: Record<Action, Role[]> = {
    health: ['viewer', 'predictor', 'operator', 'admin'],
    infer: ['predictor', 'operator', 'admin'],
    model: ['viewer', 'predictor', 'operator', 'admin'],
    read: ['viewer', 'predictor', 'operator', 'admin'],
    metrics: ['viewer', 'operator', 'admin'],
    'admin.read': ['viewer', 'operator', 'admin'],
    'admin.write': ['operator', 'admin'],
    'admin.keys': ['admin'],
    'admin.audit': ['admin'],
    feedback: ['predictor', 'operator', 'admin'],
    'admin.capture': ['admin'],
  };
  for (const action of ACTIONS) {
    for (const role of ['viewer', 'predictor', 'operator', 'admin'] as const) {
      const want = TABLE[action].includes(role);
      test(`${role} ${want ? 'may' : 'may not'} ${action}`, () => assert.equal(can(role, action), want));
    }
    test(`rolesFor(${action})`, () => assert.deepEqual(rolesFor(action), TABLE[action]));
  }
});

describe('authorize', () => {
  const ctx: PolicyContext = { isPublic: (d) => d === 'demo', modelOf: (d) => (d === 'credit-risk' ? 'risk-model' : undefined) };
  const p = (role: Role, scopes: string[] = ['*']): Principal => ({ kind: 'key', id: 'k', name: role, role, scopes });

  test('what acts on the whole system (the spec, model files, keys) needs credentials for every deployment', () => {
    const routes = ['admin.plan', 'admin.apply', 'admin.rollback', 'admin.gc', 'admin.keys.list', 'admin.keys.create', 'admin.keys.revoke'];
    for (const id of routes) {
      const route = ROUTES.find((r) => r.id === id)!;
      const target = targetOf(route, {});
      assert.equal(target.whole, true, id);
      const scoped = authorize(p('admin', ['house']), target, ctx);
      assert.equal(scoped.allow ? 200 : scoped.status, 403, `${id}: a key scoped to one deployment may not widen its reach`);
      assert.match(scoped.allow ? '' : scoped.message, /scoped to house, and this acts on the whole system .* needs credentials for every deployment \(scopes \*\)/);
      assert.equal(authorize(p('admin'), target, ctx).allow, true, `${id}: an admin for every deployment may`);
    }
    const operator = authorize(p('operator', ['other']), targetOf(ROUTES.find((r) => r.id === 'admin.apply')!, {}), ctx);
    assert.equal(operator.allow ? 200 : operator.status, 403, 'a scoped operator cannot apply a spec that changes other deployments');
    // Deployment-scoped writes stay open to a key scoped to that deployment.
    assert.equal(authorize(p('operator', ['house']), { action: 'admin.write', deployment: 'house' }, ctx).allow, true);
  });

  test('health is open to anyone', () => {
    assert.deepEqual(authorize(undefined, { action: 'health' }, ctx), { allow: true });
  });

  test('anonymous callers get 401 everywhere except public deployments (infer, metadata) and health', () => {
    for (const action of ACTIONS.filter((a) => a !== 'health')) {
      const d = authorize(undefined, { action, deployment: 'credit-risk' }, ctx);
      assert.equal(d.allow ? 200 : d.status, 401, action);
    }
    assert.equal(authorize(undefined, { action: 'infer', deployment: 'demo' }, ctx).allow, true);
    assert.equal(authorize(undefined, { action: 'model', deployment: 'demo' }, ctx).allow, true);
    const stats = authorize(undefined, { action: 'read', deployment: 'demo' }, ctx);
    assert.equal(stats.allow ? 200 : stats.status, 401, 'statistics of a public deployment still need a role');
  });

  test('a role without the action gets 403 naming the roles that may', () => {
    const d = authorize(p('viewer'), { action: 'infer', deployment: 'credit-risk' }, ctx);
    assert.deepEqual(d, { allow: false, status: 403, message: "the role 'viewer' may not run inference; that needs predictor, operator, admin" });
    const k = authorize(p('operator'), { action: 'admin.keys' }, ctx);
    assert.equal(k.allow ? 200 : k.status, 403);
  });

  test('scopes limit deployment actions by deployment or model name; ["*"] allows all, no scopes none (issue 17.5)', () => {
    assert.equal(authorize(p('predictor', []), { action: 'infer', deployment: 'credit-risk' }, ctx).allow, false, 'empty scopes allow nothing');
    assert.equal(authorize(p('predictor', ['credit-*']), { action: 'infer', deployment: 'credit-risk' }, ctx).allow, true);
    assert.equal(authorize(p('predictor', ['risk-model']), { action: 'infer', deployment: 'credit-risk' }, ctx).allow, true);
    const out = authorize(p('predictor', ['credit-*']), { action: 'infer', deployment: 'fraud' }, ctx);
    assert.deepEqual(out, { allow: false, status: 403, message: "deployment 'fraud' is outside the scopes of these credentials" });
    assert.equal(authorize(p('predictor'), { action: 'infer', deployment: 'fraud' }, ctx).allow, true);
    assert.equal(authorize(p('predictor', ['credit-*']), { action: 'read' }, ctx).allow, true, 'scopes do not limit server-wide reads');
    assert.equal(authorize(p('viewer', ['credit-*']), { action: 'read', deployment: 'fraud' }, ctx).allow, false, 'per-deployment stats are scoped');
  });

  test('a public deployment is open to every principal, whatever its scopes', () => {
    assert.equal(authorize(p('viewer', ['other']), { action: 'infer', deployment: 'demo' }, ctx).allow, true);
  });

  test('a principal without a role is treated as unauthenticated', () => {
    const d = authorize({ kind: 'anonymous', id: 'a', name: 'a', scopes: [] }, { action: 'read' }, ctx);
    assert.equal(d.allow ? 200 : d.status, 401);
  });
});
