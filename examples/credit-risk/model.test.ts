import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { readSignature } from '../../src/onnx/signature.js';
import { encodeBatch, FEATURE_COUNT, FEATURE_NAMES, generateApplicants } from './data.js';
import { inferRequest } from './infer-request.js';
import { classifierMetrics } from './metrics.js';
import { DEFAULT_CONFIGS, predict, toOnnx, train, type TrainConfig } from './trainer.js';

const here = (f: string): URL => new URL(f, import.meta.url);
const modelBytes = readFileSync(here('model.onnx'));
const metadata = JSON.parse(readFileSync(here('model.json'), 'utf8')) as {
  model: string; features: string[]; config: TrainConfig; sha256: string;
  input: unknown; output: unknown; metrics: { test: { auc: number; accuracy: number } };
};

async function score(bytes: Uint8Array, x: Float32Array, rows: number): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(bytes);
  try {
    const out = await session.run({ features: new ort.Tensor('float32', x, [rows, FEATURE_COUNT]) });
    assert.deepEqual(out.probability!.dims, [rows, 1]);
    return out.probability!.data as Float32Array;
  } finally {
    await session.release();
  }
}

test('a small training run reaches a test AUC above 0.75, for both model kinds', () => {
  for (const kind of ['mlp', 'logreg'] as const) {
    const r = train({ ...DEFAULT_CONFIGS[kind], trainRows: 4000, testRows: 2000, epochs: 4 });
    assert.ok(r.metrics.test.auc > 0.75, `${kind} test AUC ${r.metrics.test.auc}`);
    assert.ok(r.metrics.test.accuracy > 0.8, `${kind} test accuracy ${r.metrics.test.accuracy}`);
  }
});

test('the exported graph computes what the trainer computes (standardization baked in)', async () => {
  const r = train({ ...DEFAULT_CONFIGS.mlp, trainRows: 2000, testRows: 100, epochs: 2 });
  const rows = generateApplicants(50, { seed: 99, shift: 1 });
  const x = encodeBatch(rows);
  const onnx = await score(toOnnx(r), x, rows.length);
  const js = predict(r, x, rows.length);
  for (let i = 0; i < rows.length; i++) assert.ok(Math.abs(onnx[i]! - js[i]!) < 1e-5, `row ${i}: ${onnx[i]} vs ${js[i]}`);
});

test('the committed model.onnx loads and has the documented signature', () => {
  assert.equal(createHash('sha256').update(modelBytes).digest('hex'), metadata.sha256, 'model.json describes model.onnx');
  const sig = readSignature(modelBytes);
  assert.deepEqual(sig, {
    inputs: [{ name: 'features', datatype: 'FP32', shape: [-1, FEATURE_COUNT], dimNames: ['batch', null] }],
    outputs: [{ name: 'probability', datatype: 'FP32', shape: [-1, 1], dimNames: ['batch', null] }],
    batchable: true,
  });
  assert.deepEqual(metadata.input, sig.inputs[0]);
  assert.deepEqual(metadata.output, sig.outputs[0]);
  assert.deepEqual(metadata.features, FEATURE_NAMES);
});

test('the committed model scores held-out rows as model.json reports', async () => {
  const cfg = metadata.config;
  const rows = generateApplicants(cfg.testRows, { seed: cfg.seed + 1, shift: cfg.shift });
  const p = await score(modelBytes, encodeBatch(rows), rows.length);
  const m = classifierMetrics(p, rows.map((r) => r.defaulted));
  assert.ok(Math.abs(m.auc - metadata.metrics.test.auc) < 1e-3, `AUC ${m.auc} vs ${metadata.metrics.test.auc}`);
  assert.ok(Math.abs(m.accuracy - metadata.metrics.test.accuracy) < 1e-3);
});

test('re-training with the committed config reproduces the committed model', async () => {
  assert.equal(metadata.model, 'mlp');
  assert.deepEqual(metadata.config, DEFAULT_CONFIGS.mlp, 'model.json records the default config');
  const retrained = toOnnx(train(metadata.config));
  const rows = generateApplicants(64, { seed: 2024, shift: 0.5 });
  const x = encodeBatch(rows);
  const [a, b] = [await score(modelBytes, x, rows.length), await score(retrained, x, rows.length)];
  for (let i = 0; i < rows.length; i++) assert.ok(Math.abs(a[i]! - b[i]!) <= 1e-5, `row ${i}: ${a[i]} vs ${b[i]}`);
});

test('the committed request.json is what request.ts prints for --rows 3 --seed 7 --shift 0', () => {
  const committed = JSON.parse(readFileSync(here('request.json'), 'utf8')) as unknown;
  assert.deepEqual(committed, inferRequest(generateApplicants(3, { seed: 7, shift: 0 })));
});

test('the README curl example carries the first row of seed 7, and the README states F', () => {
  const readme = readFileSync(here('README.md'), 'utf8');
  assert.ok(readme.includes(JSON.stringify(inferRequest(generateApplicants(1, { seed: 7 })))), 'README curl body is current');
  assert.ok(readme.includes(`\`features\` FP32 \`[batch, ${FEATURE_COUNT}]\``));
});
