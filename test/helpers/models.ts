/**
 * Credit-risk-shaped models for tests that change versions: `features` FP32 [-1,22] →
 * `probability` FP32 [-1,1], seeded, far from saturation, so two seeds give clearly
 * different answers for ROW; and ONNX Runtime's own answer for a file, to compare with.
 */
import * as ort from 'onnxruntime-node';
import { GraphBuilder } from '../../src/onnx/builder.js';
import { mlp } from '../../src/onnx/mlp.js';
import { FEATURES, ROW } from './credit-risk.js';

const DEPLOYMENT = 'credit-risk';

export function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/**
 * A 22 → 8 → 1 sigmoid MLP. Input weights are scaled by 1/(|ROW[i]|+1) (≈ 1e-5 for 56300),
 * so hidden units stay near ±1 and the sigmoid is far from saturation: two seeds give
 * clearly different probabilities for ROW.
 */
export function creditModel(seed: number): Uint8Array {
  const r = random(seed);
  const hidden = 8;
  const w1 = new Float32Array(FEATURES * hidden);
  for (let i = 0; i < FEATURES; i++) {
    for (let j = 0; j < hidden; j++) w1[i * hidden + j] = ((r() * 2 - 1) / (Math.abs(ROW[i]!) + 1)) * 0.5;
  }
  const b1 = Float32Array.from({ length: hidden }, () => r() * 0.2);
  const w2 = Float32Array.from({ length: hidden }, () => r() * 2 - 1);
  const b2 = Float32Array.from([r() * 0.2 - 0.1]);
  return mlp([{ in: FEATURES, out: hidden, weights: w1, bias: b1 }, { in: hidden, out: 1, weights: w2, bias: b2 }], {
    inputName: 'features', outputName: 'probability', activation: 'sigmoid', name: `credit-${seed}`,
  });
}

/** ONNX Runtime's answer for ROW, straight from the file. */
export async function reference(path: string): Promise<number> {
  const session = await ort.InferenceSession.create(path);
  try {
    const out = await session.run({ features: new ort.Tensor('float32', Float32Array.from(ROW), [1, FEATURES]) });
    return (out.probability!.data as Float32Array)[0]!;
  } finally {
    await session.release();
  }
}

export function specText(modelFile: string, replicas: number): string {
  return [
    'models:',
    `  ${DEPLOYMENT}:`,
    `    path: ./${modelFile}`,
    'deployments:',
    `  ${DEPLOYMENT}:`,
    `    model: ${DEPLOYMENT}`,
    `    replicas: ${replicas}`,
    '',
  ].join('\n');
}

/**
 * credit-risk's signature, slow: one shared `width`×`width` tanh layer applied `depth`
 * times (a small file however slow: the weights are stored once). About width² × depth
 * multiply-adds a row.
 */
export function slowCreditModel(depth: number, width = 256): Uint8Array {
  const r = random(4242);
  const uniform = (n: number, scale: number) => Float32Array.from({ length: n }, () => (r() * 2 - 1) * scale);
  const g = new GraphBuilder({ name: 'credit-slow' });
  const x = g.input('features', 'FP32', ['batch', FEATURES]);
  const w0 = g.initializer('w0', Float32Array.from({ length: FEATURES * width }, (_, i) => (r() * 2 - 1) / (Math.abs(ROW[Math.floor(i / width)]!) + 1)), [FEATURES, width]);
  const w = g.initializer('w', uniform(width * width, Math.sqrt(3 / width)), [width, width]);
  const b = g.initializer('b', new Float32Array(width).fill(0.01), [width]);
  const out = g.initializer('wout', uniform(width, 1 / Math.sqrt(width)), [width, 1]);
  let h = g.tanh(g.add(g.matmul(x, w0), b));
  for (let i = 0; i < depth; i++) h = g.tanh(g.add(g.matmul(h, w), b));
  g.output(g.sigmoid(g.matmul(h, out)), 'probability', 'FP32', ['batch', 1]);
  return g.toBytes();
}
