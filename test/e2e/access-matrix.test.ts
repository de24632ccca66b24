/**
 * The access matrix (issue 3): every kind of caller × every endpoint group against the
 * expected status. The app is assembled here as the embedded system assembles it — the
 * real gateway (createGateway), the real auth hook, real keys in a SQLite store, the real
 * key admin API — with stub replicas that answer every batch, plus dummy admin read/write
 * routes and a dummy /metrics. Deployments: credit-risk and fraud (private), demo (public).
 * The matrix is printed as a table in the test output.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { ManualClock } from '../../src/clock.js';
import { registerKeyRoutes } from '../../src/control/admin-keys.js';
import { createGateway } from '../../src/gateway/server.js';
import { Authenticator } from '../../src/security/authenticator.js';
import { ensureAdminKey } from '../../src/security/bootstrap.js';
import type { Store } from '../../src/store/db.js';
import { KeyRepository } from '../../src/store/keys.js';
import { testDialects, type TestDatabase } from '../../src/store/testing/databases.js';
import { stubRoutes } from '../helpers/stub-routes.js';

const DEPLOYMENTS = { 'credit-risk': { public: false }, fraud: { public: false }, demo: { public: true } } as const;
const INFER_BODY = JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 2], data: [1, 2] }] });

interface Group {
  name: string;
  requests: { method: 'GET' | 'POST'; url: string; body?: string }[];
}

const GROUPS: Group[] = [
  { name: 'infer private (in scope)', requests: [{ method: 'POST', url: '/v2/models/credit-risk/infer', body: INFER_BODY }] },
  { name: 'infer private (out of scope)', requests: [{ method: 'POST', url: '/v2/models/fraud/infer', body: INFER_BODY }] },
  { name: 'infer public', requests: [{ method: 'POST', url: '/v2/models/demo/infer', body: INFER_BODY }] },
  { name: 'model metadata', requests: [{ method: 'GET', url: '/v2/models/credit-risk' }, { method: 'GET', url: '/v2/models/credit-risk/ready' }] },
  { name: 'server metadata', requests: [{ method: 'GET', url: '/v2' }, { method: 'GET', url: '/v2/models' }] },
  { name: 'health live/ready', requests: [{ method: 'GET', url: '/v2/health/live' }, { method: 'GET', url: '/v2/health/ready' }] },
  { name: 'metrics', requests: [{ method: 'GET', url: '/metrics' }] },
  { name: 'admin read', requests: [{ method: 'GET', url: '/api/v1/deployments' }] },
  { name: 'admin write', requests: [{ method: 'POST', url: '/api/v1/apply', body: '{}' }] },
  { name: 'key management', requests: [{ method: 'GET', url: '/api/v1/keys' }] },
];

type Caller = 'none' | 'invalid key' | 'revoked key' | 'expired key' | 'viewer' | 'predictor (in scope)' | 'predictor (out of scope)' | 'operator' | 'admin';

// Columns in GROUPS order.
const EXPECTED: Record<Caller, number[]> = {
  none: [401, 401, 200, 401, 401, 200, 401, 401, 401, 401],
  'invalid key': [401, 401, 401, 401, 401, 200, 401, 401, 401, 401],
  'revoked key': [401, 401, 401, 401, 401, 200, 401, 401, 401, 401],
  'expired key': [401, 401, 401, 401, 401, 200, 401, 401, 401, 401],
  viewer: [403, 403, 200, 200, 200, 200, 200, 200, 403, 403],
  'predictor (in scope)': [200, 403, 200, 200, 200, 200, 403, 403, 403, 403],
  'predictor (out of scope)': [403, 403, 200, 403, 200, 200, 403, 403, 403, 403],
  operator: [200, 200, 200, 200, 200, 200, 200, 200, 200, 403],
  admin: [200, 200, 200, 200, 200, 200, 200, 200, 200, 200],
};

describe('access matrix', () => {
  const clock = new ManualClock(0, Date.UTC(2026, 0, 1));
  let database: TestDatabase;
  let store: Store;
  let app: ReturnType<typeof createGateway>['app'];
  const tokens = new Map<Caller, string | undefined>();

  before(async () => {
    const [sqlite] = await testDialects();
    database = await sqlite!.create();
    store = await database.open();
    const keys = new KeyRepository(store, { now: () => clock.date() });
    const authenticator = new Authenticator({ keys, clock });
    const routes = stubRoutes(Object.keys(DEPLOYMENTS));
    app = createGateway({
      ...routes, bodyLimit: 1 << 20, clock, info: { name: 'aloft', version: 'test', extensions: [] },
      auth: {
        authenticator,
        policy: { enabled: true, isPublic: (d) => (DEPLOYMENTS as Record<string, { public: boolean }>)[d]?.public === true },
      },
    }).app;
    registerKeyRoutes(app, { keys, authenticator, clock });
    app.get('/api/v1/deployments', () => ({ deployments: routes.routes.deployments.map((d) => d.name) }));
    app.post('/api/v1/apply', () => ({ applied: true }));
    app.get('/metrics', (_req, reply) => reply.header('content-type', 'text/plain').send('aloft_up 1\n'));

    // The admin key as `aloft up` makes it; every other key through the admin API.
    const boot = await ensureAdminKey({ keys, stateDir: database.stateDir, env: {} });
    const admin = (await readFile(boot.file!, 'utf8')).trim();
    await authenticator.load();
    const create = async (body: object): Promise<string> => {
      const r = await app.inject({ method: 'POST', url: '/api/v1/keys', headers: { authorization: `Bearer ${admin}` }, payload: JSON.stringify(body) });
      assert.equal(r.statusCode, 201, r.body);
      return r.json<{ key: string }>().key;
    };
    tokens.set('none', undefined);
    tokens.set('invalid key', `aloft_${'0'.repeat(12)}_${'A'.repeat(43)}`);
    tokens.set('revoked key', await create({ name: 'revoked', role: 'admin' }));
    tokens.set('expired key', await create({ name: 'expired', role: 'admin', expires: '1h' }));
    tokens.set('viewer', await create({ name: 'viewer', role: 'viewer' }));
    tokens.set('predictor (in scope)', await create({ name: 'app', role: 'predictor', scopes: ['credit-*'] }));
    tokens.set('predictor (out of scope)', await create({ name: 'other-app', role: 'predictor', scopes: ['other-*'] }));
    tokens.set('operator', await create({ name: 'ops', role: 'operator' }));
    tokens.set('admin', admin);
    const del = await app.inject({ method: 'DELETE', url: '/api/v1/keys/revoked', headers: { authorization: `Bearer ${admin}` } });
    assert.equal(del.statusCode, 200);
    clock.advance(2 * 3_600_000); // the 1h key has expired
  });

  after(async () => {
    await app?.close();
    await store?.close();
    await database?.cleanup();
  });

  test('every caller × every endpoint group gets the expected status', async (t) => {
    const got = new Map<Caller, number[]>();
    const mismatches: string[] = [];
    for (const [caller, token] of tokens) {
      const row: number[] = [];
      for (const [i, group] of GROUPS.entries()) {
        const statuses = new Set<number>();
        for (const req of group.requests) {
          const r = await app.inject({
            method: req.method,
            url: req.url,
            headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(req.body ? { 'content-type': 'application/json' } : {}) },
            ...(req.body ? { payload: req.body } : {}),
          });
          statuses.add(r.statusCode);
          if (r.statusCode === 401) assert.equal(r.headers['www-authenticate'], 'Bearer realm="aloft"');
          if (r.statusCode >= 400) {
            const error = r.json<{ error: string }>().error;
            assert.equal(typeof error, 'string', 'errors are {"error": "..."}');
            assert.doesNotMatch(error, /revoked'|expired'|exists|unknown key/i, 'the body never says whether a key exists');
          }
        }
        const status = statuses.size === 1 ? [...statuses][0]! : -1;
        row.push(status);
        const want = EXPECTED[caller][i];
        if (status !== want) mismatches.push(`${caller} × ${group.name}: got ${[...statuses].join('/')}, want ${want}`);
      }
      got.set(caller, row);
    }

    const header = ['caller', ...GROUPS.map((g) => g.name)];
    const rows = [...got].map(([caller, statuses]) => [caller, ...statuses.map(String)]);
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ').trimEnd();
    t.diagnostic(line(header));
    t.diagnostic(widths.map((w) => '-'.repeat(w)).join('-|-'));
    for (const r of rows) t.diagnostic(line(r));

    assert.deepEqual(mismatches, []);
  });

  test('401 bodies are identical for unknown, wrong, revoked and expired keys', async () => {
    const bodies = new Set<string>();
    for (const caller of ['invalid key', 'revoked key', 'expired key'] as const) {
      const r = await app.inject({ url: '/v2/models', headers: { authorization: `Bearer ${tokens.get(caller)}` } });
      bodies.add(r.body);
    }
    const admin = tokens.get('admin')!;
    const wrongSecret = `${admin.slice(0, 19)}${'Z'.repeat(43)}`;
    bodies.add((await app.inject({ url: '/v2/models', headers: { authorization: `Bearer ${wrongSecret}` } })).body);
    assert.equal(bodies.size, 1);
  });
});
