import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { buildMnistMlp } from './mnist.js';
import { readSignature } from '../../src/onnx/signature.js';

test('buildMnistMlp is deterministic per seed', () => {
  const a = buildMnistMlp(1);
  assert.deepEqual(buildMnistMlp(1), a);
  assert.notDeepEqual(buildMnistMlp(2), a);
  assert.ok(a.byteLength > (784 * 256 + 256 * 128 + 128 * 10) * 4, 'weights are stored');
});

test('the MNIST MLP has the documented signature and returns probability rows', async () => {
  const bytes = buildMnistMlp();
  assert.deepEqual(readSignature(bytes), {
    inputs: [{ name: 'input', datatype: 'FP32', shape: [-1, 784], dimNames: ['batch', null] }],
    outputs: [{ name: 'probabilities', datatype: 'FP32', shape: [-1, 10], dimNames: ['batch', null] }],
    batchable: true,
  });
  const session = await ort.InferenceSession.create(bytes);
  try {
    const n = 3;
    const x = Float32Array.from({ length: n * 784 }, (_, i) => ((i * 7919) % 256) / 255);
    const out = await session.run({ input: new ort.Tensor('float32', x, [n, 784]) });
    const p = out.probabilities!;
    assert.deepEqual(p.dims, [n, 10]);
    const data = p.data as Float32Array;
    for (let r = 0; r < n; r++) {
      const row = data.subarray(r * 10, r * 10 + 10);
      assert.ok(row.every((v) => v >= 0 && v <= 1));
      assert.ok(Math.abs(row.reduce((s, v) => s + v, 0) - 1) < 1e-5);
    }
  } finally {
    await session.release();
  }
});
