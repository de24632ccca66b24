/** Issue 3: a scoped key sees only what its scopes cover, in answers and in error messages. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { request } from 'undici';
import { readFile } from 'node:fs/promises';
import { CREDIT_RISK_MODEL, startProject } from '../helpers/project.js';
import { bearer } from '../helpers/auth.js';

test('a scoped key never learns of deployments outside its scopes', async () => {
  // Scopes match deployment or model names, so the other deployment serves a model of its own.
  const p = await startProject({
    replicas: 1,
    files: { 'other.onnx': await readFile(CREDIT_RISK_MODEL) },
    yaml: 'models: { other: { path: ./other.onnx } }\ndeployments: { secret-model: { model: other, replicas: 1 } }',
  });
  try {
    const created = await request(`${p.url}/api/v1/keys`, { method: 'POST', body: JSON.stringify({ name: 'scoped', role: 'predictor', scopes: ['credit-*'] }) });
    assert.equal(created.statusCode, 201);
    const { key } = await created.body.json() as { key: string };
    const as = (path: string) => request(`${p.url}${path}`, { headers: bearer(key) });

    const list = await as('/v2/models');
    assert.deepEqual(await list.body.json(), { models: ['credit-risk'] });

    // A name inside the scopes that does not exist: 404 with suggestions from the scopes only.
    const typo = await as('/v2/models/credit-rsk');
    const body = await typo.body.json() as { error: string };
    assert.equal(typo.statusCode, 404);
    assert.doesNotMatch(body.error, /secret/, body.error);
    assert.match(body.error, /did you mean 'credit-risk'\?.*served: credit-risk\)/);
    // A name outside the scopes: 403 whether or not it exists, so existence is not revealed.
    const missing = await as('/v2/models/no-such-model');
    assert.equal(missing.statusCode, 403);
    await missing.body.dump();

    const out = await as('/v2/models/secret-model');
    assert.equal(out.statusCode, 403);
    assert.doesNotMatch((await out.body.json() as { error: string }).error, /credit-risk/);

    // The admin (sent by the test helper) sees everything.
    assert.deepEqual(await (await request(`${p.url}/v2/models`)).body.json(), { models: ['credit-risk', 'secret-model'] });
  } finally {
    await p.close();
  }
});

test('issue 17.3 and 17.4: scopes bind the admin API and every listing, for every role', async () => {
  const p = await startProject({
    replicas: 1,
    files: { 'other.onnx': await readFile(CREDIT_RISK_MODEL) },
    yaml: 'models: { other: { path: ./other.onnx } }\ndeployments: { other: { model: other, replicas: 1 } }',
  });
  try {
    const key = async (name: string, role: string, scopes: string[]) => {
      const r = await request(`${p.url}/api/v1/keys`, { method: 'POST', body: JSON.stringify({ name, role, scopes }) });
      assert.equal(r.statusCode, 201);
      return (await r.body.json() as { key: string }).key;
    };
    const outOps = await key('out-ops', 'operator', ['other*']);
    const inOps = await key('in-ops', 'operator', ['credit-*']);
    const outViewer = await key('out-viewer', 'viewer', ['other*']);
    const as = async (k: string, method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: string | Buffer) => {
      const r = await request(`${p.url}${path}`, { method, headers: bearer(k), ...(body !== undefined ? { body } : {}) });
      const text = await r.body.text();
      return { status: r.statusCode, text };
    };
    const onnx = await readFile(CREDIT_RISK_MODEL);
    // 17.3, as the probe did it: an operator scoped other* pushed a version of credit-risk and moved its alias.
    const push = await as(outOps, 'POST', '/api/v1/models/credit-risk/versions', onnx);
    assert.equal(push.status, 403, push.text);
    assert.match(push.text, /model 'credit-risk' is outside the scopes/);
    assert.equal((await as(outOps, 'PUT', '/api/v1/models/credit-risk/aliases/production', '{"version":1}')).status, 403);
    assert.equal((await as(outOps, 'DELETE', '/api/v1/models/credit-risk/aliases/production')).status, 403);
    // … and a viewer scoped other* read every model.
    for (const path of ['/api/v1/models/credit-risk', '/api/v1/models/credit-risk/versions/1']) {
      assert.equal((await as(outViewer, 'GET', path)).status, 403, path);
    }
    assert.deepEqual(JSON.parse((await as(outViewer, 'GET', '/api/v1/models')).text).models.map((m: { name: string }) => m.name), ['other']);
    assert.deepEqual(JSON.parse((await as(outViewer, 'GET', '/api/v1/deployments')).text).deployments.map((d: { name: string }) => d.name), ['other']);
    // In scope, the same calls work.
    assert.equal((await as(inOps, 'PUT', '/api/v1/models/credit-risk/aliases/production', '{"version":1}')).status, 200);
    assert.equal((await as(inOps, 'GET', '/api/v1/models/credit-risk')).status, 200);
    assert.equal((await as(outOps, 'PUT', '/api/v1/models/other/aliases/production', '{"version":1}')).status, 200);
    // The denied calls changed nothing.
    const versions = JSON.parse((await as(p.adminKey, 'GET', '/api/v1/models/credit-risk')).text) as { versions: unknown[] };
    assert.equal(versions.versions.length, 1);

    // 17.4: the listing routes of the protocol show only what the scopes cover.
    const stats = JSON.parse((await as(outViewer, 'GET', '/v2/models/stats')).text) as { model_stats: { name: string }[] };
    assert.deepEqual(stats.model_stats.map((s) => s.name), ['other']);
    const index = JSON.parse((await as(outViewer, 'POST', '/v2/repository/index', '{}')).text) as { name: string }[];
    assert.deepEqual(index.map((m) => m.name), ['other']);
    const all = JSON.parse((await as(p.adminKey, 'POST', '/v2/repository/index', '{}')).text) as { name: string }[];
    assert.deepEqual(all.map((m) => m.name), ['credit-risk', 'other'], 'the admin still sees everything');
  } finally {
    await p.close();
  }
});
