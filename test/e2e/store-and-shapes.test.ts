/**
 * Issue 2: the same system on PostgreSQL (ALOFT_DATABASE_URL), and a model whose first
 * dimension is fixed (no batch dimension) served one request per run.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { request } from 'undici';
import { GraphBuilder } from '../../src/onnx/builder.js';
import { testDialects } from '../../src/store/testing/databases.js';
import { startProject } from '../helpers/project.js';

test('aloft runs with its state in PostgreSQL', async (t) => {
  const pg = (await testDialects()).find((d) => d.name === 'postgres')!;
  if (pg.skip) return t.skip(pg.skip);
  const db = await pg.create();
  const p = await startProject({ replicas: 1, start: { databaseUrl: db.url } });
  try {
    assert.equal(p.aloft.store.dialect, 'postgres');
    const res = await request(`${p.url}/api/v1/models/credit-risk`);
    const body = await res.body.json() as { versions: { version: number; sha256: string }[] };
    assert.equal(res.statusCode, 200);
    assert.equal(body.versions.length, 1);
    // The version row is in PostgreSQL, not in a SQLite file.
    const rows = await p.aloft.store.db.selectFrom('model_versions').select(['model', 'version', 'sha256']).execute();
    assert.deepEqual(rows.map((r) => [r.model, r.version]), [['credit-risk', 1]]);
  } finally {
    await p.close();
    await db.cleanup();
  }
});

/** y = x · W with x fixed at [1, 4]: dimension 0 is not a batch dimension. */
function fixedModel(): Uint8Array {
  const g = new GraphBuilder({ name: 'fixed' });
  const x = g.input('x', 'FP32', [1, 4]);
  const w = g.initializer('w', Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8]), [4, 2]);
  g.output(g.matmul(x, w), 'y', 'FP32', [1, 2]);
  return g.toBytes();
}

test('a model without a batch dimension is served unbatched, each answer its own', async () => {
  const bytes = fixedModel();
  const p = await startProject({
    replicas: 1,
    files: { 'fixed.onnx': bytes },
    yaml: 'models: { fixed: { path: ./fixed.onnx } }\ndeployments: { fixed: { model: fixed, replicas: 1 } }',
  });
  try {
    const meta = await (await request(`${p.url}/v2/models/fixed`)).body.json() as { parameters: { batchable: boolean }; inputs: { shape: number[] }[] };
    assert.equal(meta.parameters.batchable, false);
    assert.deepEqual(meta.inputs[0]!.shape, [1, 4]);
    const session = await ort.InferenceSession.create(bytes);
    const inputs = Array.from({ length: 30 }, (_, i) => [i, i + 1, -i, 0.5 * i]);
    const answers = await Promise.all(inputs.map(async (x) => {
      const res = await request(`${p.url}/v2/models/fixed/infer`, { method: 'POST', body: JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 4], data: x }] }) });
      return { status: res.statusCode, body: await res.body.json() as { outputs: { shape: number[]; data: number[] }[] } };
    }));
    for (let i = 0; i < inputs.length; i++) {
      assert.equal(answers[i]!.status, 200);
      const expected = (await session.run({ x: new ort.Tensor('float32', Float32Array.from(inputs[i]!), [1, 4]) })).y!.data as Float32Array;
      assert.deepEqual(answers[i]!.body.outputs[0]!.shape, [1, 2]);
      answers[i]!.body.outputs[0]!.data.forEach((v, k) => assert.ok(Math.abs(v - expected[k]!) < 1e-5));
    }
    const stats = await (await request(`${p.url}/v2/models/fixed/stats`)).body.json() as { model_stats: { execution_count: number; inference_count: number; batch_stats: { batch_size: number }[] }[] };
    const s = stats.model_stats[0]!;
    assert.equal(s.inference_count, 30);
    assert.equal(s.execution_count, 30, 'one run per request');
    assert.deepEqual(s.batch_stats.map((b) => b.batch_size), [1]);
    // Two rows do not fit the fixed dimension.
    const two = await request(`${p.url}/v2/models/fixed/infer`, { method: 'POST', body: JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [2, 4], data: Array(8).fill(1) }] }) });
    assert.equal(two.statusCode, 400);
    assert.match((await two.body.json() as { error: string }).error, /dimension 0 of input 'x' is 2; the model expects 1/);
    await session.release();
  } finally {
    await p.close();
  }
});
