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
