/**
 * Train the credit-risk classifier in plain TypeScript: a logistic regression or a small
 * MLP (features → 16 ReLU → 1 sigmoid), mini-batch Adam on binary cross-entropy, with
 * standardization statistics from the training rows baked into the exported ONNX graph.
 *
 * Deterministic: the same config gives the same weights, bit for bit (float64 arithmetic,
 * seeded data, initialization and shuffling, a fixed order of operations).
 *
 * @example
 *   const result = train(DEFAULT_CONFIGS.mlp);
 *   result.metrics.test.auc;          // ≈ 0.83
 *   writeFileSync('model.onnx', toOnnx(result));
 */
import { mlp, type DenseLayer } from '../../src/onnx/mlp.js';
import { encodeBatch, FEATURE_COUNT, generateApplicants } from './data.js';
import { classifierMetrics, type ClassifierMetrics } from './metrics.js';
import { Random } from './random.js';

export type ModelKind = 'mlp' | 'logreg';

export interface TrainConfig {
  model: ModelKind;
  /** Seeds the training data (seed), test data (seed + 1) and initialization/shuffling (seed + 2). */
  seed: number;
  trainRows: number;
  testRows: number;
  /** Covariate shift of the generated data (0 = training population). */
  shift: number;
  /** Hidden layer widths: [16] for the MLP, [] for logistic regression. */
  hidden: number[];
  epochs: number;
  batchSize: number;
  learningRate: number;
  /** L2 penalty on weights (not biases). */
  l2: number;
}

/** The configurations the committed model.onnx is trained with. */
export const DEFAULT_CONFIGS: Record<ModelKind, TrainConfig> = {
  mlp: {
    model: 'mlp', seed: 42, trainRows: 20000, testRows: 10000, shift: 0, hidden: [16],
    epochs: 8, batchSize: 64, learningRate: 0.002, l2: 1e-3,
  },
  logreg: {
    model: 'logreg', seed: 42, trainRows: 20000, testRows: 10000, shift: 0, hidden: [],
    epochs: 12, batchSize: 64, learningRate: 0.01, l2: 1e-4,
  },
};

export interface Standardization {
  mean: Float32Array;
  std: Float32Array;
}

export interface TrainResult {
  config: TrainConfig;
  /** Trained layers (float32, as exported), applied to standardized features. */
  layers: DenseLayer[];
  standardization: Standardization;
  metrics: { train: ClassifierMetrics; test: ClassifierMetrics };
}

/** Per-column mean and population standard deviation (0 → 1), rounded to float32 as the graph stores them. */
export function standardization(x: Float32Array, rows: number, cols: number): Standardization {
  const mean = new Float64Array(cols);
  const sq = new Float64Array(cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) mean[c]! += x[r * cols + c]!;
  for (let c = 0; c < cols; c++) mean[c]! /= rows;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const d = x[r * cols + c]! - mean[c]!;
      sq[c]! += d * d;
    }
  }
  const std = Float32Array.from(sq, (s) => Math.sqrt(s / rows) || 1);
  return { mean: Float32Array.from(mean), std };
}

interface Layer {
  nIn: number;
  nOut: number;
  w: Float64Array; // [nIn, nOut]
  b: Float64Array;
  // Adam moments
  mw: Float64Array; vw: Float64Array; mb: Float64Array; vb: Float64Array;
}

function makeLayers(sizes: number[], rng: Random): Layer[] {
  const layers: Layer[] = [];
  for (let i = 0; i + 1 < sizes.length; i++) {
    const nIn = sizes[i]!;
    const nOut = sizes[i + 1]!;
    const last = i + 2 === sizes.length;
    const sd = Math.sqrt((last ? 1 : 2) / nIn); // Xavier for the sigmoid output, He for ReLU
    layers.push({
      nIn, nOut,
      w: Float64Array.from({ length: nIn * nOut }, () => rng.normal(0, sd)),
      b: new Float64Array(nOut),
      mw: new Float64Array(nIn * nOut), vw: new Float64Array(nIn * nOut),
      mb: new Float64Array(nOut), vb: new Float64Array(nOut),
    });
  }
  return layers;
}

/** Forward pass for `n` rows; returns each layer's activations (index 0 is the input). */
function forward(layers: Layer[], x: Float64Array, n: number): Float64Array[] {
  const acts = [x];
  let h = x;
  layers.forEach((l, li) => {
    const out = new Float64Array(n * l.nOut);
    for (let r = 0; r < n; r++) {
      for (let o = 0; o < l.nOut; o++) {
        let s = l.b[o]!;
        for (let i = 0; i < l.nIn; i++) s += h[r * l.nIn + i]! * l.w[i * l.nOut + o]!;
        out[r * l.nOut + o] = li < layers.length - 1 ? Math.max(0, s) : 1 / (1 + Math.exp(-s));
      }
    }
    acts.push(out);
    h = out;
  });
  return acts;
}

function adam(p: Float64Array, g: Float64Array, m: Float64Array, v: Float64Array, lr: number, t: number): void {
  const b1 = 0.9;
  const b2 = 0.999;
  const c1 = 1 - b1 ** t;
  const c2 = 1 - b2 ** t;
  for (let i = 0; i < p.length; i++) {
    m[i] = b1 * m[i]! + (1 - b1) * g[i]!;
    v[i] = b2 * v[i]! + (1 - b2) * g[i]! * g[i]!;
    p[i]! -= (lr * (m[i]! / c1)) / (Math.sqrt(v[i]! / c2) + 1e-8);
  }
}

/** One Adam step on a mini-batch (binary cross-entropy on the sigmoid output). */
function step(layers: Layer[], x: Float64Array, y: Float64Array, n: number, cfg: TrainConfig, t: number): void {
  const acts = forward(layers, x, n);
  let delta = new Float64Array(n); // dLoss/dz of the output layer, per row
  const p = acts[acts.length - 1]!;
  for (let r = 0; r < n; r++) delta[r] = (p[r]! - y[r]!) / n;
  for (let li = layers.length - 1; li >= 0; li--) {
    const l = layers[li]!;
    const input = acts[li]!;
    const gw = new Float64Array(l.nIn * l.nOut);
    const gb = new Float64Array(l.nOut);
    for (let r = 0; r < n; r++) {
      for (let o = 0; o < l.nOut; o++) {
        const d = delta[r * l.nOut + o]!;
        gb[o]! += d;
        for (let i = 0; i < l.nIn; i++) gw[i * l.nOut + o]! += input[r * l.nIn + i]! * d;
      }
    }
    for (let i = 0; i < gw.length; i++) gw[i]! += cfg.l2 * l.w[i]!;
    if (li > 0) {
      const prev = new Float64Array(n * l.nIn);
      for (let r = 0; r < n; r++) {
        for (let i = 0; i < l.nIn; i++) {
          if (input[r * l.nIn + i]! <= 0) continue; // ReLU gradient
          let s = 0;
          for (let o = 0; o < l.nOut; o++) s += l.w[i * l.nOut + o]! * delta[r * l.nOut + o]!;
          prev[r * l.nIn + i] = s;
        }
      }
      delta = prev;
    }
    adam(l.w, gw, l.mw, l.vw, cfg.learningRate, t);
    adam(l.b, gb, l.mb, l.vb, cfg.learningRate, t);
  }
}

function standardize(x: Float32Array, rows: number, s: Standardization): Float64Array {
  const cols = s.mean.length;
  const out = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[r * cols + c] = (x[r * cols + c]! - s.mean[c]!) / s.std[c]!;
  return out;
}

/** Probabilities for raw (unstandardized) feature rows, as the exported graph computes them. */
export function predict(model: Pick<TrainResult, 'layers' | 'standardization'>, x: Float32Array, rows: number): Float64Array {
  const layers: Layer[] = model.layers.map((l) => ({
    nIn: l.in, nOut: l.out, w: Float64Array.from(l.weights), b: Float64Array.from(l.bias),
    mw: new Float64Array(0), vw: new Float64Array(0), mb: new Float64Array(0), vb: new Float64Array(0),
  }));
  return forward(layers, standardize(x, rows, model.standardization), rows).at(-1)!;
}

/** Generate data, train, and evaluate on held-out rows. Deterministic for a given config. */
export function train(config: TrainConfig): TrainResult {
  const trainRows = generateApplicants(config.trainRows, { seed: config.seed, shift: config.shift });
  const testRows = generateApplicants(config.testRows, { seed: config.seed + 1, shift: config.shift });
  const xTrain = encodeBatch(trainRows);
  const xTest = encodeBatch(testRows);
  const yTrain = Float64Array.from(trainRows, (r) => r.defaulted);
  const yTest = Float64Array.from(testRows, (r) => r.defaulted);
  const stats = standardization(xTrain, trainRows.length, FEATURE_COUNT);
  const z = standardize(xTrain, trainRows.length, stats);

  const rng = new Random(config.seed + 2);
  const layers = makeLayers([FEATURE_COUNT, ...config.hidden, 1], rng);
  const order = Array.from({ length: trainRows.length }, (_, i) => i);
  const bx = new Float64Array(config.batchSize * FEATURE_COUNT);
  const by = new Float64Array(config.batchSize);
  let t = 0;
  for (let epoch = 0; epoch < config.epochs; epoch++) {
    rng.shuffle(order);
    for (let start = 0; start < order.length; start += config.batchSize) {
      const n = Math.min(config.batchSize, order.length - start);
      for (let k = 0; k < n; k++) {
        const r = order[start + k]!;
        bx.set(z.subarray(r * FEATURE_COUNT, (r + 1) * FEATURE_COUNT), k * FEATURE_COUNT);
        by[k] = yTrain[r]!;
      }
      step(layers, bx, by, n, config, ++t);
    }
  }

  const model = {
    layers: layers.map((l) => ({ weights: Float32Array.from(l.w), bias: Float32Array.from(l.b), in: l.nIn, out: l.nOut })),
    standardization: stats,
  };
  const result: TrainResult = {
    config,
    ...model,
    metrics: {
      train: classifierMetrics(predict(model, xTrain, trainRows.length), yTrain),
      test: classifierMetrics(predict(model, xTest, testRows.length), yTest),
    },
  };
  return result;
}

/** The trained model as ONNX: `features` FP32 [batch, F] → `probability` FP32 [batch, 1]. */
export function toOnnx(result: TrainResult): Uint8Array {
  return mlp(result.layers, {
    name: `credit-risk-${result.config.model}`,
    inputName: 'features',
    outputName: 'probability',
    batchDim: 'batch',
    activation: 'sigmoid',
    standardize: result.standardization,
    producer: 'aloft-example-credit-risk',
    docString: `Credit-risk default probability (${result.config.model}, seed ${result.config.seed}); ` +
      'input: raw applicant features in FEATURE_NAMES order (see model.json).',
  });
}
