import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import onnxProto from 'onnx-proto';
import { GraphBuilder } from './builder.js';
import { mlp, type DenseLayer } from './mlp.js';
import { readModelInfo, readSignature } from './signature.js';
import { isAloftError } from '../errors.js';

const { onnx } = onnxProto;

/** Deterministic pseudo-random values in [-1, 1) for test weights (LCG; quality is irrelevant). */
function values(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  });
}

async function run(bytes: Uint8Array, feeds: Record<string, ort.Tensor>): Promise<ort.InferenceSession.OnnxValueMapType> {
  const session = await ort.InferenceSession.create(bytes);
  try {
    return await session.run(feeds);
  } finally {
    await session.release();
  }
}

function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol = 1e-5): void {
  assert.equal(actual.length, expected.length, 'length');
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    assert.ok(Math.abs(a - e) <= tol * Math.max(1, Math.abs(e)), `element ${i}: ${a} vs ${e}`);
  }
}

// plain-JS reference ops on row-major [rows, cols] matrices
const matmul = (a: ArrayLike<number>, b: ArrayLike<number>, n: number, k: number, m: number): number[] => {
  const out = new Array<number>(n * m).fill(0);
  for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) {
    let s = 0;
    for (let t = 0; t < k; t++) s += a[i * k + t]! * b[t * m + j]!;
    out[i * m + j] = s;
  }
  return out;
};
const sigmoid = (v: number): number => 1 / (1 + Math.exp(-v));
const softmaxRows = (a: readonly number[], cols: number): number[] => {
  const out: number[] = [];
  for (let i = 0; i < a.length; i += cols) {
    const row = a.slice(i, i + cols);
    const mx = Math.max(...row);
    const e = row.map((v) => Math.exp(v - mx));
    const z = e.reduce((p, q) => p + q, 0);
    out.push(...e.map((v) => v / z));
  }
  return out;
};

test('every supported operator runs in ONNX Runtime and matches a JS forward pass', async () => {
  const n = 5;
  const W = values(4 * 3, 1);
  const B = values(3, 2);
  const W2 = values(3 * 4, 3); // [3, 4], used transposed by Gemm
  const C = values(3, 4);
  const X = values(n * 4, 5);

  const g = new GraphBuilder({ name: 'ops', opset: 17, producer: 'aloft-test' });
  const x = g.input('x', 'FP32', ['batch', 4]);
  const a = g.add(g.matmul(x, g.initializer('w', W, [4, 3])), g.initializer('b', B, [3]));
  const gm = g.gemm(x, g.initializer('w2', W2, [3, 4]), g.initializer('c', C, [3]), { alpha: 0.5, beta: 2, transB: true });
  const d = g.div(g.mul(g.sub(a, gm), g.tanh(a)), g.constant(new Float32Array([2]), [1]));
  const cat = g.concat([g.relu(d), g.sigmoid(a), g.identity(g.softmax(a, 1))], 1);
  g.output(g.reshape(cat, [-1, 3, 3]), 'cube', 'FP32', ['batch', 3, 3]);
  const am = g.argmax(a, { axis: 1, keepdims: false });
  g.output(am, 'best', 'INT64', ['batch']);
  g.output(g.cast(am, 'FP32'), 'best_f', 'FP32', ['batch']);
  const bytes = g.toBytes();

  const out = await run(bytes, { x: new ort.Tensor('float32', X, [n, 4]) });

  const aJs = matmul(X, W, n, 4, 3).map((v, i) => v + B[i % 3]!);
  const W2t = Array.from({ length: 12 }, (_, i) => W2[(i % 3) * 4 + Math.floor(i / 3)]!); // [4, 3]
  const gJs = matmul(X, W2t, n, 4, 3).map((v, i) => 0.5 * v + 2 * C[i % 3]!);
  const dJs = aJs.map((v, i) => ((v - gJs[i]!) * Math.tanh(v)) / 2);
  const smJs = softmaxRows(aJs, 3);
  const cube: number[] = [];
  const best: number[] = [];
  for (let r = 0; r < n; r++) {
    for (let c = 0; c < 3; c++) cube.push(Math.max(0, dJs[r * 3 + c]!));
    for (let c = 0; c < 3; c++) cube.push(sigmoid(aJs[r * 3 + c]!));
    for (let c = 0; c < 3; c++) cube.push(smJs[r * 3 + c]!);
    const row = aJs.slice(r * 3, r * 3 + 3);
    best.push(row.indexOf(Math.max(...row)));
  }

  assert.deepEqual(out.cube!.dims, [n, 3, 3]);
  assertClose(out.cube!.data as Float32Array, cube);
  assert.equal(out.best!.type, 'int64');
  assert.deepEqual([...(out.best!.data as BigInt64Array)].map(Number), best);
  assertClose(out.best_f!.data as Float32Array, best);
});

test('node names and value names are unique; initializers are raw little-endian data, not inputs', () => {
  const g = new GraphBuilder({ name: 'names' });
  const x = g.input('x', 'FP32', [-1, 2]);
  const w = g.initializer('w', new Float32Array([1.5, -2, 0.25, 8]), [2, 2]);
  g.output(g.relu(g.add(g.matmul(x, w), g.matmul(x, w))), 'y', 'FP32', [-1, 2]);
  const model = onnx.ModelProto.decode(g.toBytes());
  const graph = model.graph as onnxProto.onnx.GraphProto;
  const nodeNames = graph.node.map((nd) => nd.name);
  assert.equal(new Set(nodeNames).size, nodeNames.length);
  const valueNames = graph.node.flatMap((nd) => nd.output);
  assert.equal(new Set(valueNames).size, valueNames.length);
  assert.ok(valueNames.includes('y'), 'the last node writes the output name directly (no Identity)');
  assert.equal(graph.node.filter((nd) => nd.opType === 'Identity').length, 0);
  assert.deepEqual(graph.input.map((i) => i.name), ['x']);
  const raw = graph.initializer[0]!.rawData!;
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  assert.deepEqual([0, 4, 8, 12].map((o) => dv.getFloat32(o, true)), [1.5, -2, 0.25, 8]);
});

test('outputting a graph input or the same value twice goes through Identity', async () => {
  const g = new GraphBuilder({ name: 'passthrough' });
  const x = g.input('x', 'INT32', ['n']);
  g.output(x, 'same', 'INT32', ['n']);
  const y = g.relu(g.cast(x, 'FP32'));
  g.output(y, 'y1', 'FP32', ['n']);
  g.output(y, 'y2', 'FP32', ['n']);
  const out = await run(g.toBytes(), { x: new ort.Tensor('int32', Int32Array.from([3, -1, 7]), [3]) });
  assert.deepEqual([...(out.same!.data as Int32Array)], [3, -1, 7]);
  assert.deepEqual([...(out.y1!.data as Float32Array)], [3, 0, 7]);
  assert.deepEqual([...(out.y2!.data as Float32Array)], [3, 0, 7]);
});

test('the builder writes the signature and header readSignature and readModelInfo report', () => {
  const g = new GraphBuilder({ name: 'sig', opset: 17, producer: 'aloft', producerVersion: '0.1.0', docString: 'doc' });
  const x = g.input('features', 'FP32', ['batch', 16]);
  g.output(g.sigmoid(x), 'probability', 'FP32', ['batch', 16]);
  const bytes = g.toBytes();
  assert.deepEqual(readSignature(bytes), {
    inputs: [{ name: 'features', datatype: 'FP32', shape: [-1, 16], dimNames: ['batch', null] }],
    outputs: [{ name: 'probability', datatype: 'FP32', shape: [-1, 16], dimNames: ['batch', null] }],
    batchable: true,
  });
  assert.deepEqual(readModelInfo(bytes), {
    irVersion: 8, opsetVersion: 17, producerName: 'aloft', producerVersion: '0.1.0', graphName: 'sig', docString: 'doc',
  });
});

function mlpForward(layers: DenseLayer[], x: Float32Array, n: number, final: 'none' | 'sigmoid' | 'softmax',
  stdz?: { mean: Float32Array; std: Float32Array }): number[] {
  let h: number[] = [...x];
  if (stdz) h = h.map((v, i) => (v - stdz.mean[i % stdz.mean.length]!) / (stdz.std[i % stdz.std.length]! || 1));
  layers.forEach((l, li) => {
    h = matmul(h, l.weights, n, l.in, l.out).map((v, i) => v + l.bias[i % l.out]!);
    if (li < layers.length - 1) h = h.map((v) => Math.max(0, v));
  });
  const outDim = layers[layers.length - 1]!.out;
  if (final === 'sigmoid') return h.map(sigmoid);
  if (final === 'softmax') return softmaxRows(h, outDim);
  return h;
}

test('mlp() with baked-in standardization matches a JS forward pass for each final activation', async () => {
  const layers: DenseLayer[] = [
    { weights: values(6 * 8, 11), bias: values(8, 12), in: 6, out: 8 },
    { weights: values(8 * 5, 13), bias: values(5, 14), in: 8, out: 5 },
    { weights: values(5 * 3, 15), bias: values(3, 16), in: 5, out: 3 },
  ];
  const n = 7;
  const raw = values(n * 6, 17).map((v, i) => v * 1000 + (i % 6) * 50); // raw-scale features
  const mean = Float32Array.from([0, 50, 100, 150, 200, 250]);
  const std = Float32Array.from([500, 400, 0, 600, 700, 800]); // a zero std is treated as 1
  for (const activation of ['none', 'sigmoid', 'softmax'] as const) {
    const bytes = mlp(layers, { activation, standardize: { mean, std }, outputName: 'y' });
    const out = await run(bytes, { features: new ort.Tensor('float32', raw, [n, 6]) });
    assert.deepEqual(out.y!.dims, [n, 3]);
    assertClose(out.y!.data as Float32Array, mlpForward(layers, raw, n, activation, { mean, std }));
  }
  const plain = mlp(layers.slice(0, 1), {});
  assert.deepEqual(readSignature(plain).outputs, [{ name: 'output', datatype: 'FP32', shape: [-1, 8], dimNames: ['batch', null] }]);
});

test('builder misuse is reported with ALOFT_MODEL_INVALID', () => {
  const isInvalid = (re: RegExp) => (e: unknown): boolean => isAloftError(e) && e.code === 'ALOFT_MODEL_INVALID' && re.test(e.message);
  const g = new GraphBuilder({ name: 'bad' });
  g.input('x', 'FP32', [-1, 2]);
  assert.throws(() => g.input('x', 'FP32', [2]), isInvalid(/'x' is already used/));
  assert.throws(() => g.initializer('w', new Float32Array(3), [2, 2]), isInvalid(/hold 4 elements but the data has 3/));
  assert.throws(() => g.input('z', 'FP32', [-2]), isInvalid(/dimension -2/));
  assert.throws(() => g.toBytes(), isInvalid(/no outputs/));
  assert.throws(() => mlp([{ weights: new Float32Array(4), bias: new Float32Array(2), in: 2, out: 2 },
    { weights: new Float32Array(3), bias: new Float32Array(1), in: 3, out: 1 }]), isInvalid(/layer 1 takes 3 inputs but layer 0 gives 2/));
});
