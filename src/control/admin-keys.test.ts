import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { ManualClock } from '../clock.js';
import { createGateway } from '../gateway/server.js';
import { Authenticator } from '../security/authenticator.js';
import type { Store } from '../store/db.js';
import { KeyRepository } from '../store/keys.js';
import { testDialects, type TestDatabase } from '../store/testing/databases.js';
import { registerKeyRoutes, type KeyAuditEntry } from './admin-keys.js';

const [sqlite] = await testDialects();

describe('admin API: keys', () => {
  let database: TestDatabase;
  let store: Store;
  let clock: ManualClock;
  let auth: Authenticator;
  let audit: KeyAuditEntry[];
  let app: ReturnType<typeof createGateway>['app'];

  beforeEach(async () => {
    clock = new ManualClock(0, Date.UTC(2026, 0, 1));
    database = await sqlite!.create();
    store = await database.open();
    const keys = new KeyRepository(store, { now: () => clock.date() });
    auth = new Authenticator({ keys, clock });
    await auth.load();
    audit = [];
    app = createGateway({ connect: () => { throw new Error('no replicas in this test'); }, bodyLimit: 65536, info: { name: 'aloft', version: 'test', extensions: [] }, auth: { authenticator: auth, policy: { enabled: false, isPublic: () => false } } }).app;
    registerKeyRoutes(app, { keys, authenticator: auth, clock, audit: { append: async (e) => { audit.push(e); } } });
  });
  afterEach(async () => {
    await app?.close();
    await store?.close();
    await database?.cleanup();
  });

  const post = (body: unknown) => app.inject({ method: 'POST', url: '/api/v1/keys', headers: { 'content-type': 'application/json' }, payload: typeof body === 'string' ? body : JSON.stringify(body) });

  test('create returns the key once; it works at once; list never shows secrets', async () => {
    const r = await post({ name: 'ci', role: 'predictor', scopes: ['credit-*'], expires: '30d' });
    assert.equal(r.statusCode, 201);
    const body = r.json<{ id: string; key: string; name: string; role: string; scopes: string[]; expiresAt: string; createdAt: string }>();
    assert.match(body.key, /^aloft_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/);
    assert.equal(body.key.slice(6, 18), body.id);
    assert.deepEqual({ ...body, key: undefined, id: undefined }, {
      key: undefined, id: undefined, name: 'ci', role: 'predictor', scopes: ['credit-*'], expiresAt: '2026-01-31T00:00:00.000Z', createdAt: '2026-01-01T00:00:00.000Z', limits: null, priority: 'normal',
    });
    assert.equal((await auth.authenticate(`Bearer ${body.key}`))?.name, 'ci', 'the authenticator reloaded');

    const list = await app.inject({ url: '/api/v1/keys' });
    assert.equal(list.statusCode, 200);
    assert.ok(!list.body.includes(body.key.slice(19)) && !/hash/i.test(list.body));
    assert.deepEqual(list.json(), { keys: [{ id: body.id, name: 'ci', role: 'predictor', scopes: ['credit-*'], createdAt: '2026-01-01T00:00:00.000Z', createdBy: 'insecure', expiresAt: '2026-01-31T00:00:00.000Z', revokedAt: null, limits: null, priority: 'normal', status: 'active' }] });
    clock.advance(31 * 86_400_000);
    assert.equal((await app.inject({ url: '/api/v1/keys' })).json<{ keys: { status: string }[] }>().keys[0]?.status, 'expired');

    assert.deepEqual(audit, [{ actor: { kind: 'anonymous', id: 'insecure', name: 'insecure' }, action: 'key.created', target: 'ci', source: '127.0.0.1', after: { name: 'ci', role: 'predictor', scopes: ['credit-*'], expiresAt: '2026-01-31T00:00:00.000Z' } }]);
    assert.ok(!JSON.stringify(audit).includes(body.key.slice(19)));
  });

  test('every validation problem is reported at once with a 400', async () => {
    const r = await post({ name: 'Bad Name', role: 'root', scopes: ['ok-*', 'a/b'], expires: 'forever', extra: 1 });
    assert.equal(r.statusCode, 400);
    const { error } = r.json<{ error: string }>();
    for (const part of ["unknown field 'extra'", "name 'Bad Name' is invalid", 'role must be one of admin, operator, predictor, viewer, got "root"', "scope 'a/b' is invalid", 'expires "forever" is invalid']) {
      assert.ok(error.includes(part), `${error} should mention ${part}`);
    }
    const zero = await post({ name: 'ci', role: 'viewer', expires: '0s' });
    assert.equal(zero.statusCode, 400);
    assert.match(zero.json<{ error: string }>().error, /expires "0s" would make a key that has already expired; give a duration above 0/);
    assert.equal((await post('not json')).statusCode, 400);
    assert.equal((await post('[1]')).statusCode, 400);
    assert.equal((await post({ role: 'viewer' })).json<{ error: string }>().error, 'invalid key request: name is required: a string');
    assert.equal((await app.inject({ method: 'POST', url: '/api/v1/keys' })).statusCode, 400);
    assert.deepEqual(audit, []);
  });

  test('a duplicate active name is 409; revoke frees it; revoking an unknown name is 404', async () => {
    const first = (await post({ name: 'ci', role: 'viewer' })).json<{ key: string }>();
    const dup = await post({ name: 'ci', role: 'viewer' });
    assert.equal(dup.statusCode, 409);
    assert.match(dup.json<{ error: string }>().error, /already exists; revoke it first/);

    const del = await app.inject({ method: 'DELETE', url: '/api/v1/keys/ci' });
    assert.equal(del.statusCode, 200);
    assert.deepEqual({ ...del.json<object>(), id: undefined }, { id: undefined, name: 'ci', revoked: true, revokedAt: '2026-01-01T00:00:00.000Z' });
    assert.equal(await auth.authenticate(`Bearer ${first.key}`), undefined, 'revoked keys stop working at once');
    assert.equal((await app.inject({ method: 'DELETE', url: '/api/v1/keys/ci' })).statusCode, 404);
    assert.equal((await post({ name: 'ci', role: 'viewer' })).statusCode, 201);

    const all = (await app.inject({ url: '/api/v1/keys?all=true' })).json<{ keys: { status: string }[] }>();
    assert.deepEqual(all.keys.map((k) => k.status).sort(), ['active', 'revoked']);
    assert.deepEqual(audit.map((e) => [e.action, e.target, e.before?.revokedAt, e.after?.revokedAt]), [
      ['key.created', 'ci', undefined, undefined],
      ['key.revoked', 'ci', undefined, '2026-01-01T00:00:00.000Z'],
      ['key.created', 'ci', undefined, undefined],
    ]);
  });
});
